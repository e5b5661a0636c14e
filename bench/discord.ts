// `npm run bench:discord`: acknowledgement latency of 200 simultaneous `/imagine` while the engine is busy, and the
// number of 429s the fake Discord had to send, for the real discord.js client + adapter + core + engine.
// Latency is measured at the fake: INTERACTION_CREATE sent → interaction callback (defer) received, so it includes
// the gateway hop, discord.js' event handling and the HTTP request, as Discord would see it. The fake runs in a worker
// thread (bench/discord-fake-worker.ts) so that its own work is not charged to the bot.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
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
  /** Bursts measured on the same running bot. @default 5 */
  readonly rounds?: number;
  /** onnxruntime intra-op threads (`ENGINE_THREADS`). @default `ENGINE_THREADS` from the environment, else 0 (onnxruntime's choice) */
  readonly engineThreads?: number;
  /** Niceness of the engine's threads (`ENGINE_NICE`). @default `ENGINE_NICE` from the environment, else the bot's default */
  readonly engineNice?: number;
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

interface Round {
  readonly result: BurstResult;
  readonly load: number;
}

function machine(): string {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpu = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Node ${process.version}`;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const median = (xs: number[]) => quantile(xs, 0.5);

function writeSection(rounds: Round[], setup: string): string {
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const lines = rounds.map(({ result: r, load }, i) => {
    const cells = [`${i + 1}`, ms(quantile(r.acks, 0.5)), ms(quantile(r.acks, 0.99)), ms(Math.max(...r.acks)), String(r.rateLimited), `${(r.allAckedMs / 1000).toFixed(2)} s`, `${(r.allGridsMs / 1000).toFixed(1)} s`, String(r.edits), load.toFixed(1)];
    return `| ${cells.join(' | ')} |`;
  });
  const section = [
    '<!-- bench:discord:start -->',
    '## Discord: 200 simultaneous `/imagine` while the engine is busy (`npm run bench:discord`)',
    '',
    `Measured ${when} UTC on ${machine()}. ${setup}.`,
    '',
    '| round | ack p50 | ack p99 | ack max | 429s sent | all acknowledged | all grids | message edits | load avg |',
    '|---|---|---|---|---|---|---|---|---|',
    ...lines,
    '',
    'Acknowledgement latency is measured by the fake: INTERACTION_CREATE sent on the gateway → the defer callback',
    'arriving, so it covers the gateway hop, discord.js, the adapter and the HTTP request. The fake runs in its own',
    'thread; a burst arrives as one block of frames, which the bot must parse before the first request leaves, so the',
    'figure moves with CPU contention (the load average column: this machine has 2 cores shared with a training job',
    'and other test runs). The 429 count covers the burst and every progress edit until all jobs show their grid.',
    '<!-- bench:discord:end -->',
  ].join('\n');
  const file = join(root, 'BENCHMARKS.md');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /<!-- bench:discord:start -->[\s\S]*?<!-- bench:discord:end -->/;
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
  return section;
}

export async function runDiscordBench(options: DiscordBenchOptions = {}): Promise<BenchRow[]> {
  const n = options.interactions ?? 200;
  const guildCount = options.guilds ?? 10;
  const roundCount = options.rounds ?? 5;
  const modelDir = options.modelDir ?? (existsSync(join(defaultModelDir, 'model_index.json')) ? defaultModelDir : join(root, 'test/fixtures/models/tiny-sd'));
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-bench-discord-'));
  const fake = await startFake();
  const engineThreads = options.engineThreads ?? Number(process.env.ENGINE_THREADS ?? 0);
  const engineNice = options.engineNice ?? Number(process.env.ENGINE_NICE ?? defaultConfig.engineNice);
  const engine = await createEngine({ modelDir, intraOpNumThreads: engineThreads, niceness: engineNice });
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
  const rounds: Round[] = [];
  try {
    await core.start();
    await adapter.start(core.bot);
    for (let i = 0; i < roundCount; i++) {
      const result = await new Promise<BurstResult>((resolve, reject) => {
        const onMessage = (m: BurstResult | { type: 'error'; message: string }) => {
          fake.worker.off('message', onMessage);
          if (m.type === 'result') resolve(m);
          else reject(new Error(m.message));
        };
        fake.worker.on('message', onMessage);
        fake.worker.postMessage({ type: 'run', interactions: n, guilds: guildCount, busySteps: defaultConfig.maxSteps, warmUp: i === 0 ? 20 : 0 } satisfies BurstRequest);
      });
      rounds.push({ result, load: loadavg()[0] });
    }
  } finally {
    await adapter.stop();
    await core.close();
    await engine.close();
    fake.worker.postMessage({ type: 'close' });
    await new Promise((r) => fake.worker.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  const setup =
    `${n} users in ${guildCount} guilds send \`/imagine\` at once while the engine runs a ${defaultConfig.maxSteps}-step job; ` +
    `${roundCount} rounds on one running bot (20 \`/help\` before the first); model \`${engine.info.name}\`, ENGINE_THREADS=${engineThreads}, ENGINE_NICE=${engineNice}`;
  console.log(writeSection(rounds, setup));
  const p50s = rounds.map((r) => quantile(r.result.acks, 0.5));
  const p99s = rounds.map((r) => quantile(r.result.acks, 0.99));
  const limited = rounds.reduce((sum, r) => sum + r.result.rateLimited, 0);
  const failures = rounds.reduce((sum, r) => sum + r.result.failedAcks + r.result.schemaErrors, 0);
  return [
    { benchmark: 'discord', metric: 'ack latency p50 (median of rounds)', value: ms(median(p50s)), notes: `${setup}; rounds ${p50s.map(ms).join(', ')}` },
    { benchmark: 'discord', metric: 'ack latency p99 (median of rounds)', value: ms(median(p99s)), notes: `goal < 100 ms; rounds ${p99s.map(ms).join(', ')}` },
    { benchmark: 'discord', metric: '429s sent by the fake', value: String(limited), notes: `all rounds, bursts and progress edits until every grid; goal 0; failed acks + spec violations: ${failures}` },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runDiscordBench();
  process.exit(0);
}
