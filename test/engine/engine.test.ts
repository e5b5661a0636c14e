import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { createEngine, defaultModelDir } from '../../engine/engine.ts';
import type { WorkerEngine } from '../../engine/engine.ts';
import { StableDiffusionPipeline } from '../../engine/pipeline.ts';
import type { GenerateOptions, StepProgress } from '../../engine/types.ts';
import { fixture, gradient, isCode, sameImage } from './helpers.ts';

let engine: WorkerEngine;
before(async () => {
  engine = (await createEngine({ modelDir: fixture('tiny-sd'), intraOpNumThreads: 1 })) as WorkerEngine;
});
after(() => engine.close());

const base = { prompt: 'a lighthouse at dusk', seed: 7, numInferenceSteps: 4 } as const;

test('the default model folder is the embedded model under models/ (training/export.py writes it)', () => {
  assert.match(defaultModelDir, /models[/\\]shapes-ldm-v9$/);
});

test('the worker engine gives exactly the in-process pipeline\'s images, and model info', async () => {
  assert.equal(engine.info.name, 'tiny-sd');
  assert.equal(engine.info.supportsImg2Img, true);
  const pipe = await StableDiffusionPipeline.load(fixture('tiny-sd'), { intraOpNumThreads: 1 });
  const init = gradient(64, 64);
  const initCopy = init.data.slice();
  for (const options of [{ ...base, numImagesPerPrompt: 2 }, { ...base, image: init, strength: 0.6 }]) {
    const local = await pipe.generate(options);
    const remote = await engine.generate(options);
    assert.deepEqual(remote.seeds, local.seeds);
    remote.images.forEach((img, i) => assert.ok(sameImage(img, local.images[i]), `image ${i}`));
  }
  await pipe.release();
  assert.deepEqual(init.data, initCopy, 'the caller\'s init image is not detached or changed');
});

test('generateBatch runs requests as one batch in the worker: per-request results, progress and aborts', async () => {
  const pipe = await StableDiffusionPipeline.load(fixture('tiny-sd'), { intraOpNumThreads: 1 });
  const scheduler = 'EulerDiscreteScheduler' as const;
  const controller = new AbortController();
  const steps: number[] = [];
  const requests: GenerateOptions[] = [
    { ...base, scheduler, prompt: 'a red circle', seed: 1, numImagesPerPrompt: 2, onProgress: (p: StepProgress) => steps.push(p.step) },
    { ...base, scheduler, prompt: 'cancelled', seed: 2, signal: controller.signal, onProgress: ({ step }: StepProgress) => step === 1 && controller.abort() },
    { ...base, scheduler, prompt: 'a green star', negativePrompt: 'red', seed: 3 },
  ];
  const settled: string[] = [];
  const [first, cancelled, third] = engine.generateBatch(requests.map((r) => ({ ...r, numInferenceSteps: 12 })));
  void first.then(() => settled.push('first'));
  void cancelled.catch(() => settled.push('cancelled'));
  await assert.rejects(cancelled, isCode('sd_engine_aborted'));
  const results = [await first, await third];
  // The cancelled request settles at its abort, not when the batch ends.
  assert.deepEqual(settled, ['cancelled', 'first']);
  assert.equal(steps.length, 12);
  for (const [k, r] of [0, 2].entries()) {
    const alone = await pipe.generate({ ...requests[r], numInferenceSteps: 12, onProgress: undefined });
    assert.deepEqual(results[k].seeds, alone.seeds);
    alone.images.forEach((img, i) => assert.ok(results[k].images[i].data.every((v, j) => Math.abs(v - img.data[j]) <= 1), `request ${r} image ${i}`));
  }
  await pipe.release();
  // A request aborted before the batch starts fails alone.
  const [gone, kept] = engine.generateBatch([{ ...base, signal: AbortSignal.abort() }, base]);
  await assert.rejects(gone, isCode('sd_engine_aborted', /before it started/));
  assert.equal((await kept).images.length, 1);
  // Incompatible requests fail each promise with how to group them.
  const mixed = engine.generateBatch([base, { ...base, numInferenceSteps: 3 }]);
  for (const p of mixed) await assert.rejects(p, isCode('sd_engine_invalid_input', /batchKey/));
});

test('progress is relayed with previews', async () => {
  const steps: StepProgress[] = [];
  await engine.generate({ ...base, scheduler: 'EulerDiscreteScheduler', onProgress: (p) => steps.push(p) });
  assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4]);
  assert.ok(steps.every((s) => s.preview && s.preview.data instanceof Uint8Array && s.preview.data.length === s.preview.width * s.preview.height * 3));
});

test('aborting mid-run rejects with sd_engine_aborted, and the engine keeps working', async () => {
  const controller = new AbortController();
  await assert.rejects(
    engine.generate({ ...base, numInferenceSteps: 100, signal: controller.signal, onProgress: ({ step }) => step === 2 && controller.abort() }),
    isCode('sd_engine_aborted'),
  );
  await assert.rejects(engine.generate({ ...base, signal: AbortSignal.abort() }), isCode('sd_engine_aborted', /before it started/));
  assert.equal((await engine.generate(base)).images.length, 1);
});

