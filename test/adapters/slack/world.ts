// The real stack for scenario tests: the engine on a model, the real core (SQLite job store in a temp folder), and
// the real Slack adapter on the fake Slack. `restart()` replaces core and adapter as a process restart would.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { commands, handleButton, isEphemeralAction } from '../../../commands/index.ts';
import { defaultConfig } from '../../../config/defaults.ts';
import { createEngine, type Engine, type GenerateOptions, type GenerateResult } from '../../../engine/index.ts';
import { createCore, type Core, type CoreConfig } from '../../../src/core/create-core.ts';
import { openJobStore } from '../../../src/core/job-store.ts';
import { createLogger } from '../../../src/core/logger.ts';
import type { SlackAdapterOptions } from '../../../src/adapters/slack/index.ts';
import { slackRateLimits, type FakeSlackOptions } from '../../fakes/slack/fake-slack.ts';
import type { FakeMessage } from '../../fakes/slack/state.ts';
import { startSlackHarness, type SlackHarness } from './harness.ts';

/**
 * The tiny fixture (plumbing, not pictures): its jobs take well under a second, which keeps these scenarios fast.
 * `IMAGINE_TEST_MODEL_DIR` runs them on another model folder, e.g. the embedded one in models/.
 */
export const modelDir = process.env.IMAGINE_TEST_MODEL_DIR ?? resolve(import.meta.dirname, '../../fixtures/models/tiny-sd');

export async function startEngine(): Promise<Engine> {
  return createEngine({ modelDir, intraOpNumThreads: 1 });
}

/**
 * The real engine behind a gate the test can close: while held, a job that starts waits before generating, so the
 * queue behind it fills up deterministically on a busy machine. Generation itself is untouched.
 */
export class GatedEngine implements Engine {
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  /** Jobs that reached the gate. */
  started = 0;
  constructor(readonly engine: Engine) {}
  get info() {
    return this.engine.info;
  }
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open();
  }
  async generate(options: GenerateOptions): Promise<GenerateResult> {
    this.started++;
    await this.#gate;
    return this.engine.generate(options);
  }
  close(): Promise<void> {
    return this.engine.close();
  }
}

export function newCore(engine: Engine, dataDir: string, config: Partial<CoreConfig> = {}): Core {
  return createCore({
    config: { ...defaultConfig, ...config },
    engine,
    store: openJobStore({ dataDir }),
    log: createLogger({ level: 'silent' }),
    commands,
    buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
  });
}

/** Slack's tiers × 12, matching the adapter's scaled-down cadence, so a hot loop still shows up as a 429. */
const scaledLimits = Object.fromEntries(Object.entries(slackRateLimits).map(([m, n]) => [m, n * 12]));

export interface World {
  core: Core;
  engine: GatedEngine;
  h: SlackHarness;
  dataDir: string;
  /**
   * A process restart: adapter and core stop, a new core opens the same store, a new adapter connects. `settle`:
   * jobs whose final view must reach Slack before the adapter stops (the drained running job).
   */
  restart(settle?: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(
  engine: Engine,
  o: { mode?: 'socket' | 'http'; adapter?: Partial<SlackAdapterOptions>; fake?: FakeSlackOptions; config?: Partial<CoreConfig> } = {},
): Promise<World> {
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-slack-'));
  const gated = new GatedEngine(engine);
  const core = newCore(gated, dataDir, o.config);
  // Jobs on the tiny model take well under a second, so the intervals are scaled down (production: 3 s and 9 s).
  const h = await startSlackHarness(core.bot, { mode: o.mode, adapter: { minEditIntervalMs: 100, previewIntervalMs: 300, editsPerMinute: 600, ...o.adapter },
    fake: { rateLimits: scaledLimits, ...o.fake },
  });
  await core.start();
  const w: World = {
    core,
    engine: gated,
    h,
    dataDir,
    async restart(settle = []) {
      // The order of src/shutdown.ts: drain the running job, then stop the adapter, then close the store.
      await w.core.dispatcher.close();
      await Promise.all(settle.map((id) => w.core.hub.settled(id)));
      await w.h.adapter.stop();
      await w.core.close();
      w.core = newCore(gated, dataDir, o.config);
      await w.h.restart(w.core.bot);
      await w.core.start();
    },
    async close() {
      await w.h.close();
      await w.core.close();
    },
  };
  return w;
}

const JOB_IN_CONTEXT = /`([0-9a-hjkmnp-tv-z]{6,12})`/;

/** The job id a progress message shows in its context line. */
export function jobIdOf(message: FakeMessage): string | undefined {
  for (const b of (message.blocks ?? []) as { type: string; elements?: { text?: string }[] }[]) {
    if (b.type !== 'context') continue;
    const m = JOB_IN_CONTEXT.exec(b.elements?.[0]?.text ?? '');
    if (m) return m[1];
  }
  return undefined;
}

/** Waits for the channel message of `jobId` to reach a final state; returns it. */
export async function finalMessage(w: World, channel: string, jobId: string, timeoutMs = 20_000): Promise<FakeMessage> {
  return w.h.fake.waitFor(
    () => w.h.fake.channelMessages(channel).find((m) => jobIdOf(m) === jobId && /^(Done|Failed|Cancelled)/.test(statusOf(m))),
    timeoutMs,
    `job ${jobId} to finish`,
  );
}

/** The status part of the message's context line (`Done in 1 s · job …`, `Step 3/20`, …). */
export function statusOf(message: FakeMessage): string {
  const text = ((message.blocks ?? []) as { type: string; elements?: { text?: string }[] }[]).find((b) => b.type === 'context')?.elements?.[0]?.text ?? '';
  return text.split(' · ')[1] ?? '';
}

/** Sends a slash command and waits for the job message it creates; returns its job id. */
export async function imagine(w: World, text: string, who: { userId?: string; teamId?: string; channelId?: string } = {}): Promise<string> {
  const channel = who.channelId ?? 'C0000000A';
  const before = new Set(w.h.fake.channelMessages(channel).map((m) => m.ts));
  const ack = await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text, ...who, channelId: channel }));
  if (!ack) throw new Error('the /imagine command was not acked');
  const message = await w.h.fake.waitFor(() => w.h.fake.channelMessages(channel).find((m) => !before.has(m.ts)), 10_000, `the job message of "${text}"`);
  return jobIdOf(message)!;
}
