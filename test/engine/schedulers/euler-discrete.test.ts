import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator } from '../../../engine/random.ts';
import { EulerDiscreteScheduler } from '../../../engine/schedulers/euler-discrete.ts';
import { SD15_CONFIG, assertCloseArray, assertSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter, scaled } from './dummies.ts';

// diffusers tests/schedulers/test_scheduler_euler.py (N = 1100, 10 steps). As there, the *scaled* sample
// is what goes to step().
const base = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(extra: Record<string, unknown> = {}, tStart = 0): Float32Array {
  const s = new EulerDiscreteScheduler({ ...base, ...extra });
  s.setTimesteps(10);
  const generator = new TorchGenerator(0);
  let x = scaled(dummySampleDeter(), s.initNoiseSigma);
  const timesteps = s.timesteps.slice(tStart);
  if (tStart > 0) x = s.addNoise(x, dummyNoiseDeter(), timesteps[0]);
  for (const t of timesteps) {
    x = s.scaleModelInput(x, t);
    x = s.step(dummyModel(x, t), t, x, [generator]).prevSample;
  }
  return x;
}

test('full loop, no noise: 10.0807 / 0.0131', () => assertSumMean(fullLoop(), 10.0807, 0.0131));
test('full loop, v_prediction: 0.0002 / 2.2676e-06', () => assertSumMean(fullLoop({ prediction_type: 'v_prediction' }), 0.0002, 2.2676e-6));
test('full loop, Karras sigmas: 124.52299499511719 / 0.16213932633399963', () =>
  assertSumMean(fullLoop({ use_karras_sigmas: true }), 124.52299499511719, 0.16213932633399963));
test('full loop with noise from t_start = 8: 57062.9297 / 74.3007', () => assertSumMean(fullLoop({}, 8), 57062.9297, 74.3007));

test('SD 1.5 with leading spacing, 20 steps: timesteps, sigmas, init_noise_sigma', () => {
  const s = new EulerDiscreteScheduler({ ...SD15_CONFIG, timestep_spacing: 'leading' });
  s.setTimesteps(20);
  assert.deepEqual(s.timesteps.slice(0, 3), [951, 901, 851]);
  assert.equal(s.timesteps.length, 20);
  assertCloseArray(s.sigmas.subarray(0, 3), [11.0283, 8.3907, 6.5064], 1e-4, 'sigmas');
  assert.equal(s.sigmas.length, 21);
  assert.equal(s.sigmas[20], 0);
  assert.ok(Math.abs(s.initNoiseSigma - 11.0736) < 1e-4, `init_noise_sigma ${s.initNoiseSigma}`);
});

test('SD 1.5 with the class default (linspace), 20 steps: float timesteps', () => {
  const s = new EulerDiscreteScheduler(SD15_CONFIG);
  s.setTimesteps(20);
  assertCloseArray(s.timesteps.slice(0, 3), [999, 946.421, 893.842], 1e-3, 'timesteps');
  assertCloseArray(s.sigmas.subarray(0, 3), [14.6147, 10.7469, 8.0815], 1e-4, 'sigmas');
  assert.ok(Math.abs(s.initNoiseSigma - 14.6147) < 1e-4);
  // The training-schedule extremes of SD 1/2.
  assert.ok(Math.abs(s.schedule.alphasCumprod[0] - 0.99915) < 1e-5);
  assert.ok(Math.abs(s.schedule.alphasCumprod[999] - 0.00466) < 1e-5);
});

test('SD-Turbo style trailing, 1 step: t = 999, sigma 14.6146', () => {
  const s = new EulerDiscreteScheduler({ ...SD15_CONFIG, timestep_spacing: 'trailing' });
  s.setTimesteps(1);
  assert.deepEqual(s.timesteps, [999]);
  assert.ok(Math.abs(s.sigmas[0] - 14.614655) < 1e-4);
});

test('scaleModelInput divides by √(σ²+1) and the step index follows the timesteps', () => {
  const s = new EulerDiscreteScheduler(SD15_CONFIG);
  s.setTimesteps(5);
  const x = dummySampleDeter();
  const t0 = s.timesteps[0];
  const sigma = s.sigmas[0];
  const y = s.scaleModelInput(x, t0);
  assert.ok(Math.abs(y[100] - x[100] / Math.sqrt(sigma * sigma + 1)) < 1e-7);
  assert.equal(s.stepIndex, 0);
  const out = s.step(dummyModel(y, t0), t0, y);
  assert.equal(s.stepIndex, 1);
  // epsilon: x0 = x − σ·ε
  assert.ok(Math.abs(out.predOriginalSample[5] - (y[5] - sigma * dummyModel(y, t0)[5])) < 1e-6);
});

test('img2img: setBeginIndex starts at that step and addNoise uses its sigma', () => {
  const s = new EulerDiscreteScheduler(SD15_CONFIG);
  s.setTimesteps(10);
  s.setBeginIndex(4);
  const noisy = s.addNoise(new Float32Array([1, 2]), new Float32Array([1, -1]), s.timesteps[4]);
  assertCloseArray(noisy, [1 + s.sigmas[4], 2 - s.sigmas[4]], 1e-5, 'noisy');
  s.scaleModelInput(new Float32Array(2), s.timesteps[4]);
  assert.equal(s.stepIndex, 4);
});

test('use_beta_sigmas is refused with a pointer to the alternatives', () => {
  assert.throws(() => new EulerDiscreteScheduler({ use_beta_sigmas: true }), /use_karras_sigmas/);
});
