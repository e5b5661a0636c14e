import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { batchKey, checkBatchable, withJobBatching } from '../../engine/batching.ts';
import { checkInputs } from '../../engine/check-inputs.ts';
import { createEngine } from '../../engine/engine.ts';
import { EngineError } from '../../engine/errors.ts';
import { readModelFolder } from '../../engine/model-folder.ts';
import { StableDiffusionPipeline } from '../../engine/pipeline.ts';
import type { Engine, GenerateOptions, GenerateResult, ModelInfo, RgbImage, SchedulerName } from '../../engine/types.ts';
import { fixture, gradient } from './helpers.ts';

let sd: StableDiffusionPipeline;
before(async () => {
  sd = await StableDiffusionPipeline.load(fixture('tiny-sd'), { intraOpNumThreads: 1 });
});
after(() => sd.release());

/** Largest per-byte difference between two images. */
function maxDiff(a: RgbImage, b: RgbImage): number {
  assert.equal(a.data.length, b.data.length);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
  return max;
}

function fulfilled(outcome: PromiseSettledResult<GenerateResult>): GenerateResult {
  if (outcome.status === 'rejected') throw outcome.reason;
  return outcome.value;
}

// Different prompts, negatives, seeds, image counts and guidance scales; same size, steps, scheduler, CFG on.
const requests: GenerateOptions[] = [
  { prompt: 'a red circle', negativePrompt: 'blurry', seed: 5, numImagesPerPrompt: 2, guidanceScale: 7.5 },
  { prompt: 'a blue square on green', seed: 900, numImagesPerPrompt: 1, guidanceScale: 3 },
  { prompt: 'two yellow stars', negativePrompt: 'text, watermark', seed: 77, numImagesPerPrompt: 3, guidanceScale: 7.5 },
];

for (const scheduler of ['PNDMScheduler', 'EulerAncestralDiscreteScheduler', 'DPMSolverMultistepScheduler'] as SchedulerName[]) {
  test(`generateBatch equals one generate per request (${scheduler})`, async () => {
    const options = requests.map((r) => ({ ...r, scheduler, numInferenceSteps: 5 }));
    const batched = (await sd.generateBatch(options)).map(fulfilled);
    for (let r = 0; r < options.length; r++) {
      const alone = await sd.generate(options[r]);
      assert.deepEqual(batched[r].seeds, alone.seeds);
      assert.equal(batched[r].images.length, alone.images.length);
      for (let i = 0; i < alone.images.length; i++) {
        // onnxruntime may pick other kernels for another batch size; allow one step of 8-bit rounding.
        assert.ok(maxDiff(batched[r].images[i], alone.images[i]) <= 1, `request ${r} image ${i} differs by more than 1/255`);
      }
    }
    // Not trivially equal: the requests' images differ from each other.
    assert.ok(maxDiff(batched[0].images[0], batched[1].images[0]) > 10);
  });
}

test('generateBatch without CFG (guidance ≤ 1) also equals the single runs, and warns per request', async () => {
  const options = [
    { prompt: 'a cat', negativePrompt: 'dog', seed: 1, guidanceScale: 1, numInferenceSteps: 3 },
    { prompt: 'a dog', seed: 2, guidanceScale: 0, numInferenceSteps: 3, numImagesPerPrompt: 2 },
  ];
  const batched = (await sd.generateBatch(options)).map(fulfilled);
  assert.equal(batched[0].warnings.length, 1);
  assert.match(batched[0].warnings[0], /negative prompt is ignored/);
  assert.deepEqual(batched[1].warnings, []);
  for (let r = 0; r < 2; r++) {
    const alone = await sd.generate(options[r]);
    alone.images.forEach((img, i) => assert.ok(maxDiff(batched[r].images[i], img) <= 1));
  }
});

test('each request settles alone: an invalid one, an aborted one and a throwing callback fail only themselves', async () => {
  const aborted = new AbortController();
  const steps: number[] = [];
  const euler = { scheduler: 'EulerDiscreteScheduler' } as const;
  const outcomes = await sd.generateBatch([
    { ...euler, prompt: 'fine', seed: 3, numInferenceSteps: 4, onProgress: (p) => steps.push(p.step) },
    { ...euler, prompt: 'bad', seed: -1 },
    {
      ...euler,
      prompt: 'stopped',
      seed: 4,
      numInferenceSteps: 4,
      onProgress: ({ step }) => {
        if (step === 2) aborted.abort();
      },
      signal: aborted.signal,
    },
    {
      ...euler,
      prompt: 'thrower',
      seed: 5,
      numInferenceSteps: 4,
      onProgress: () => {
        throw new Error('callback broke');
      },
    },
  ]);
  assert.equal(outcomes[0].status, 'fulfilled');
  assert.deepEqual(steps, [1, 2, 3, 4]);
  const reason = (i: number) => (outcomes[i] as PromiseRejectedResult).reason as EngineError;
  assert.ok(reason(1) instanceof EngineError && reason(1).code === 'sd_engine_invalid_input' && /`seed`/.test(reason(1).message));
  assert.ok(reason(2) instanceof EngineError && reason(2).code === 'sd_engine_aborted', String(reason(2)));
  assert.match(reason(2).message, /after 2 of 4 steps/);
  assert.equal(reason(3).message, 'callback broke');
  // The survivor still equals its single run.
  const alone = await sd.generate({ ...euler, prompt: 'fine', seed: 3, numInferenceSteps: 4 });
  assert.ok(maxDiff(fulfilled(outcomes[0]).images[0], alone.images[0]) <= 1);
});

