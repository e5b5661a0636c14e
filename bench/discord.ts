// `npm run bench:discord`: acknowledgement latency of 200 simultaneous `/imagine` while the engine is busy, and the
// number of 429s the fake Discord had to send, for the real discord.js client + adapter + core + engine.
// Latency is measured at the fake: INTERACTION_CREATE sent → interaction callback (defer) received, so it includes
// the gateway hop, discord.js' event handling and the HTTP request, as Discord would see it. The fake runs in a worker
// thread (bench/discord-fake-worker.ts) so that its own work is not charged to the bot.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commands, handleButton, isEphemeralAction } from '../commands/index.ts';
import { defaultConfig } from '../config/defaults.ts';
import { createEngine, defaultModelDir } from '../engine/index.ts';
import { createDiscordAdapter } from '../src/adapters/discord/index.ts';
import { createCore } from '../src/core/create-core.ts';
import { openJobStore } from '../src/core/job-store.ts';
import { createLogger } from '../src/core/logger.ts';
import { createMetrics } from '../src/core/metrics.ts';
import { Worker } from 'node:worker_threads';
import type { BurstRequest, BurstResult } from './discord-fake-worker.ts';
import type { BenchRow } from './rows.ts';

const root = resolve(import.meta.dirname, '..');

export interface DiscordBenchOptions {
  /** @default 200 */
  readonly interactions?: number;
  /** Guilds the users are spread over. @default 10 */
  readonly guilds?: number;
  /** @default the embedded model, else the tiny fixture */
  readonly modelDir?: string;
  /** onnxruntime intra-op threads (`ENGINE_THREADS`). @default `ENGINE_THREADS` from the environment, else 0 (onnxruntime's choice) */
  readonly engineThreads?: number;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/** Starts the fake Discord in a worker thread (through tsx, like the engine's worker). */
function startFake(): Promise<{ worker: Worker; apiBase: string; token: string; applicationId: string }> {
  const tsx = import.meta.resolve('tsx/esm/api');
  const file = pathToFileURL(join(import.meta.dirname, 'discord-fake-worker.ts')).href;
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); });`, { eval: true });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { apiBase: string; token: string; applicationId: string }) => resolve({ worker, ...m }));
  });
}

export async function runDiscordBench(options: DiscordBenchOptions = {}): Promise<BenchRow[]> {
  const n = options.interactions ?? 200;
  const guildCount = options.guilds ?? 10;
  const modelDir = options.modelDir ?? (existsSync(join(defaultModelDir, 'model_index.json')) ? defaultModelDir : join(root, 'test/fixtures/models/tiny-sd'));
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-bench-discord-'));
  const fake = await startFake();
  const engineThreads = options.engineThreads ?? Number(process.env.ENGINE_THREADS ?? 0);
  const engine = await createEngine({ modelDir, intraOpNumThreads: engineThreads });
  const store = openJobStore({ dataDir });
  const core = createCore({
    config: { ...defaultConfig, queueMaxPerGuild: n, queueMaxTotal: 2 * n },
    engine,
    store,
    log: createLogger({ level: 'silent' }),
    commands,
    buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
  });
  const adapter = createDiscordAdapter({ token: fake.token, applicationId: fake.applicationId, apiBase: fake.apiBase, metrics: createMetrics({ processMetrics: false }) });
  try {
    await core.start();
    await adapter.start(core.bot);
    const result = await new Promise<BurstResult>((resolve, reject) => {
      fake.worker.on('message', (m: BurstResult | { type: 'error'; message: string }) => (m.type === 'result' ? resolve(m) : reject(new Error(m.message))));
      fake.worker.postMessage({ type: 'run', interactions: n, guilds: guildCount, busySteps: defaultConfig.maxSteps, warmUp: 20 } satisfies BurstRequest);
    });
    const { acks } = result;
    const setup = `${n} users in ${guildCount} guilds at once while the engine runs a ${defaultConfig.maxSteps}-step job; model \`${engine.info.name}\`, ENGINE_THREADS=${engineThreads}; after 20 warm-up /help; fake Discord in its own thread on loopback; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`;
    return [
      { benchmark: 'discord', metric: 'ack latency p50', value: `${quantile(acks, 0.5).toFixed(1)} ms`, notes: setup },
      { benchmark: 'discord', metric: 'ack latency p99', value: `${quantile(acks, 0.99).toFixed(1)} ms (max ${Math.max(...acks).toFixed(1)} ms)`, notes: 'goal < 100 ms' },
      { benchmark: 'discord', metric: '429s sent by the fake', value: String(result.rateLimited), notes: `over the burst and all ${n} jobs to their grids (${result.edits} message edits); goal 0` },
      {
        benchmark: 'discord',
        metric: 'all acknowledged / all grids',
        value: `${(result.allAckedMs / 1000).toFixed(2)} s / ${(result.allGridsMs / 1000).toFixed(1)} s`,
        notes: `failed acks ${result.failedAcks}, spec violations ${result.schemaErrors}`,
      },
    ];
  } finally {
    await adapter.stop();
    await core.close();
    await engine.close();
    fake.worker.postMessage({ type: 'close' });
    await new Promise((r) => fake.worker.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runDiscordBench();
  console.log('| measure | result | setup |\n|---|---|---|');
  for (const r of rows) console.log(`| **${r.metric}** | ${r.value} | ${r.notes ?? ''} |`);
}
