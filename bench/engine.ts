// `npm run bench:engine [-- --model DIR --device cpu|cuda|webgpu --batch N --batches 1,4 --jobs 4 --steps N --runs N
//   --sd15 --no-keep-on-device --write]`
// 1. Overhead: runs the pipeline in-process and, in the same run, replays the exact session.run calls it made (same
//    inputs, timed bare). Overhead = pipeline time / sum of bare model run times (wall and CPU time). Also times the
//    worker engine (what the bot uses), whose wall time adds thread transfers.
// 2. Throughput through the worker engine at each of --batches images per generation: images/s, denoising steps/s,
//    time to first preview; and --jobs single-image jobs run one by one vs as one generateBatch (cross-job batching).
// --sd15 sets the issue's GPU setup (512×512, 20 steps, guidance 7.5, batches 1 and 4) for a model folder built by
// training/gpu/build_sd15_random.py. --write updates BENCHMARKS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine, defaultModelDir } from '../engine/engine.ts';
import { StableDiffusionPipeline } from '../engine/pipeline.ts';
import type { Feeds, Session } from '../engine/runtime.ts';
import type { Device, GenerateOptions } from '../engine/types.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    batch: { type: 'string', default: '4' },
    batches: { type: 'string', default: '1,4' },
    jobs: { type: 'string', default: '4' },
    sd15: { type: 'boolean', default: false },
    'no-keep-on-device': { type: 'boolean', default: false },
    steps: { type: 'string', default: '20' },
    guidance: { type: 'string', default: '7.5' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    width: { type: 'string' },
    height: { type: 'string' },
    write: { type: 'boolean', default: false },
  },
});

