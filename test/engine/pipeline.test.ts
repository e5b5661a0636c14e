import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { StableDiffusionPipeline } from '../../engine/pipeline.ts';
import type { SchedulerName, StepProgress } from '../../engine/types.ts';
import { fixture, gradient, isCode, meanAbsDiff, sameImage, variants } from './helpers.ts';

let sd: StableDiffusionPipeline;
before(async () => {
  sd = await StableDiffusionPipeline.load(fixture('tiny-sd'), { intraOpNumThreads: 1 });
});
after(() => sd.release());

const base = { prompt: 'a red circle on a blue square', seed: 42, numInferenceSteps: 4 } as const;

test('every fixture variant loads and generates a txt2img and an img2img image', async () => {
  for (const variant of variants) {
    const pipe = await StableDiffusionPipeline.load(fixture(variant), { intraOpNumThreads: 1 });
    try {
      const { images, seeds, timings } = await pipe.generate({ ...base, numImagesPerPrompt: 2 });
      assert.equal(images.length, 2, variant);
      assert.deepEqual(seeds, [42, 43], variant);
      assert.equal(images[0].width, pipe.info.width, variant);
      assert.equal(images[0].data.length, 64 * 64 * 3, variant);
      assert.ok(new Set(images[0].data).size > 50, `${variant}: a varied image`);
      assert.ok(timings.modelMs > 0 && timings.totalMs >= timings.modelMs, variant);
      const variation = await pipe.generate({ ...base, image: images[0], strength: 0.5 });
      assert.equal(variation.images[0].data.length, 64 * 64 * 3, variant);
      assert.ok(!sameImage(variation.images[0], images[0]), `${variant}: img2img changes the image`);
    } finally {
      await pipe.release();
    }
  }
});

test('txt2img works with every scheduler, and the scheduler matters', async () => {
  const schedulers: SchedulerName[] = ['DDIMScheduler', 'PNDMScheduler', 'EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'DPMSolverMultistepScheduler', 'LCMScheduler'];
  const images = [];
  for (const scheduler of schedulers) {
    const { images: [img] } = await sd.generate({ ...base, scheduler });
    assert.ok(img.data.length === 64 * 64 * 3 && new Set(img.data).size > 50, scheduler);
    images.push(img);
  }
  for (let i = 1; i < images.length; i++) assert.ok(!sameImage(images[0], images[i]), `${schedulers[i]} differs from DDIM`);
});

test('the same seed gives the same image; another seed another image', async () => {
  const a = await sd.generate(base);
  const b = await sd.generate(base);
  const c = await sd.generate({ ...base, seed: 43 });
  assert.ok(sameImage(a.images[0], b.images[0]));
  assert.ok(meanAbsDiff(a.images[0], c.images[0]) > 1);
});

test('image i of a batch with seed s equals a single generation with seed s + i (stochastic scheduler too)', async () => {
  for (const scheduler of ['PNDMScheduler', 'EulerAncestralDiscreteScheduler'] as const) {
    const batch = await sd.generate({ ...base, scheduler, numImagesPerPrompt: 3 });
    for (const i of [0, 1, 2]) {
      const single = await sd.generate({ ...base, scheduler, seed: base.seed + i });
      assert.ok(sameImage(batch.images[i], single.images[0]), `${scheduler} image ${i}`);
    }
  }
});

test('the negative prompt and guidance scale change the image (CFG batch uncond first)', async () => {
  const plain = await sd.generate(base);
  const negative = await sd.generate({ ...base, negativePrompt: 'blurry' });
  const noCfg = await sd.generate({ ...base, guidanceScale: 1 });
  assert.ok(!sameImage(plain.images[0], negative.images[0]));
  assert.ok(!sameImage(plain.images[0], noCfg.images[0]));
  // guidance ≤ 1 runs no unconditional pass, so the negative prompt cannot matter, and we say so.
  const noCfgNegative = await sd.generate({ ...base, guidanceScale: 1, negativePrompt: 'blurry' });
  assert.ok(sameImage(noCfg.images[0], noCfgNegative.images[0]));
  assert.match(noCfgNegative.warnings.join(' '), /negative prompt is ignored/);
});

test('img2img: strength controls how far the result moves from the init image', async () => {
  const init = gradient(64, 64);
  const light = await sd.generate({ ...base, numInferenceSteps: 10, image: init, strength: 0.2 });
  const heavy = await sd.generate({ ...base, numInferenceSteps: 10, image: init, strength: 1 });
  assert.ok(meanAbsDiff(light.images[0], init) < meanAbsDiff(heavy.images[0], init));
  // A different-size init image is resized to width × height.
  const resized = await sd.generate({ ...base, image: gradient(100, 60), strength: 0.5 });
  assert.equal(resized.images[0].width, 64);
});

test('progress: one callback per UNet step with a latent-size preview (TAESD here: full size)', async () => {
  const steps: StepProgress[] = [];
  await sd.generate({ ...base, scheduler: 'DDIMScheduler', onProgress: (p) => steps.push(p) });
  assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4]);
  assert.ok(steps.every((s) => s.totalSteps === 4 && s.preview?.width === 64 && s.preview.data.length === 64 * 64 * 3));
  const linear = await StableDiffusionPipeline.load(fixture('tiny-sd-float-timestep'), { intraOpNumThreads: 1 });
  const linearSteps: StepProgress[] = [];
  await linear.generate({ ...base, width: 128, height: 64, previewEvery: 2, onProgress: (p) => linearSteps.push(p) });
  await linear.release();
  // PNDM runs one extra UNet evaluation; previews every 2nd step and on the last one; one pixel per latent cell.
  assert.deepEqual(linearSteps.map((s) => [s.step, s.preview ? `${s.preview.width}x${s.preview.height}` : '-']), [
    [1, '-'], [2, '16x8'], [3, '-'], [4, '16x8'], [5, '16x8'],
  ]);
});

