// diffusers' deterministic test fixtures (tests/schedulers/test_schedulers.py), in NCHW order, plus the
// sum/mean of |x| that its full-loop tests assert.
import assert from 'node:assert/strict';

const f = Math.fround;
export const BATCH = 4;
const C = 3;
const H = 8;
const W = 8;
const N = BATCH * C * H * W;

/** arange(768).reshape(3,8,8,4)/768 permuted to (4,3,8,8): element [b,c,h,w] = (((c·8+h)·8+w)·4+b)/768. */
function deter(flip: boolean): Float32Array {
  const out = new Float32Array(N);
  for (let b = 0; b < BATCH; b++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const k = ((c * H + h) * W + w) * BATCH + b;
          out[((b * C + c) * H + h) * W + w] = f((flip ? N - 1 - k : k) / N);
        }
  return out;
}

export const dummySampleDeter = (): Float32Array => deter(false);
export const dummyNoiseDeter = (): Float32Array => deter(true);

/** sample * t / (t + 1) in float32, t cast to the sample dtype. */
export function dummyModel(sample: Float32Array, t: number): Float32Array {
  const tf = f(t);
  const d = f(tf + 1);
  return sample.map((s) => f(s * tf) / d);
}

export function scaled(x: Float32Array, k: number): Float32Array {
  return x.map((v) => v * k);
}

/** Exact (double) sum; torch's float32 reduction can differ by a few 1e-3 on sums near 6e4. */
export function sumAbs(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += Math.abs(v);
  return s;
}

export function assertSumMean(x: Float32Array, sum: number | undefined, mean: number, sumTol = 1e-2, meanTol = 1e-3): void {
  const s = sumAbs(x);
  const m = s / x.length;
  assert.ok(Number.isFinite(s), 'result has NaN or infinite values');
  if (sum !== undefined) assert.ok(Math.abs(s - sum) < sumTol, `sum |x| = ${s}, expected ${sum} ± ${sumTol}`);
  assert.ok(Math.abs(m - mean) < meanTol, `mean |x| = ${m}, expected ${mean} ± ${meanTol}`);
}

export function assertCloseArray(actual: ArrayLike<number>, expected: readonly number[], tol: number, label = ''): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${label}[${i}] = ${actual[i]}, expected ${expected[i]} ± ${tol}`);
  }
}

/** SD 1.5's scheduler_config.json (2022 hub file, no timestep_spacing key). */
export const SD15_CONFIG = {
  _class_name: 'PNDMScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
} as const;