if (values.sd15) {
  if (!values.model) {
    console.error('--sd15 needs --model DIR: an SD-1.5-architecture export, e.g. from `python3 training/gpu/build_sd15_random.py --out artifacts/sd15-random --dtype fp16` (see BENCHMARKS.md).');
    process.exit(2);
  }
  if (values.device === 'cpu') {
    // Unfused attention at 512² with a CFG batch of 8 takes tens of GB on the CPU provider.
    console.error('--sd15 times the SD 1.5 setup on a GPU; add --device cuda or --device webgpu.');
    process.exit(2);
  }
  values.width ??= '512';
  values.height ??= '512';
  values.steps = '20';
  values.guidance = '7.5';
}
const modelDir = values.model ?? (existsSync(defaultModelDir) ? defaultModelDir : join(root, 'test', 'fixtures', 'models', 'tiny-sd'));
const device = values.device as Device;
const runs = Number(values.runs);
const warmup = Number(values.warmup);
const keepOnDevice = !values['no-keep-on-device'];
// GPU providers bring their own parallelism; 0 lets onnxruntime choose CPU threads for what stays on the CPU.
const sessionOptions = { device, intraOpNumThreads: Number(values.threads), keepOnDevice };
const options: GenerateOptions = {
  prompt: 'a lighthouse on a cliff at dusk, oil painting',
  negativePrompt: 'blurry',
  seed: 1,
  numImagesPerPrompt: Number(values.batch),
  numInferenceSteps: Number(values.steps),
  guidanceScale: Number(values.guidance),
  ...(values.width ? { width: Number(values.width) } : {}),
  ...(values.height ? { height: Number(values.height) } : {}),
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// --- In-process: pipeline vs the same runs replayed bare ---
const pipeline = await StableDiffusionPipeline.load(modelDir, sessionOptions);
// GPU-held embeddings must outlive the generation: the bare replay feeds them again.
pipeline.retainHeld = [];
let recorded: { session: Session; feeds: Feeds }[] = [];
for (const session of pipeline.sessions) session.observer = (s, feeds) => recorded.push({ session: s, feeds });

// CPU time (user + system, this process) is the robust measure on a shared machine: being descheduled adds wall
// time but no CPU time. With one intra-op thread, onnxruntime computes on this thread, so CPU time covers it all.
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const walls: number[] = [];
const bares: number[] = [];
const cpuWalls: number[] = [];
const cpuBares: number[] = [];
let unetSteps = 0;
for (let i = 0; i < warmup + runs; i++) {
  recorded = [];
  const cpuStart = cpuMs();
  const start = performance.now();
  await pipeline.generate(options);
  const wall = performance.now() - start;
  const cpu = cpuMs() - cpuStart;
  unetSteps = recorded.filter((r) => r.session === pipeline.unet.session).length;
  const prepared = recorded.map(({ session, feeds }) => ({ session, prepared: session.prepare(feeds) }));
  let bare = 0;
  const cpuBareStart = cpuMs();
  for (const r of prepared) bare += await r.session.timeBareRun(r.prepared);
  const cpuBare = cpuMs() - cpuBareStart;
  for (const held of pipeline.retainHeld.splice(0)) held.dispose();
  if (i >= warmup) {
    walls.push(wall);
    bares.push(bare);
    cpuWalls.push(cpu);
    cpuBares.push(cpuBare);
  }
}
const calls = recorded.length;
await pipeline.release();

// --- Worker engine: what the bot sees (adds structured-clone transfers and thread hops) ---
const engine = await createEngine({ modelDir, ...sessionOptions });
const workerWalls: number[] = [];
for (let i = 0; i < warmup + runs; i++) {
  const start = performance.now();
  await engine.generate(options);
  if (i >= warmup) workerWalls.push(performance.now() - start);
}
const info = engine.info;

// --- Throughput through the worker engine: batch sizes, time to first preview, cross-job batching ---
const batches = values.batches.split(',').map(Number);
const throughputRuns = Math.max(3, Math.ceil(runs / 2));
interface Throughput {
  readonly label: string;
  readonly images: number;
  readonly walls: number[];
  readonly cpus: number[];
  readonly firstPreviews: number[];
}
async function measure(label: string, images: number, once: (onFirstPreview: () => void) => Promise<unknown>): Promise<Throughput> {
  const t: Throughput = { label, images, walls: [], cpus: [], firstPreviews: [] };
  for (let i = 0; i < warmup + throughputRuns; i++) {
    const cpuStart = cpuMs();
    const start = performance.now();
    let first: number | undefined;
    await once(() => (first ??= performance.now() - start));
    if (i < warmup) continue;
    t.walls.push(performance.now() - start);
    t.cpus.push(cpuMs() - cpuStart);
    if (first !== undefined) t.firstPreviews.push(first);
  }
  return t;
}
const previewing = (onFirst: () => void): GenerateOptions['onProgress'] => (p) => p.preview && onFirst();
const throughput: Throughput[] = [];
for (const b of batches) {
  throughput.push(await measure(`one job of ${b} image${b > 1 ? 's' : ''}`, b, (onFirst) => engine.generate({ ...options, numImagesPerPrompt: b, onProgress: previewing(onFirst) })));
}
const jobs = Number(values.jobs);
const jobOptions = (j: number, onFirst: () => void): GenerateOptions => ({
  ...options,
  prompt: `${options.prompt}, variation ${j}`,
  seed: 100 + j,
  numImagesPerPrompt: 1,
  onProgress: j === 0 ? previewing(onFirst) : undefined,
});
if (jobs > 1) {
  throughput.push(
    await measure(`${jobs} single-image jobs, one after another`, jobs, async (onFirst) => {
      for (let j = 0; j < jobs; j++) await engine.generate(jobOptions(j, onFirst));
    }),
  );
  throughput.push(
    await measure(`${jobs} single-image jobs as one generateBatch`, jobs, (onFirst) =>
      Promise.all(engine.generateBatch!(Array.from({ length: jobs }, (_, j) => jobOptions(j, onFirst)))),
    ),
  );
}
await engine.close();

// --- Report ---
const batch = options.numImagesPerPrompt ?? 1;
const cfg = (options.guidanceScale ?? 0) > 1 && !pipeline.folder.isLcm;
// Best-of-N on both sides: on a shared machine interference only ever adds time, so minima compare like with like.
const best = (xs: number[]) => Math.min(...xs);
const overhead = best(walls) / best(bares);
const workerOverhead = best(workerWalls) / best(bares);
const cpuOverhead = best(cpuWalls) / best(cpuBares);
const ratios = walls.map((w, i) => w / bares[i]);
const cpuRatios = cpuWalls.map((c, i) => c / cpuBares[i]);
const cpuModel = /model name\s*:\s*(.+)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
const ortVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
const machine = `${cpuModel}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Node ${process.version}, onnxruntime-node ${ortVersion}, device \`${info.device}\``;
const threads = Number(values.threads) === 0 ? 'onnxruntime default intra-op threads' : `${values.threads} intra-op thread(s)`;
const residency = info.device === 'webgpu' ? `, text embeddings ${keepOnDevice ? 'kept in GPU memory' : 'uploaded every step (--no-keep-on-device)'}` : '';
const config = `${threads}${residency}, model \`${info.name}\` (${options.width ?? info.width}×${options.height ?? info.height}), batch ${batch}, ${options.numInferenceSteps} steps (${unetSteps} UNet calls, ${calls} session runs per generation), CFG ${cfg ? `on (${options.guidanceScale})` : 'off'}, scheduler ${info.defaultScheduler}, ${runs} measured runs after ${warmup} warm-up`;
const perImage = (ms: number) => (batch / (ms / 1000)).toFixed(2);
const perStep = (ms: number) => (unetSteps / (ms / 1000)).toFixed(1);

const table = [
  '| measure | in-process pipeline | worker engine (bot path) |',
  '|---|---|---|',
  `| wall time per generation, best / median | ${best(walls).toFixed(1)} / ${median(walls).toFixed(1)} ms | ${best(workerWalls).toFixed(1)} / ${median(workerWalls).toFixed(1)} ms |`,
  `| sum of bare session.run per generation, best / median | ${best(bares).toFixed(1)} / ${median(bares).toFixed(1)} ms | (same calls) |`,
  `| **overhead ratio** (wall / bare model time), best-of-${runs} | **${overhead.toFixed(3)}** (median of per-run ratios ${median(ratios).toFixed(3)}) | ${workerOverhead.toFixed(3)} |`,
  `| **overhead ratio in CPU time** (pipeline CPU / bare-run CPU), best-of-${runs} | **${cpuOverhead.toFixed(3)}** (${best(cpuWalls).toFixed(1)} / ${best(cpuBares).toFixed(1)} ms; median of per-run ratios ${median(cpuRatios).toFixed(3)}) | – |`,
  `| images/s (median run) | ${perImage(median(walls))} | ${perImage(median(workerWalls))} |`,
  `| denoising steps/s, batch of ${batch}${cfg ? ' with CFG' : ''} (median run) | ${perStep(median(walls))} | ${perStep(median(workerWalls))} |`,
].join('\n');

const stepsPerGeneration = options.numInferenceSteps ?? info.defaultSteps;
const throughputTable = [
  `| worker engine, ${throughputRuns} runs after ${warmup} warm-up | images/s (median wall) | denoising steps/s | CPU ms per image (median) | time to first preview (median) |`,
  '|---|---|---|---|---|',
  ...throughput.map((t) => {
    const wall = median(t.walls);
    const generations = t.label.includes('one after another') ? t.images : 1;
    return `| ${t.label} | ${(t.images / (wall / 1000)).toFixed(2)} | ${((generations * stepsPerGeneration) / (wall / 1000)).toFixed(1)} | ${(median(t.cpus) / t.images).toFixed(1)} | ${t.firstPreviews.length ? `${median(t.firstPreviews).toFixed(1)} ms` : '–'} |`;
  }),
].join('\n');

// One section per setup, so runs with other models or sizes sit side by side in BENCHMARKS.md.
const key = `${info.name}-${options.width ?? info.width}x${options.height ?? info.height}-b${batch}-${info.device}${keepOnDevice ? '' : '-upload'}`;
const args = process.argv.slice(2).filter((a) => a !== '--write').join(' ');
const section = [
  `<!-- bench:engine:${key}:start -->`,
  `## Engine: ${info.name}, ${options.width ?? info.width}×${options.height ?? info.height}, batch ${batch}, ${info.device} (\`npm run bench:engine${args ? ` -- ${args}` : ''}\`)`,
  '',
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}.`,
  '',
  `Setup: ${config}.`,
  '',
  table,
  '',
  throughputTable,
  '',
  'The bare time replays the exact `session.run` calls of each generation (same inputs, tensors prepared outside the',
  'timer) right after it, so both sides see the same machine state. The overhead is everything the TypeScript',
  'pipeline adds: tokenizing, scheduler maths, CFG combine, fp16/tensor wrapping, pixel conversion. The worker column',
  'adds the thread hop and result transfer. Throughput rows go through the worker engine; "denoising steps/s" counts',
  'scheduler steps of whole generations (a batch of 4 advances 4 images per step); the first preview is the first',
  'progress callback carrying a preview, timed from the call.',
  `<!-- bench:engine:${key}:end -->`,
].join('\n');

console.log(`${section}\n`);
if (values.write) {
  const file = join(root, 'BENCHMARKS.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const pattern = new RegExp(`<!-- bench:engine:${key}:start -->[\\s\\S]*?<!-- bench:engine:${key}:end -->`);
  writeFileSync(file, pattern.test(current) ? current.replace(pattern, section) : `${current.trimEnd()}\n\n${section}\n`);
  console.log(`Updated ${file}`);
}
