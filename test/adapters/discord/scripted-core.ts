// A small BotCore for adapter tests while they need to script exactly what the core says (the adapter is what is
// under test here). It uses the real command definitions; each test decides what `dispatch` does.
import { commands } from '../../../commands/index.ts';
import { doneButtons } from '../../../src/core/button-id.ts';
import type {
  BotCore,
  BotInput,
  CoreEvents,
  CoreServices,
  JobCard,
  JobSurface,
  ModelInfo,
  PngImage,
  ProgressView,
  Reply,
} from '../../../src/core/types.ts';

export class ScriptedCore implements BotCore {
  readonly commands = commands.map((c) => c.data);
  readonly model = { name: 'test', width: 64, height: 64 } as ModelInfo;
  readonly services = {} as CoreServices;
  readonly inputs: BotInput[] = [];
  surface: JobSurface | undefined;
  onDispatch: (input: BotInput, reply: Reply) => Promise<void> = async () => {};

  isEphemeral(input: BotInput): boolean {
    if (input.type === 'button') return input.customId.endsWith(':x');
    return this.commands.find((c) => c.name === input.name)?.ephemeral ?? true;
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

export function card(jobId: string, ownerId: string, prompt = 'a red fox'): JobCard {
  return { jobId, ownerId, kind: 'imagine', prompt, flags: '--seed 1 --steps 4' };
}

export const views = {
  queued: (job: JobCard, position: number): ProgressView => ({ job, title: job.prompt, status: `Queued: #${position}, about 10 s`, state: 'queued', position, etaMs: 10_000 }),
  running: (job: JobCard, step: number, total: number, preview?: PngImage): ProgressView => ({
    job, title: job.prompt, status: `Step ${step}/${total}`, state: 'running', step, totalSteps: total, etaMs: 1000, preview,
  }),
  done: (job: JobCard, image: PngImage, upscaled = false): ProgressView => ({
    job, title: job.prompt, status: 'Done in 2 s', state: 'done', image, imageCount: upscaled ? 1 : 4, seeds: [1, 2, 3, 4], warnings: [],
    buttons: doneButtons(job.jobId, 4, upscaled), durationMs: 2000,
  }),
};
