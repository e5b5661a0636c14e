// The real thing for scenario tests: the real engine on a model folder, the real core and commands on a SQLite store
// in a temp folder, and the Discord adapter (real discord.js client) against the fake Discord.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, handleButton, isEphemeralAction } from '../../../commands/index.ts';
import { defaultConfig } from '../../../config/defaults.ts';
import { createEngine, defaultModelDir } from '../../../engine/index.ts';
import type { Engine } from '../../../engine/types.ts';
import { createDiscordAdapter, type DiscordAdapter } from '../../../src/adapters/discord/index.ts';
import { type Core, type CoreConfig, createCore } from '../../../src/core/create-core.ts';
import { openJobStore } from '../../../src/core/job-store.ts';
import { createLogger } from '../../../src/core/logger.ts';
import { createMetrics } from '../../../src/core/metrics.ts';
import { FakeDiscord } from '../../fakes/discord/fake-discord.ts';

export const fixtureModel = join(import.meta.dirname, '../../fixtures/models/tiny-sd');
/** The embedded model when it has landed, else the tiny fixture (same layout, random weights, milliseconds a step). */
export const scenarioModel = existsSync(join(defaultModelDir, 'model_index.json')) ? defaultModelDir : fixtureModel;

/** Holds engine calls while closed, so a test can keep one job "running" as long as it needs. */
export class EngineGate {
  #waiters: (() => void)[] = [];
  closed = false;
  wait(): Promise<void> {
    return this.closed ? new Promise((resolve) => this.#waiters.push(resolve)) : Promise.resolve();
  }
  open(): void {
    this.closed = false;
    this.#waiters.splice(0).forEach((f) => f());
  }
}

/** The real engine behind a gate (the engine itself is unchanged). */
function gated(engine: Engine, gate: EngineGate): Engine {
  return {
    info: engine.info,
    generate: async (options) => {
      await gate.wait();
      return engine.generate(options);
    },
    close: () => engine.close(),
  };
}

export interface Bot {
  fake: FakeDiscord;
  engine: Engine;
  gate: EngineGate;
  core: Core;
  adapter: DiscordAdapter;
  metrics: ReturnType<typeof createMetrics>;
  /** Simulates a process restart: new core on the same store folder, new client; same fake Discord and engine. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startBot(options: { config?: Partial<CoreConfig>; minEditIntervalMs?: number; modelDir?: string } = {}): Promise<Bot> {
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-discord-'));
  const fake = await FakeDiscord.start({ heartbeatIntervalMs: 1000 });
  const engine = await createEngine({ modelDir: options.modelDir ?? fixtureModel });
  const metrics = createMetrics({ processMetrics: false });
  const gate = new EngineGate();
  const makeCore = () =>
    createCore({
      config: { ...defaultConfig, ...options.config },
      engine: gated(engine, gate),
      store: openJobStore({ dataDir }),
      log: createLogger({ level: 'silent' }),
      commands,
      buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
    });
  const makeAdapter = () =>
    createDiscordAdapter({
      token: fake.token,
      applicationId: fake.applicationId,
      apiBase: fake.apiBase,
      now: () => fake.clock.now(),
      minEditIntervalMs: options.minEditIntervalMs ?? 100,
      requestTimeoutMs: 3000,
      metrics,
    });
  const bot: Bot = {
    fake,
    engine,
    gate,
    metrics,
    core: makeCore(),
    adapter: makeAdapter(),
    async restart() {
      await bot.adapter.stop();
      await bot.core.close();
      bot.core = makeCore();
      bot.adapter = makeAdapter();
      await bot.core.start();
      await bot.adapter.start(bot.core.bot);
    },
    async close() {
      gate.open();
      await bot.adapter.stop();
      await bot.core.close();
      await engine.close();
      await fake.close();
    },
  };
  await bot.core.start();
  await bot.adapter.start(bot.core.bot);
  return bot;
}
