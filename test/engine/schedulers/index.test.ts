import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator } from '../../../engine/random.ts';
import {
  DDIMScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  LCMScheduler,
  PNDMScheduler,
  createScheduler,
  schedulerNames,
} from '../../../engine/schedulers/index.ts';
import type { SchedulerName } from '../../../engine/types.ts';
import { SD15_CONFIG, assertSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter } from './dummies.ts';

const classes = {
  DDIMScheduler,
  PNDMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  DPMSolverMultistepScheduler,
  LCMScheduler,
} as const;

test('createScheduler follows _class_name, and a name overrides it', () => {
  assert.ok(createScheduler(SD15_CONFIG) instanceof PNDMScheduler);
  for (const name of Object.keys(classes) as SchedulerName[]) {
    assert.ok(createScheduler(SD15_CONFIG, name) instanceof classes[name], name);
  }
  assert.deepEqual([...schedulerNames].sort(), Object.keys(classes).sort());
});

test('an unknown name throws a RangeError listing the valid ones', () => {
  const check = (e: unknown): boolean =>
    e instanceof RangeError && schedulerNames.every((n) => e.message.includes(n)) && (e as { code?: string }).code === 'sd_engine_invalid_input';
  assert.throws(() => createScheduler({ _class_name: 'HeunDiscreteScheduler' }), (e: unknown) => check(e) && /HeunDiscreteScheduler/.test((e as Error).message));
  assert.throws(() => createScheduler({}), check);
  assert.throws(() => createScheduler(SD15_CONFIG, 'Euler' as SchedulerName), (e: unknown) => check(e) && /`scheduler`/.test((e as Error).message));
});

test('a swapped scheduler keeps the model schedule but its own class defaults (timestep_spacing)', () => {
  const euler = createScheduler(SD15_CONFIG, 'EulerDiscreteScheduler');
  euler.setTimesteps(20);
  assert.equal(euler.timesteps[0], 999);
  const ddim = createScheduler(SD15_CONFIG, 'DDIMScheduler');
  ddim.setTimesteps(20);
  assert.equal(ddim.timesteps[0], 951);
});

// A pipeline-shaped loop over every scheduler: SD latents 1×4×64×64, an ε "model", previews each step.
// Speed is measured by `npm run bench:engine` (the pipeline's overhead ratio), not here.
test('every scheduler runs a 16K-float text2img loop and an img2img loop', () => {
  const n = 4 * 64 * 64;
  for (const name of schedulerNames) {
    const steps = name === 'LCMScheduler' ? 8 : 20;
    const s = createScheduler(SD15_CONFIG, name);
    s.setTimesteps(steps);
    const g0 = new TorchGenerator(42);
    let x: Float32Array = g0.randn([1, 4, 64, 64]).map((v) => v * s.initNoiseSigma);
    for (const t of s.timesteps) {
      const eps = s.scaleModelInput(x, t).map((v) => v * 0.3);
      const out = s.step(eps, t, x, [g0]);
      assert.equal(out.prevSample.length, n);
      assert.equal(out.predOriginalSample.length, n);
      x = out.prevSample;
    }
    assert.ok(x.every(Number.isFinite), `${name} produced non-finite values`);

    // img2img with strength 0.5: diffusers' get_timesteps + set_begin_index.
    const i2i = createScheduler(SD15_CONFIG, name);
    i2i.setTimesteps(steps);
    const g = new TorchGenerator(7);
    const tStart = steps - Math.floor(steps * 0.5);
    i2i.setBeginIndex(tStart);
    const timesteps = i2i.timesteps.slice(tStart);
    let y = i2i.addNoise(new Float32Array(n).fill(0.5), new TorchGenerator(1).randn([n]), timesteps[0]);
    for (const t of timesteps) {
      y = i2i.step(i2i.scaleModelInput(y, t).map((v) => v * 0.1), t, y, [g]).prevSample;
    }
    assert.ok(y.every(Number.isFinite), `${name} img2img produced non-finite values`);
  }
});

// diffusers img2img flow (get_timesteps with strength 0.6, set_begin_index where the class has it,
// add_noise at the first kept timestep) on the deterministic dummies, torch.manual_seed(0) for noise.
// Expected sums from diffusers 58eb52c0803e with torch's CPU generator.
test('img2img loops match diffusers for every scheduler', () => {
  const expected: Record<SchedulerName, [number, number[], number]> = {
    DDIMScheduler: [4, [501, 401], 548.1894],
    PNDMScheduler: [4, [601, 501], 541.4952],
    EulerDiscreteScheduler: [4, [555, 444], 570.6073],
    EulerAncestralDiscreteScheduler: [4, [555, 444], 544.2682],
    DPMSolverMultistepScheduler: [4, [599, 500], 572.2562],
    LCMScheduler: [2, [499, 259], 489.6027],
  };
  for (const name of schedulerNames) {
    const [tStartExpected, firstTimesteps, sum] = expected[name];
    const s = createScheduler(SD15_CONFIG, name);
    const steps = name === 'LCMScheduler' ? 4 : 10;
    s.setTimesteps(steps);
    const tStart = steps - Math.min(Math.trunc(steps * 0.6), steps);
    assert.equal(tStart, tStartExpected);
    s.setBeginIndex(tStart);
    const timesteps = s.timesteps.slice(tStart);
    assert.deepEqual(timesteps.slice(0, 2), firstTimesteps, name);
    const g = new TorchGenerator(0);
    let x = s.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]);
    for (const t of timesteps) {
      const eps = dummyModel(s.scaleModelInput(x, t), t).map((v) => v * 0.5);
      x = s.step(eps, t, x, [g]).prevSample;
    }
    assertSumMean(x, sum, sum / 768);
  }
});

