// `npm run bench:queue`: the cost of the fair queue at scale — 10,000 queued jobs across 1,000 guilds.
// Measures enqueue, position/ETA queries, cancel and dispatch through the real `FairDispatcher` (with a runner that
// finishes at once, so only queue work is timed), the heap the queued jobs take, and submit cost through the whole
// core (SQLite store, FakeEngine). Prints a table and writes it into BENCHMARKS.md between `bench:queue` markers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { commands, handleButton, isEphemeralAction } from '../commands/index.ts';
import { defaultConfig } from '../config/defaults.ts';
import { createCore } from '../src/core/create-core.ts';
import { FairDispatcher, type JobRunner } from '../src/core/dispatcher.ts';
import { FakeEngine } from '../src/core/fake-engine.ts';
import { openJobStore } from '../src/core/job-store.ts';
import { createLogger } from '../src/core/logger.ts';
import type { JobRecord, JobSurface, Reply } from '../src/core/types.ts';
import type { BenchRow } from './rows.ts';

const JOBS = 10_000;
const GUILDS = 1_000;
const root = resolve(import.meta.dirname, '..');

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function makeJob(i: number): JobRecord {
  return {
    id: `j${i.toString(36).padStart(6, '0')}`,
    seq: i,
    platform: 'discord',
    guildId: `guild-${i % GUILDS}`,
    channelId: 'c',
    ownerId: `user-${i % 5000}`,
    kind: i % 10 === 0 ? 'upscale' : 'imagine',
    params: { prompt: `prompt number ${i}`, negativePrompt: '', width: 512, height: 512, numInferenceSteps: 20, guidanceScale: 7, seed: i, numImagesPerPrompt: 4 },
    priority: i % 10 === 0 ? 1 : 0,
    status: 'queued',
    createdAt: 0,
    attempts: 0,
    completions: 0,
  };
}

const us = (ms: number, n: number) => `${((ms * 1000) / n).toFixed(2)} µs`;

interface Measured {
  readonly rows: BenchRow[];
  readonly table: string[][];
}

async function measureDispatcher(): Promise<Measured> {
  const jobs = Array.from({ length: JOBS }, (_, i) => makeJob(i));
  // Hold the first job "running" until the queue is full, then finish every job at once.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let finished = 0;
  let allDone!: () => void;
  const drained = new Promise<void>((r) => (allDone = r));
  const run: JobRunner = async () => {
    await gate;
    if (++finished === JOBS - 1000) allDone();
    return 'done';
  };
  const before = heapMiB();
  const dispatcher = new FairDispatcher({ run, maxPerUser: JOBS, maxPerGuild: JOBS, maxTotal: JOBS + 1, jobTimeoutMs: 3_600_000 });

  let t = performance.now();
  for (const job of jobs) await dispatcher.enqueue(job);
  const enqueueMs = performance.now() - t;
  const heap = heapMiB() - before;

  t = performance.now();
  const last = dispatcher.positionNow(jobs[JOBS - 1].id);
  const firstPositionMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 1000; i++) dispatcher.positionNow(jobs[(i * 7919) % JOBS].id);
  const cachedPositionMs = performance.now() - t;

  // Cancel 1,000 queued jobs spread over the queue (each invalidates the predicted order).
  t = performance.now();
  for (let i = 1; i <= 1000; i++) await dispatcher.cancel(jobs[(i * 9973) % (JOBS - 1) + 1].id, 'bench');
  const cancelMs = performance.now() - t;

  t = performance.now();
  release();
  await drained;
  await dispatcher.close();
  const dispatchMs = performance.now() - t;
  const dispatched = JOBS - 1000;

  const rows: BenchRow[] = [
    { benchmark: 'queue', metric: 'enqueue, 10,000 jobs in 1,000 guilds', value: `${us(enqueueMs, JOBS)}/job`, notes: `${enqueueMs.toFixed(0)} ms in all, limits checked` },
    { benchmark: 'queue', metric: 'dispatch (fair pick + start + finish)', value: `${us(dispatchMs, dispatched)}/job`, notes: `${dispatched} jobs drained through the p-queue slot, zero-time runner` },
    { benchmark: 'queue', metric: 'heap for 10,000 queued jobs', value: `${heap.toFixed(1)} MiB`, notes: `${((heap * 2 ** 20) / JOBS / 1024).toFixed(2)} KiB/job incl. the job record` },
    { benchmark: 'queue', metric: 'position + ETA at 10,000 queued', value: `${firstPositionMs.toFixed(1)} ms first, ${us(cachedPositionMs, 1000)} cached`, notes: `predicted fair order of all jobs; last job is #${last?.position}` },
    { benchmark: 'queue', metric: 'cancel a queued job', value: `${us(cancelMs, 1000)}/job`, notes: '1,000 cancels spread over the queue' },
  ];
  return {
    rows,
    table: [
      ['enqueue (limits checked)', `${us(enqueueMs, JOBS)} per job`, `${enqueueMs.toFixed(0)} ms for 10,000`],
      ['dispatch: fair pick + start + finish', `${us(dispatchMs, dispatched)} per job`, `${dispatchMs.toFixed(0)} ms for ${dispatched}`],
      ['heap of the queued jobs', `${heap.toFixed(1)} MiB`, `${((heap * 2 ** 20) / JOBS / 1024).toFixed(2)} KiB per job, record included`],
      ['position + ETA, first query (computes the fair order of all)', `${firstPositionMs.toFixed(1)} ms`, `last job is #${last?.position}`],
      ['position + ETA, later queries (cached order)', `${us(cachedPositionMs, 1000)} per query`, '1,000 queries'],
      ['cancel a queued job', `${us(cancelMs, 1000)} per cancel`, '1,000 cancels'],
    ],
  };
}

