// A core on a FakeEngine and a real SQLite file in a temp folder, with recording Reply and JobSurface fakes that
// behave like an adapter (they keep every message and every edit).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { commands, handleButton, isEphemeralAction } from '../../commands/index.ts';
import { defaultConfig } from '../../config/defaults.ts';
import { type CoreConfig, createCore } from '../../src/core/create-core.ts';
import { FakeEngine, type FakeEngineOptions } from '../../src/core/fake-engine.ts';
import { openJobStore } from '../../src/core/job-store.ts';
import { createLogger } from '../../src/core/logger.ts';
import type { Actor, JobSurface, MessageRef, MessageView, Platform, ProgressView, Reply } from '../../src/core/types.ts';

export interface Message {
  readonly ref: MessageRef;
  readonly views: ProgressView[];
}

/** Records every job message and edit, like a chat channel. */
export class RecordingSurface implements JobSurface {
  readonly messages = new Map<string, Message>();
  #next = 1;
  constructor(
    readonly platform: Platform = 'web',
    readonly minEditIntervalMs = 0,
  ) {}
  create(channelId: string, view: ProgressView): MessageRef {
    const ref: MessageRef = { platform: this.platform, channelId, messageId: `m${this.#next++}` };
    this.messages.set(ref.messageId!, { ref, views: [view] });
    return ref;
  }
  async editJobMessage(ref: MessageRef, view: ProgressView): Promise<void> {
    const message = this.messages.get(ref.messageId!);
    if (!message) throw new Error(`no message ${ref.messageId}`);
    message.views.push(view);
  }
  async postJobMessage(target: { guildId: string; channelId: string }, view: ProgressView): Promise<MessageRef> {
    return this.create(target.channelId, view);
  }
  /** The message of a job, by the job id in its views. */
  messageOf(jobId: string): Message | undefined {
    return [...this.messages.values()].find((m) => m.views[0].job.jobId === jobId);
  }
}

export class RecordingReply implements Reply {
  readonly calls: string[] = [];
  readonly ephemerals: MessageView[] = [];
  refs: MessageRef[] = [];
  constructor(
    readonly surface: RecordingSurface,
    readonly channelId = 'c1',
  ) {}
  async acknowledge(options: { ephemeral: boolean }): Promise<void> {
    this.calls.push(`ack:${options.ephemeral ? 'ephemeral' : 'public'}`);
  }
  async ephemeral(message: MessageView): Promise<void> {
    this.calls.push('ephemeral');
    this.ephemerals.push(message);
  }
  async postJobMessage(view: ProgressView): Promise<MessageRef> {
    this.calls.push('post');
    const ref = this.surface.create(this.channelId, view);
    this.refs.push(ref);
    return ref;
  }
  get lastText(): string | undefined {
    return this.ephemerals.at(-1)?.text;
  }
}

export function actor(userId: string, guildId = 'g1', extra: Partial<Actor> = {}): Actor {
  return { platform: 'web', guildId, channelId: 'c1', userId, isAdmin: false, roles: [], ...extra };
}

/** Collects pino lines in memory. */
export function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ level: 'debug', destination: stream }), lines };
}

export interface HarnessOptions {
  readonly config?: Partial<CoreConfig>;
  readonly engine?: FakeEngineOptions;
  readonly dataDir?: string;
  readonly minEditIntervalMs?: number;
  readonly previewEvery?: number;
}

export async function harness(options: HarnessOptions = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'imagine-core-'));
  const engine = new FakeEngine(options.engine);
  const store = openJobStore({ dataDir });
  const { log, lines } = memoryLog();
  const core = createCore({
    config: { ...defaultConfig, ...options.config },
    engine,
    store,
    log,
    commands,
    buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
    ...(options.previewEvery !== undefined && { previewEvery: options.previewEvery }),
  });
  const surface = new RecordingSurface('web', options.minEditIntervalMs ?? 0);
  core.bot.attachSurface(surface);
  await core.start();

  async function imagine(who: Actor, prompt: string, extra: Record<string, string | number | boolean> = {}) {
    const reply = new RecordingReply(surface, who.channelId);
    await core.bot.dispatch({ type: 'command', actor: who, name: 'imagine', options: { prompt, ...extra } }, reply);
    const view = reply.refs[0] && surface.messages.get(reply.refs[0].messageId!)!.views[0];
    return { reply, jobId: view?.job.jobId };
  }
  async function command(who: Actor, name: string, opts: Record<string, string | number | boolean> = {}) {
    const reply = new RecordingReply(surface, who.channelId);
    await core.bot.dispatch({ type: 'command', actor: who, name, options: opts }, reply);
    return reply;
  }
  async function press(who: Actor, customId: string) {
    const reply = new RecordingReply(surface, who.channelId);
    await core.bot.dispatch({ type: 'button', actor: who, customId }, reply);
    const view = reply.refs[0] && surface.messages.get(reply.refs[0].messageId!)!.views[0];
    return { reply, jobId: view?.job.jobId };
  }
  /** Wait until every listed job has a final view delivered. */
  async function settle(...jobIds: string[]) {
    const deadline = Date.now() + 10_000;
    for (const id of jobIds) {
      for (;;) {
        const job = await store.getJob(id);
        if (job && (job.status === 'done' || job.status === 'failed' || job.status === 'cancelled')) break;
        if (Date.now() > deadline) throw new Error(`job ${id} did not finish (status ${job?.status})`);
        await new Promise((r) => setTimeout(r, 5));
      }
      await core.hub.settled(id);
    }
  }
  return { core, engine, store, surface, lines, dataDir, imagine, command, press, settle, close: () => core.close() };
}
