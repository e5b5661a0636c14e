import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator } from '../../../engine/random.ts';
import { EulerAncestralDiscreteScheduler } from '../../../engine/schedulers/euler-ancestral-discrete.ts';
import { SD15_CONFIG, assertSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter, scaled } from './dummies.ts';

// diffusers tests/schedulers/test_scheduler_euler_ancestral.py (N = 1100, 10 steps, torch.manual_seed(0)).
const base = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(extra: Record<string, unknown>, generators: TorchGenerator[], tStart = 0): Float32Array {
  const s = new EulerAncestralDiscreteScheduler({ ...base, ...extra });
  s.setTimesteps(10);
  let x = scaled(dummySampleDeter(), s.initNoiseSigma);
  const timesteps = s.timesteps.slice(tStart);
  if (tStart > 0) x = s.addNoise(x, dummyNoiseDeter(), timesteps[0]);
  for (const t of timesteps) {
    x = s.scaleModelInput(x, t);
    x = s.step(dummyModel(x, t), t, x, generators).prevSample;
  }
  return x;
}

test('full loop, no noise: 152.3192 / 0.1983', () => assertSumMean(fullLoop({}, [new TorchGenerator(0)]), 152.3192, 0.1983));
test('full loop, v_prediction: 108.4439 / 0.1412', () =>
  assertSumMean(fullLoop({ prediction_type: 'v_prediction' }, [new TorchGenerator(0)]), 108.4439, 0.1412));
test('full loop with noise from t_start = 8: 56163.0508 / 73.1290', () =>
  assertSumMean(fullLoop({}, [new TorchGenerator(0)], 8), 56163.0508, 73.129));

test('a generator per batch item equals diffusers with a generator list: 153.5580 / 0.1999', () => {
  assertSumMean(fullLoop({}, [0, 1, 2, 3].map((seed) => new TorchGenerator(seed))), 153.558, 0.19995);
});

test('noise is drawn on every step, the last included (stream parity)', () => {
  const s = new EulerAncestralDiscreteScheduler(SD15_CONFIG);
  s.setTimesteps(3);
  const g = new TorchGenerator(9);
  let x = dummySampleDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, s.scaleModelInput(x, t), [g]).prevSample;
  const reference = new TorchGenerator(9);
  for (let i = 0; i < 3; i++) reference.randn([x.length]);
  assert.equal(g.nextUint32(), reference.nextUint32());
});

test('one generator over the whole batch differs from per-item generators, and both are reproducible', () => {
  const a = fullLoop({}, [new TorchGenerator(0)]);
  const b = fullLoop({}, [new TorchGenerator(0)]);
  assert.deepEqual(Array.from(a), Array.from(b));
  const c = fullLoop({}, [0, 1, 2, 3].map((seed) => new TorchGenerator(seed)));
  assert.notDeepEqual(Array.from(a), Array.from(c));
  // Batch item 0 with generator 0 alone equals item 0 of the per-item run.
  const s = new EulerAncestralDiscreteScheduler(base);
  s.setTimesteps(10);
  let x = scaled(dummySampleDeter().subarray(0, 192), s.initNoiseSigma);
  const g = new TorchGenerator(0);
  for (const t of s.timesteps) {
    x = s.scaleModelInput(x, t);
    x = s.step(dummyModel(x, t), t, x, [g]).prevSample;
  }
  assert.deepEqual(Array.from(x), Array.from(c.subarray(0, 192)));
});

test('generators must split the batch evenly', () => {
  const s = new EulerAncestralDiscreteScheduler(base);
  s.setTimesteps(10);
  const x = dummySampleDeter();
  const t = s.timesteps[0];
  assert.throws(() => s.step(x, t, x, [1, 2, 3, 4, 5].map((seed) => new TorchGenerator(seed))), /generators\.length/);
});

test('init_noise_sigma: max sigma for linspace, √(σ²+1) for leading', () => {
  const linspace = new EulerAncestralDiscreteScheduler(SD15_CONFIG);
  linspace.setTimesteps(20);
  assert.ok(Math.abs(linspace.initNoiseSigma - 14.6147) < 1e-4);
  const leading = new EulerAncestralDiscreteScheduler({ ...SD15_CONFIG, timestep_spacing: 'leading' });
  leading.setTimesteps(20);
  assert.ok(Math.abs(leading.initNoiseSigma - 11.0736) < 1e-4);
});
