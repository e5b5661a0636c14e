import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator } from '../../../engine/random.ts';
import { DPMSolverMultistepScheduler } from '../../../engine/schedulers/dpm-solver-multistep.ts';
import { BATCH, SD15_CONFIG, assertCloseArray, assertSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter } from './dummies.ts';

// diffusers tests/schedulers/test_scheduler_dpm_multi.py
const base = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  euler_at_final: false,
  lambda_min_clipped: null, // -inf in Python; JSON has no -Infinity
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
  const s = new DPMSolverMultistepScheduler({ ...base, ...extra });
  s.batchSize = BATCH;
  s.setTimesteps(10);
  const generator = new TorchGenerator(0);
  let x = dummySampleDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, [generator]).prevSample;
  return x;
}

test('full loop, no noise: mean 0.3301', () => assertSumMean(fullLoop(), undefined, 0.3301));
test('full loop, v_prediction: mean 0.2251', () => assertSumMean(fullLoop({ prediction_type: 'v_prediction' }), undefined, 0.2251));
test('full loop, Karras + v_prediction: mean 0.2096', () =>
  assertSumMean(fullLoop({ prediction_type: 'v_prediction', use_karras_sigmas: true }), undefined, 0.2096));
test('full loop, Lu lambdas + v_prediction: mean 0.1554', () =>
  assertSumMean(fullLoop({ prediction_type: 'v_prediction', use_lu_lambdas: true }), undefined, 0.1554));
test('full loop, thresholding (ratio 0.87, max 0.5): mean 1.1364', () =>
  assertSumMean(fullLoop({ thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 }), undefined, 1.1364));

test('full loop with noise from t_start = 5: 318.4111 / 0.4146', () => {
  const s = new DPMSolverMultistepScheduler(base);
  s.setTimesteps(10);
  const timesteps = s.timesteps.slice(5);
  let x = s.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]);
  for (const t of timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
  assertSumMean(x, 318.4111, 0.4146);
});

test('SD 1.5 (class default linspace) 20 steps: [999, 949, …, 100, 50]', () => {
  const s = new DPMSolverMultistepScheduler(SD15_CONFIG);
  s.setTimesteps(20);
  assert.deepEqual(s.timesteps, [999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50]);
  assertCloseArray(s.sigmas.subarray(0, 3), [14.614645, 10.904239, 8.302805], 1e-4, 'sigmas');
  assert.equal(s.sigmas[20], 0);
  assert.equal(s.initNoiseSigma, 1);
});

test('SD 1.5 Karras, 20 steps: sigmas and rounded timesteps', () => {
  const s = new DPMSolverMultistepScheduler({ ...SD15_CONFIG, use_karras_sigmas: true });
  s.setTimesteps(20);
  assert.deepEqual(s.timesteps, [999, 962, 921, 876, 827, 772, 710, 640, 561, 474, 380, 285, 197, 123, 69, 35, 15, 6, 2, 0]);
  assertCloseArray(
    s.sigmas,
    [
      14.614645, 11.725371, 9.340211, 7.383626, 5.789421, 4.499844, 3.464755, 2.640847, 1.990921, 1.483217, 1.090791, 0.790949, 0.564724,
      0.396392, 0.27304, 0.184169, 0.121342, 0.077861, 0.048482, 0.029168, 0,
    ],
    1e-4,
    'karras sigmas',
  );
});