test('a progress callback that throws fails its own job, and the engine keeps working', async () => {
  await assert.rejects(
    engine.generate({ ...base, numInferenceSteps: 50, onProgress: () => {
      throw new Error('callback bug');
    } }),
    /callback bug/,
  );
  assert.equal((await engine.generate(base)).images.length, 1);
});

test('invalid input errors cross the thread with their code', async () => {
  await assert.rejects(engine.generate({ ...base, width: 65 }), isCode('sd_engine_invalid_input', /multiple of 16/));
});

test('a worker that dies fails the running job with sd_engine_worker_crashed; the next job gets a new worker', async () => {
  const running = engine.generate({ ...base, numInferenceSteps: 100, onProgress: ({ step }) => step === 2 && engine.crashWorkerForTest() });
  await assert.rejects(running, isCode('sd_engine_worker_crashed', /next request starts a new one/));
  const again = await engine.generate(base);
  assert.equal(again.images.length, 1);
});

test('cuda with fallbackToCpu runs on the CPU, says why in info.deviceFallback and emits a process warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  const fallback = await createEngine({ modelDir: fixture('tiny-sd'), device: 'cuda', fallbackToCpu: true, intraOpNumThreads: 1 });
  try {
    assert.equal(fallback.info.device, 'cpu');
    assert.match(fallback.info.deviceFallback ?? '', /instead of `cuda` \(fallbackToCpu is set\).*npm run setup:cuda/);
    assert.equal((await fallback.generate(base)).images.length, 1);
    await new Promise((resolve) => setImmediate(resolve));
    const warning = warnings.find((w) => (w as Error & { code?: string }).code === 'sd_engine_provider_fallback');
    assert.ok(warning, 'a process warning with code sd_engine_provider_fallback');
    assert.match(warning.message, /npm run setup:cuda/);
  } finally {
    process.off('warning', onWarning);
    await fallback.close();
  }
});

test('load errors and provider errors reject createEngine with their code', async () => {
  await assert.rejects(createEngine({ modelDir: '/nonexistent/model' }), isCode('sd_engine_model_load', /Expected a model folder/));
  await assert.rejects(createEngine({ modelDir: fixture('tiny-sd'), device: 'cuda' }), isCode('sd_engine_provider', /npm run setup:cuda/));
});

test('while the worker generates, the main thread\'s event loop stays responsive (p99 delay < 20 ms)', async () => {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let progress = 0;
  histogram.enable();
  const start = performance.now();
  // Bigger images so the job runs long enough to measure (about a second here).
  while (performance.now() - start < 1500) {
    await engine.generate({ ...base, width: 256, height: 256, numImagesPerPrompt: 2, numInferenceSteps: 10, onProgress: () => progress++ });
  }
  histogram.disable();
  const p99 = histogram.percentile(99) / 1e6;
  assert.ok(progress > 10);
  assert.ok(p99 < 20, `event-loop delay p99 ${p99.toFixed(1)} ms (max ${(histogram.max / 1e6).toFixed(1)} ms)`);
});

/** Niceness of each of this process's threads (Linux: /proc/self/task/<tid>/stat, field 19). */
function threadNiceness(): Map<number, number> {
  return new Map(
    readdirSync('/proc/self/task').map((tid) => {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      return [Number(tid), Number(fields[16])];
    }),
  );
}

test('on Linux the engine\'s threads, onnxruntime\'s pool included, run at the configured niceness; the caller\'s keep theirs', { skip: process.platform !== 'linux' }, async () => {
  const mainNice = threadNiceness().get(process.pid)!;
  const nice = Math.min(19, mainNice + 7);
  const niced = await createEngine({ modelDir: fixture('tiny-sd'), intraOpNumThreads: 2, niceness: nice });
  try {
    const atNice = [...threadNiceness()].filter(([, n]) => n === nice).map(([tid]) => tid);
    // The worker thread and the intra-op pool thread it created (2 threads = the caller plus one).
    assert.ok(atNice.length >= 2, `threads at niceness ${nice}: ${atNice.length}`);
    assert.equal(threadNiceness().get(process.pid), mainNice, 'the main thread keeps its niceness');
    await niced.generate(base);
  } finally {
    await niced.close();
  }
  assert.equal([...threadNiceness().values()].filter((n) => n === nice).length, 0, 'the niced threads are gone with the worker');
});

test('closing mid-run aborts the job and stops the worker safely; a closed engine refuses new work', async () => {
  const closing = (await createEngine({ modelDir: fixture('tiny-sd-optimum'), intraOpNumThreads: 1 })) as WorkerEngine;
  assert.equal(closing.info.supportsImg2Img, true);
  let closed: Promise<void> | undefined;
  const running = closing.generate({ ...base, numInferenceSteps: 100, onProgress: ({ step }) => {
    if (step === 2) closed = closing.close();
  } });
  await assert.rejects(running, isCode('sd_engine_aborted', /closed/));
  await closed;
  await assert.rejects(closing.generate(base), isCode('sd_engine_aborted', /closed/));
});