async function measureCoreSubmit(n = 500): Promise<Measured> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-queue-'));
  const store = openJobStore({ dataDir });
  // An engine that never finishes its first job keeps everything else queued: only submit is timed.
  const engine = new FakeEngine({ stepMs: 3_600_000 });
  const core = createCore({
    config: { ...defaultConfig, queueMaxPerUser: n, queueMaxPerGuild: n, queueMaxTotal: n + 1 },
    engine,
    store,
    log: createLogger({ level: 'silent' }),
    commands,
    buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
  });
  let m = 0;
  const surface: JobSurface = {
    platform: 'discord',
    minEditIntervalMs: 1000,
    editJobMessage: async () => undefined,
    postJobMessage: async (target) => ({ platform: 'discord', channelId: target.channelId, messageId: String(m++) }),
  };
  core.bot.attachSurface(surface);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const actor = { platform: 'discord' as const, guildId: `guild-${i % 100}`, channelId: 'c', userId: `user-${i}`, isAdmin: false, roles: [] };
    const reply: Reply = {
      acknowledge: async () => undefined,
      ephemeral: async (message) => {
        throw new Error(message.text);
      },
      postJobMessage: (view) => surface.postJobMessage({ guildId: actor.guildId, channelId: 'c' }, view),
    };
    await core.bot.dispatch({ type: 'command', actor, name: 'imagine', options: { prompt: `a fox number ${i} --ar 3:2 --seed ${i}` } }, reply);
  }
  const ms = performance.now() - t;
  const depth = await core.dispatcher.depth();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (depth.queued !== n - 1) throw new Error(`expected ${n - 1} queued, got ${depth.queued}`);
  return {
    rows: [{ benchmark: 'queue', metric: '/imagine submit through the core', value: `${(ms / n).toFixed(2)} ms/job`, notes: `${n} jobs: parse, store (SQLite WAL), enqueue, post` }],
    table: [['/imagine through the core: parse, store (SQLite), enqueue, first post', `${(ms / n).toFixed(2)} ms per job`, `${n} jobs in 100 guilds`]],
  };
}

function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpu = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Node ${process.version}`;
}

function writeSection(table: string[][]): string {
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = [
    '<!-- bench:queue:start -->',
    '## Queue: 10,000 queued jobs across 1,000 guilds (`npm run bench:queue`)',
    '',
    `Measured ${when} UTC on ${machine()}.`,
    '',
    '| measure | result | notes |',
    '|---|---|---|',
    ...table.map((row) => `| ${row.join(' | ')} |`),
    '',
    'The dispatcher rows time the real `FairDispatcher` (per-guild p-queue priority lanes, stride scheduling across',
    'guilds, limits, one p-queue engine slot) with a runner that finishes at once, so only queue work is counted. The',
    'last row goes through the whole core with a real SQLite file, which dominates its cost.',
    '<!-- bench:queue:end -->',
  ].join('\n');
  const file = join(root, 'BENCHMARKS.md');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const re = /<!-- bench:queue:start -->[\s\S]*?<!-- bench:queue:end -->/;
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
  return section;
}

export async function runQueueBench(): Promise<BenchRow[]> {
  const dispatcher = await measureDispatcher();
  const core = await measureCoreSubmit();
  const section = writeSection([...dispatcher.table, ...core.table]);
  console.log(section);
  return [...dispatcher.rows, ...core.rows];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runQueueBench();
  process.exit(0);
}
