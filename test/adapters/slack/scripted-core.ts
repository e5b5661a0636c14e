// A small BotCore for the adapter tests that must script exactly what the core says (the adapter is what is under
// test). It uses the real command definitions; each test decides what `dispatch` does.
import { commands } from '../../../commands/index.ts';
import type { BotCore, BotInput, CoreEvents, CoreServices, JobCard, JobSurface, ModelInfo, PngImage, ProgressView, Reply } from '../../../src/core/types.ts';

export class ScriptedCore implements BotCore {
  readonly commands = commands.map((c) => c.data);
  readonly model = { name: 'test', width: 64, height: 64 } as ModelInfo;
  readonly services = {} as CoreServices;
  readonly inputs: BotInput[] = [];
  surface: JobSurface | undefined;
  onDispatch: (input: BotInput, reply: Reply) => Promise<void> = async () => {};

  isEphemeral(input: BotInput): boolean {
    return input.type === 'command' && (this.commands.find((c) => c.name === input.name)?.ephemeral ?? true);
  }
  async dispatch(input: BotInput, reply: Reply): Promise<void> {
    this.inputs.push(input);
    try {
      await this.onDispatch(input, reply);
    } catch (error) {
      await reply.ephemeral({ text: String(error), tone: 'error' });
    }
  }
  attachSurface(surface: JobSurface): void {
    this.surface = surface;
  }
  detachSurface(): void {
    this.surface = undefined;
  }
  on<E extends keyof CoreEvents>(_e: E, _l: (...args: CoreEvents[E]) => void): void {}
  off<E extends keyof CoreEvents>(_e: E, _l: (...args: CoreEvents[E]) => void): void {}
}

export const card = (jobId: string, ownerId: string, prompt = 'a red fox'): JobCard => ({ jobId, ownerId, kind: 'imagine', prompt, flags: '--seed 1 --steps 4' });

export const views = {
  queued: (job: JobCard, position: number): ProgressView => ({ job, title: job.prompt, status: `Queued: #${position}`, state: 'queued', position, etaMs: 10_000 }),
  running: (job: JobCard, step: number, total: number, preview?: PngImage): ProgressView => ({
    job,
    title: job.prompt,
    status: `Step ${step}/${total}`,
    state: 'running',
    step,
    totalSteps: total,
    etaMs: 1000,
    preview,
  }),
};
