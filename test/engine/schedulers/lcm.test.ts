import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator } from '../../../engine/random.ts';
import { LCMScheduler } from '../../../engine/schedulers/lcm.ts';
import { assertSumMean, dummyModel, dummySampleDeter } from './dummies.ts';

// diffusers tests/schedulers/test_scheduler_lcm.py (sum tolerance 1e-3 there).
const base = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', prediction_type: 'epsilon' };

function fullLoop(steps: number, generators: TorchGenerator[]): Float32Array {
  const s = new LCMScheduler(base);
  s.setTimesteps(steps);
  let x = dummySampleDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, generators).prevSample;
  return x;
}

test('one step: 18.7097 / 0.0244', () => assertSumMean(fullLoop(1, [new TorchGenerator(0)]), 18.7097, 0.0244, 1e-3));
test('10 steps: 197.7616 / 0.2575', () => assertSumMean(fullLoop(10, [new TorchGenerator(0)]), 197.7616, 0.2575, 1e-3));
test('4 steps with a generator per batch item (diffusers generator list): 199.5150 / 0.2598', () =>
  assertSumMean(fullLoop(4, [0, 1, 2, 3].map((seed) => new TorchGenerator(seed))), 199.515, 0.25979, 1e-3));

test('timesteps for 1, 2, 4, 8 and 10 steps', () => {
  const s = new LCMScheduler({});
  const table: [number, number[]][] = [
    [1, [999]],
    [2, [999, 499]],
    [4, [999, 759, 499, 259]],
    [8, [999, 879, 759, 639, 499, 379, 259, 139]],
    [10, [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]],
  ];
  for (const [n, expected] of table) {
    s.setTimesteps(n);
    assert.deepEqual(s.timesteps, expected, `${n} steps`);
  }
  s.setTimesteps(4, { strength: 0.5 });
  assert.deepEqual(s.timesteps, [499, 379, 259, 139]);
  assert.throws(() => s.setTimesteps(51), /at most original_inference_steps/);
});

test('predOriginalSample is `denoised` and the last step returns it without noise', () => {
  const s = new LCMScheduler(base);
  s.setTimesteps(2);
  const g = new TorchGenerator(0);
  const x = dummySampleDeter();
  const first = s.step(dummyModel(x, 999), 999, x, [g]);
  // c_out ≈ 1 and c_skip ≈ 0 at t = 999: denoised ≈ x0.
  const a = s.schedule.alphasCumprod[999];
  const eps = dummyModel(x, 999);
  assert.ok(Math.abs(first.predOriginalSample[7] - (x[7] - Math.sqrt(1 - a) * eps[7]) / Math.sqrt(a)) < 1e-4);
  const last = s.step(dummyModel(first.prevSample, 499), 499, first.prevSample, [g]);
  assert.deepEqual(Array.from(last.prevSample), Array.from(last.predOriginalSample));
  assert.notEqual(last.prevSample, last.predOriginalSample);
  // One 768-value draw happened (first step only).
  const reference = new TorchGenerator(0);
  reference.randn([768]);
  assert.equal(g.nextUint32(), reference.nextUint32());
});

test('img2img: setBeginIndex picks the step and addNoise uses ᾱ_t', () => {
  const s = new LCMScheduler(base);
  s.setTimesteps(4);
  s.setBeginIndex(2);
  const t = s.timesteps[2];
  const a = s.schedule.alphasCumprod[t];
  const noisy = s.addNoise(new Float32Array([1]), new Float32Array([2]), t);
  assert.ok(Math.abs(noisy[0] - (Math.sqrt(a) + 2 * Math.sqrt(1 - a))) < 1e-6);
  s.step(new Float32Array(4), t, new Float32Array(4), [new TorchGenerator(1)]);
  assert.equal(s.stepIndex, 3);
});
