import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator } from '../../../engine/random.ts';
import { DDIMScheduler } from '../../../engine/schedulers/ddim.ts';
import { SD15_CONFIG, assertSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter } from './dummies.ts';

// diffusers tests/schedulers/test_scheduler_ddim.py
const base = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', clip_sample: true };

function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
  const s = new DDIMScheduler({ ...base, ...extra });
  s.setTimesteps(10);
  let x = dummySampleDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
  return x;
}

test('full loop, no noise: 172.0067 / 0.223967', () => assertSumMean(fullLoop(), 172.0067, 0.223967));
test('full loop, v_prediction: 52.5302 / 0.0684', () => assertSumMean(fullLoop({ prediction_type: 'v_prediction' }), 52.5302, 0.0684));
test('full loop, set_alpha_to_one=True, beta_start 0.01: 149.8295 / 0.1951', () =>
  assertSumMean(fullLoop({ set_alpha_to_one: true, beta_start: 0.01 }), 149.8295, 0.1951));
test('full loop, set_alpha_to_one=False, beta_start 0.01: 149.0784 / 0.1941', () =>
  assertSumMean(fullLoop({ set_alpha_to_one: false, beta_start: 0.01 }), 149.0784, 0.1941));

test('full loop with noise from t_start = 8: 354.5418 / 0.4616', () => {
  const s = new DDIMScheduler(base);
  s.setTimesteps(10);
  const timesteps = s.timesteps.slice(8);
  let x = s.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]);
  for (const t of timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
  assertSumMean(x, 354.5418, 0.4616);
});

test('steps_offset=1, 5 steps: [801, 601, 401, 201, 1]', () => {
  const s = new DDIMScheduler({ ...base, steps_offset: 1 });
  s.setTimesteps(5);
  assert.deepEqual(s.timesteps, [801, 601, 401, 201, 1]);
});

test('_get_variance values', () => {
  const s = new DDIMScheduler(base);
  assert.ok(Math.abs(s.getVariance(0, 0)) < 1e-5);
  for (const [t, p, v] of [
    [420, 400, 0.14771],
    [980, 960, 0.3246],
    [487, 486, 0.00979],
    [999, 998, 0.02],
  ]) {
    assert.ok(Math.abs(s.getVariance(t, p) - v) < 1e-5, `variance(${t}, ${p}) = ${s.getVariance(t, p)}, expected ${v}`);
  }
});

test('SD 1.5 config, 20 steps: [951, 901, …, 51, 1] (leading, offset 1)', () => {
  const s = new DDIMScheduler(SD15_CONFIG);
  s.setTimesteps(20);
  assert.deepEqual(s.timesteps, Array.from({ length: 20 }, (_, i) => 951 - 50 * i));
  assert.equal(s.initNoiseSigma, 1);
});

test('trailing and linspace spacing', () => {
  const trailing = new DDIMScheduler({ ...SD15_CONFIG, timestep_spacing: 'trailing' });
  trailing.setTimesteps(4);
  assert.deepEqual(trailing.timesteps, [999, 749, 499, 249]);
  const linspace = new DDIMScheduler({ ...SD15_CONFIG, timestep_spacing: 'linspace' });
  linspace.setTimesteps(4);
  assert.deepEqual(linspace.timesteps, [999, 666, 333, 0]);
});

test('predOriginalSample is x0 from ε, clipped to clip_sample_range', () => {
  const s = new DDIMScheduler(base);
  s.setTimesteps(10);
  const x = dummySampleDeter();
  const eps = x.map((v) => -3 * v);
  const out = s.step(eps, 901, x);
  const a = s.schedule.alphasCumprod[901];
  for (let i = 0; i < x.length; i++) {
    const expected = Math.min(1, (x[i] - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a));
    assert.ok(Math.abs(out.predOriginalSample[i] - expected) < 1e-6, `x0[${i}]`);
  }
  assert.ok(out.predOriginalSample.some((v) => v === 1), 'expected some x0 values to be clipped');
});

// Reference values from diffusers' DDIMScheduler with torch CPU generators (eta is a step argument there).
function etaLoop(generators: TorchGenerator[]): Float32Array {
  const s = new DDIMScheduler(base);
  s.eta = 0.5;
  s.setTimesteps(10);
  let x = dummySampleDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, generators).prevSample;
  return x;
}

test('eta 0.5 with one generator for the whole batch: 238.7260 / 0.3108', () => {
  assertSumMean(etaLoop([new TorchGenerator(0)]), 238.726, 0.31084);
});

test('eta 0.5 with a generator per batch item (diffusers generator list): 248.6323 / 0.3237', () => {
  assertSumMean(etaLoop([0, 1, 2, 3].map((seed) => new TorchGenerator(seed))), 248.6323, 0.32374);
});

test('wrong lengths and unknown timesteps throw teaching errors', () => {
  const s = new DDIMScheduler(base);
  assert.throws(() => s.step(new Float32Array(4), 1, new Float32Array(4)), /setTimesteps/);
  s.setTimesteps(10);
  assert.throws(() => s.step(new Float32Array(4), 901, new Float32Array(5)), /same length/);
  assert.throws(() => s.step(new Float32Array(4), 1000, new Float32Array(4)), /integer timestep from 0 to 999/);
  assert.throws(() => new DDIMScheduler({ beta_schedule: 'cubic' }), /`beta_schedule` in the DDIMScheduler config to be one of linear, scaled_linear, squaredcos_cap_v2, got `cubic`/);
  assert.throws(() => s.setTimesteps(0), /integer from 1 to 1000/);
});