test('an AbortSignal stops the loop at the next step with sd_engine_aborted', async () => {
  const controller = new AbortController();
  const seen: number[] = [];
  await assert.rejects(
    sd.generate({ ...base, numInferenceSteps: 20, signal: controller.signal, onProgress: ({ step }) => {
      seen.push(step);
      if (step === 3) controller.abort();
    } }),
    isCode('sd_engine_aborted', /after 3 of 21 steps/),
  );
  assert.deepEqual(seen, [1, 2, 3]);
});

test('LCM: no CFG batch, guidance embedded in timestep_cond, negative prompt ignored', async () => {
  const lcm = await StableDiffusionPipeline.load(fixture('tiny-lcm'), { intraOpNumThreads: 1 });
  try {
    assert.equal(lcm.info.defaultScheduler, 'LCMScheduler');
    const a = await lcm.generate({ ...base, guidanceScale: 8.5 });
    const b = await lcm.generate({ ...base, guidanceScale: 2 });
    const c = await lcm.generate({ ...base, guidanceScale: 8.5, negativePrompt: 'blurry' });
    assert.ok(!sameImage(a.images[0], b.images[0]), 'guidance reaches the UNet through timestep_cond');
    assert.ok(sameImage(a.images[0], c.images[0]));
    assert.match(c.warnings.join(' '), /LCM models embed guidance/);
  } finally {
    await lcm.release();
  }
});

test('fp16 model: images come out like the fp32 path (finite, varied)', async () => {
  const fp16 = await StableDiffusionPipeline.load(fixture('tiny-sd-fp16'), { intraOpNumThreads: 1 });
  try {
    const { images } = await fp16.generate(base);
    assert.ok(new Set(images[0].data).size > 50);
  } finally {
    await fp16.release();
  }
});

test('long prompts are truncated with a warning naming the dropped text', async () => {
  const words = Array.from({ length: 90 }, (_, i) => (i === 85 ? 'zebra' : 'a')).join(' ');
  const { warnings } = await sd.generate({ ...base, prompt: words });
  assert.match(warnings.join(' '), /longer than 77 tokens.*zebra/);
});

test('invalid inputs fail before any work with messages that teach', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ width: 100 }, /`width` to be a multiple of 16 for this model \(its VAE and UNet downsample by 16\), got `100`; try 96 or 112/],
    [{ height: 4000 }, /`height` to be an integer from 16 to 2048, got `4000` \(number\)/],
    [{ numInferenceSteps: 'abc' }, /`numInferenceSteps` to be an integer from 1 to 150, got `abc` \(string\)/],
    [{ guidanceScale: -1 }, /`guidanceScale` to be a number from 0 to 30/],
    [{ seed: 1.5 }, /`seed` to be an integer from 0 to 4294967295/],
    [{ numImagesPerPrompt: 0 }, /`numImagesPerPrompt` to be an integer from 1 to 16/],
    [{ scheduler: 'KarrasVe' }, /`scheduler` to be one of .*DDIMScheduler.*KarrasVe/],
    [{ strength: 0 }, /`strength` to be a number above 0 to 1/],
    [{ prompt: 42 }, /`prompt` to be a string, got `42` \(number\)/],
    [{ image: { width: 2, height: 2, data: new Uint8Array(3) } }, /`image` to be an RgbImage/],
    [{ image: gradient(64, 64), strength: 0.1, numInferenceSteps: 4 }, /leaves no denoising step/],
  ];
  for (const [override, pattern] of cases) {
    await assert.rejects(sd.generate({ ...base, ...override } as never), isCode('sd_engine_invalid_input', pattern));
  }
});

test('a seed near 2^32 wraps for the next images, as torch.manual_seed does', async () => {
  const { seeds } = await sd.generate({ ...base, seed: 4294967295, numImagesPerPrompt: 2, numInferenceSteps: 1 });
  assert.deepEqual(seeds, [4294967295, 0]);
});