// Timestep tables from diffusers 58eb52c0803e for the same configs.
test('Lu lambdas, exponential sigmas, trailing, leading and lambda_min_clipped timesteps', () => {
  const table: [Record<string, unknown>, number, number[]][] = [
    [{ use_lu_lambdas: true }, 10, [999, 875, 724, 538, 330, 153, 52, 14, 3, 0]],
    [{ timestep_spacing: 'trailing' }, 7, [999, 856, 713, 570, 428, 285, 142]],
    [{ timestep_spacing: 'leading' }, 7, [876, 751, 626, 501, 376, 251, 126]],
    [{ lambda_min_clipped: -5.1, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, 7, [985, 842, 699, 556, 414, 271, 128]],
  ];
  for (const [extra, n, expected] of table) {
    const s = new DPMSolverMultistepScheduler({ ...SD15_CONFIG, ...extra });
    s.setTimesteps(n);
    assert.deepEqual(s.timesteps, expected, JSON.stringify(extra));
  }
  // Exponential sigmas keep unrounded timesteps that int64 truncates; the first sits within a float32 ulp
  // of 999 (torch 1.13 gives 999), so only it may differ by one between torch builds.
  const exponential = new DPMSolverMultistepScheduler({ ...SD15_CONFIG, use_exponential_sigmas: true });
  exponential.setTimesteps(10);
  assert.deepEqual(exponential.timesteps.slice(1), [874, 723, 538, 329, 152, 52, 14, 2, 0]);
  assert.ok([998, 999].includes(exponential.timesteps[0]));
  const cosine = new DPMSolverMultistepScheduler({ beta_schedule: 'squaredcos_cap_v2', use_karras_sigmas: true });
  cosine.setTimesteps(7);
  // Unrounded again (cosine schedule): same one-ulp caveat for the first timestep.
  assert.deepEqual(cosine.timesteps.slice(1), [998, 998, 997, 983, 682, 0]);
  assert.ok([998, 999].includes(cosine.timesteps[0]));
  const zeroSnr = new DPMSolverMultistepScheduler({ ...SD15_CONFIG, lambda_min_clipped: -5.1, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' });
  zeroSnr.setTimesteps(7);
  assertCloseArray(zeroSnr.sigmas.subarray(0, 2), [156.33333, 10.270259], 2e-3, 'zero-SNR sigmas');
});

test('predOriginalSample is the converted model output (x0)', () => {
  const s = new DPMSolverMultistepScheduler(SD15_CONFIG);
  s.setTimesteps(20);
  const x = dummySampleDeter();
  const eps = x.map((v) => 0.5 * v);
  const sigma = s.sigmas[0];
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const out = s.step(eps, s.timesteps[0], x);
  for (let i = 0; i < x.length; i += 31) {
    assert.ok(Math.abs(out.predOriginalSample[i] - (x[i] - sigma * alpha * eps[i]) / alpha) < 1e-4, `x0[${i}]`);
  }
});

test('solver orders 1 and 3, heun, SDE and lower_order_final all run to finite results', () => {
  const configs = [
    { solver_order: 1 },
    { solver_order: 3 },
    { solver_type: 'heun' },
    { algorithm_type: 'sde-dpmsolver++' },
    { algorithm_type: 'sde-dpmsolver++', solver_type: 'heun' },
    { lower_order_final: true, final_sigmas_type: 'zero' },
    { euler_at_final: true },
    { prediction_type: 'sample' },
  ];
  const plain = fullLoop();
  for (const extra of configs) {
    const x = fullLoop(extra);
    assert.ok(x.every(Number.isFinite), JSON.stringify(extra));
    assert.notDeepEqual(Array.from(x), Array.from(plain), `${JSON.stringify(extra)} should change the result`);
  }
  // The SDE variant draws from the generator; the same seed reproduces it.
  assert.deepEqual(Array.from(fullLoop({ algorithm_type: 'sde-dpmsolver++' })), Array.from(fullLoop({ algorithm_type: 'sde-dpmsolver++' })));
});

test('unsupported options are refused with the fix', () => {
  assert.throws(() => new DPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver' }), /`algorithm_type`.*dpmsolver\+\+/);
  assert.throws(() => new DPMSolverMultistepScheduler({ variance_type: 'learned_range' }), /set it to null/);
  assert.throws(() => new DPMSolverMultistepScheduler({ use_karras_sigmas: true, use_lu_lambdas: true }), /Only one/);
});