test('previews show each request its own first image', async () => {
  const previews: RgbImage[][] = [[], []];
  const scheduler = 'EulerDiscreteScheduler';
  await sd.generateBatch([
    { scheduler, prompt: 'a red circle', seed: 11, numInferenceSteps: 2, onProgress: (p) => p.preview && previews[0].push(p.preview) },
    { scheduler, prompt: 'a blue square', seed: 12, numInferenceSteps: 2, onProgress: (p) => p.preview && previews[1].push(p.preview) },
  ]);
  const alone: RgbImage[] = [];
  await sd.generate({ scheduler, prompt: 'a blue square', seed: 12, numInferenceSteps: 2, onProgress: (p) => p.preview && alone.push(p.preview) });
  assert.equal(previews[1].length, 2);
  assert.ok(maxDiff(previews[1][1], alone[1]) <= 1);
  assert.ok(maxDiff(previews[0][1], previews[1][1]) > 0);
});

const info: ModelInfo = {
  name: 'm',
  modelDir: '/m',
  width: 512,
  height: 512,
  defaultSteps: 20,
  defaultGuidanceScale: 7.5,
  defaultScheduler: 'PNDMScheduler',
  supportsImg2Img: true,
  sizeMultiple: 64,
  device: 'cpu',
};

test('batchKey groups by size, steps, scheduler and CFG mode, with the model defaults filled in', () => {
  const a = batchKey({ prompt: 'x' }, info);
  assert.equal(a, batchKey({ prompt: 'y', width: 512, numInferenceSteps: 20, guidanceScale: 3, seed: 9, numImagesPerPrompt: 4 }, info));
  assert.notEqual(a, batchKey({ prompt: 'x', width: 448 }, info));
  assert.notEqual(a, batchKey({ prompt: 'x', numInferenceSteps: 21 }, info));
  assert.notEqual(a, batchKey({ prompt: 'x', scheduler: 'EulerDiscreteScheduler' }, info));
  assert.notEqual(a, batchKey({ prompt: 'x', guidanceScale: 1 }, info));
  assert.equal(batchKey({ prompt: 'x', image: gradient(8, 8) }, info), undefined);
});

test('checkBatchable rejects mixed sizes and img2img with how to group them', async () => {
  const folder = readModelFolder(fixture('tiny-sd'));
  const resolve = (o: GenerateOptions) => checkInputs({ seed: 1, ...o }, folder);
  assert.throws(
    () => checkBatchable([resolve({ prompt: 'a' }), resolve({ prompt: 'b', width: 128 })]),
    (e: unknown) => e instanceof EngineError && e.code === 'sd_engine_invalid_input' && /64×64.*128×64.*batchKey/.test(e.message),
  );
  assert.throws(() => checkBatchable([resolve({ prompt: 'a', image: gradient(64, 64) }), resolve({ prompt: 'b' })]), /img2img requests .* run alone/);
  assert.doesNotThrow(() => checkBatchable([resolve({ prompt: 'a', guidanceScale: 2 }), resolve({ prompt: 'b', guidanceScale: 9 })]));
  await assert.rejects(sd.generateBatch([{ prompt: 'a' }, { prompt: 'b', numInferenceSteps: 3 }]), /must share size, steps/);
});

test('withJobBatching: generate calls arriving together with one batchKey run as one generateBatch, each with its own result', async () => {
  const worker = await createEngine({ modelDir: fixture('tiny-sd'), intraOpNumThreads: 1 });
  const batchSizes: number[] = [];
  // Observe the worker engine's calls (the engine itself stays real).
  const observed: Engine = {
    get info() {
      return worker.info;
    },
    generate: (o) => {
      batchSizes.push(1);
      return worker.generate(o);
    },
    generateBatch: (rs) => {
      batchSizes.push(rs.length);
      return worker.generateBatch!(rs);
    },
    close: () => worker.close(),
  };
  const engine = withJobBatching(observed, { maxBatch: 3, windowMs: 50 });
  try {
    const base = { numInferenceSteps: 3, scheduler: 'EulerDiscreteScheduler' } as const;
    const options: GenerateOptions[] = [
      { ...base, prompt: 'one', seed: 1 },
      { ...base, prompt: 'two', seed: 2, numImagesPerPrompt: 2 },
      { ...base, prompt: 'other size', seed: 3, width: 128 },
      { ...base, prompt: 'three', seed: 4 },
      { ...base, prompt: 'four (next batch: max 3)', seed: 5 },
    ];
    const results = await Promise.all(options.map((o) => engine.generate(o)));
    assert.deepEqual(batchSizes.sort(), [1, 1, 3]);
    for (let r = 0; r < options.length; r++) {
      const alone = await sd.generate(options[r]);
      assert.deepEqual(results[r].seeds, alone.seeds);
      alone.images.forEach((img, i) => assert.ok(maxDiff(results[r].images[i], img) <= 1, `request ${r} image ${i}`));
    }
    // Disabled: the engine itself comes back.
    assert.equal(withJobBatching(observed, { maxBatch: 1 }), observed);
  } finally {
    await engine.close();
  }
});
