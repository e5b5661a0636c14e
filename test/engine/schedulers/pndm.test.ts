import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNDMScheduler } from '../../../engine/schedulers/pndm.ts';
import { SD15_CONFIG, assertSumMean, dummyModel, dummySampleDeter } from './dummies.ts';

// diffusers tests/schedulers/test_scheduler_pndm.py: skip_prk_steps keeps its default (false), so the loop
// runs step_prk over prk_timesteps and then step_plms over plms_timesteps.
const base = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
  const s = new PNDMScheduler({ ...base, ...extra });
  s.setTimesteps(10);
  let x = dummySampleDeter();
  for (const t of s.prkTimesteps) x = s.stepPrk(dummyModel(x, t), t, x).prevSample;
  for (const t of s.plmsTimesteps) x = s.stepPlms(dummyModel(x, t), t, x).prevSample;
  return x;
}

test('full loop, no noise: 198.1318 / 0.2580', () => assertSumMean(fullLoop(), 198.1318, 0.258));
test('full loop, v_prediction: 67.3986 / 0.0878', () => assertSumMean(fullLoop({ prediction_type: 'v_prediction' }), 67.3986, 0.0878));
test('full loop, set_alpha_to_one=True, beta_start 0.01: 230.0399 / 0.2995', () =>
  assertSumMean(fullLoop({ set_alpha_to_one: true, beta_start: 0.01 }), 230.0399, 0.2995));
test('full loop, set_alpha_to_one=False, beta_start 0.01: 186.9482 / 0.2434', () =>
  assertSumMean(fullLoop({ set_alpha_to_one: false, beta_start: 0.01 }), 186.9482, 0.2434));

test('step() dispatches PRK then PLMS like the explicit loop', () => {
  const s = new PNDMScheduler(base);
  s.setTimesteps(10);
  let x = dummySampleDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
  assert.deepEqual(Array.from(x), Array.from(fullLoop()));
});

test('steps_offset=1, 10 steps: PRK + PLMS timesteps', () => {
  const s = new PNDMScheduler({ ...base, steps_offset: 1 });
  s.setTimesteps(10);
  assert.deepEqual(s.timesteps, [901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1]);
});

test('SD 1.5 (skip_prk_steps) 20 steps: 21 evaluations, the second timestep repeats', () => {
  const s = new PNDMScheduler(SD15_CONFIG);
  s.setTimesteps(20);
  assert.deepEqual(s.timesteps, [951, 901, 901, 851, 801, 751, 701, 651, 601, 551, 501, 451, 401, 351, 301, 251, 201, 151, 101, 51, 1]);
  s.setTimesteps(50);
  assert.equal(s.timesteps.length, 51);
  assert.deepEqual(s.timesteps.slice(0, 4), [981, 961, 961, 941]);
  assert.deepEqual(s.timesteps.slice(-2), [21, 1]);
});

test('SD 1.5 PLMS loop runs and its x0 preview tracks the sample', () => {
  const s = new PNDMScheduler(SD15_CONFIG);
  s.setTimesteps(20);
  let x = dummySampleDeter();
  let last: Float32Array = x;
  for (const t of s.timesteps) {
    const out = s.step(dummyModel(x, t).map((v) => v * 0.1), t, x);
    x = out.prevSample;
    last = out.predOriginalSample;
  }
  assert.ok(x.every(Number.isFinite));
  // With ε ≈ 0.1·x the final x0 estimate is close to the final sample.
  for (let i = 0; i < x.length; i += 97) assert.ok(Math.abs(last[i] - x[i]) < 0.05 * Math.abs(x[i]) + 1e-3, `x0[${i}] ${last[i]} vs ${x[i]}`);
});

test('stepPlms without the PRK warm-up is refused', () => {
  const s = new PNDMScheduler(base);
  s.setTimesteps(10);
  const x = dummySampleDeter();
  assert.throws(() => s.stepPlms(x, 901, x), /PRK/);
});