// Text2img as the SD pipeline runs it: SD 1.5 config, 20 steps (LCM 4), latents = randn(2,4,8,8, seed 42) ·
// init_noise_sigma, ε = 0.8·tanh(scaled input), one generator (seed 0) for the whole batch. Expected sum |x|
// and the first/last values from diffusers 58eb52c0803e on torch's CPU generator.
test('SD 1.5 text2img loops match diffusers, including Karras, SDE and ancestral noise', () => {
  const cases: [SchedulerName, Record<string, unknown>, number, number, number][] = [
    ['DDIMScheduler', {}, 1630.10139, 12.664803, 0.744259],
    ['PNDMScheduler', {}, 1602.91029, 12.623006, 0.710175],
    ['EulerDiscreteScheduler', {}, 2113.81464, 16.651665, 0.854623],
    ['EulerDiscreteScheduler', { use_karras_sigmas: true }, 2109.87498, 16.63834, 0.857437],
    ['EulerAncestralDiscreteScheduler', {}, 1875.03567, 0.316108, -0.395654],
    ['DPMSolverMultistepScheduler', {}, 2089.99213, 16.676258, 0.806085],
    ['DPMSolverMultistepScheduler', { use_karras_sigmas: true }, 2082.95872, 16.664078, 0.799605],
    ['DPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++', use_karras_sigmas: true }, 2036.81351, 0.40727, -0.282797],
    ['LCMScheduler', {}, 1584.63143, 5.315251, -2.484413],
    ['EulerAncestralDiscreteScheduler', { timestep_spacing: 'trailing', prediction_type: 'v_prediction' }, 165.86118, -0.039458, -0.08509],
  ];
  const f = Math.fround;
  for (const [name, extra, sum, first, last] of cases) {
    const label = `${name} ${JSON.stringify(extra)}`;
    const s = createScheduler({ ...SD15_CONFIG, ...extra }, name);
    s.setTimesteps(name === 'LCMScheduler' ? 4 : 20);
    const init = new TorchGenerator(42).randn([2, 4, 8, 8]);
    let x: Float32Array = init.map((v) => v * s.initNoiseSigma);
    const g = new TorchGenerator(0);
    for (const t of s.timesteps) {
      const eps = s.scaleModelInput(x, t).map((v) => f(Math.tanh(v)) * 0.8);
      x = s.step(eps, t, x, [g]).prevSample;
    }
    let total = 0;
    for (const v of x) total += Math.abs(v);
    assert.ok(Math.abs(total - sum) < 1e-2, `${label}: sum ${total}, expected ${sum}`);
    assert.ok(Math.abs(x[0] - first) < 1e-4 && Math.abs(x[x.length - 1] - last) < 1e-4, `${label}: ends ${x[0]}, ${x[x.length - 1]}`);
  }
});

// The pipeline feeds each step's prevSample into the next step and keeps only the last: schedulers may return
// reused buffers, provided a step's outputs survive the next step and the results equal fresh arrays.
test('step outputs stay valid through the next step, reuse a few buffers, and equal a run that copies every output', () => {
  for (const name of schedulerNames) {
    const run = (copy: boolean) => {
      const s = createScheduler(SD15_CONFIG, name);
      s.setTimesteps(10);
      const g = new TorchGenerator(3);
      let x: Float32Array = new TorchGenerator(1).randn([2, 4, 8, 8]).map((v) => v * s.initNoiseSigma);
      const buffers = new Set<ArrayBufferLike>();
      let previous: { prevSample: Float32Array; copy: Float32Array } | undefined;
      const xs: Float32Array[] = [];
      for (const t of s.timesteps) {
        const out = s.step(dummyModel(s.scaleModelInput(x, t), t), t, x, [g, new TorchGenerator(4)]);
        if (previous) assert.deepEqual(previous.prevSample, previous.copy, `${name}: the previous step's output changed`);
        previous = { prevSample: out.prevSample, copy: out.prevSample.slice() };
        buffers.add(out.prevSample.buffer);
        x = copy ? out.prevSample.slice() : out.prevSample;
        xs.push(x.slice());
      }
      return { xs, buffers: buffers.size };
    };
    const reused = run(false);
    const copied = run(true);
    assert.deepEqual(reused.xs, copied.xs, name);
    if (name !== 'DPMSolverMultistepScheduler') assert.ok(reused.buffers <= 2, `${name}: ${reused.buffers} output buffers for 10 steps`);
  }
});
