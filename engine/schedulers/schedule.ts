// The training noise schedule (betas, alphas_cumprod in float32 as torch computes them) and the inference
// timestep spacings derived from it. Mirrors diffusers 58eb52c0803e.
import { describeValue, schedulerError } from './config.ts';
import type { ConfigReader } from './config.ts';
import { f32, npArange, npLinspace, roundHalfEven, torchLinspaceF32 } from './numeric.ts';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

export interface TrainingSchedule {
  readonly numTrainTimesteps: number;
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;
}

/**
 * betas and alphas_cumprod from the config. `zeroSnrEpsilon`: Euler, EulerA and DPM set the last
 * alphas_cumprod to 2^-24 after rescale_betas_zero_snr, so their sigmas stay finite.
 */
export function trainingSchedule(
  r: ConfigReader,
  defaults: { readonly betaStart: number; readonly betaEnd: number; readonly betaSchedule: BetaSchedule },
  zeroSnrEpsilon: boolean,
): TrainingSchedule {
  const numTrainTimesteps = r.integer('num_train_timesteps', 1000, 2);
  const trained = r.numberArray('trained_betas');
  let betas: Float32Array;
  if (trained !== undefined) {
    if (trained.length !== numTrainTimesteps) {
      throw schedulerError(
        `Expected \`trained_betas\` in the ${r.className} config to have num_train_timesteps = ${numTrainTimesteps} entries, got ${trained.length}`,
      );
    }
    betas = Float32Array.from(trained);
  } else {
    const start = r.number('beta_start', defaults.betaStart);
    const end = r.number('beta_end', defaults.betaEnd);
    const schedule = r.choice<BetaSchedule>('beta_schedule', defaults.betaSchedule, ['linear', 'scaled_linear', 'squaredcos_cap_v2']);
    if (schedule === 'linear') {
      betas = torchLinspaceF32(start, end, numTrainTimesteps);
    } else if (schedule === 'scaled_linear') {
      betas = torchLinspaceF32(Math.sqrt(start), Math.sqrt(end), numTrainTimesteps);
      for (let i = 0; i < betas.length; i++) betas[i] = betas[i] * betas[i];
    } else {
      betas = betasForAlphaBarCosine(numTrainTimesteps);
    }
  }
  if (r.boolean('rescale_betas_zero_snr', false)) betas = rescaleZeroTerminalSnr(betas);
  const alphasCumprod = cumprodOfOneMinus(betas);
  if (zeroSnrEpsilon && r.boolean('rescale_betas_zero_snr', false)) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
  return { numTrainTimesteps, betas, alphasCumprod };
}

function betasForAlphaBarCosine(n: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
  return out;
}

/** torch.cumprod(1 - betas) on CPU: float32 factors, double accumulator, float32 results. */
function cumprodOfOneMinus(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/** Algorithm 1 of arXiv 2305.08891 in float32 steps, like diffusers' rescale_zero_terminal_snr. */
function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const sqrtAc = cumprodOfOneMinus(betas).map((a) => Math.sqrt(a));
  const first = sqrtAc[0];
  const last = sqrtAc[n - 1];
  const scale = f32(first / f32(first - last));
  const alphasBar = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const shifted = f32(sqrtAc[i] - last);
    const scaled = f32(shifted * scale);
    alphasBar[i] = scaled * scaled;
  }
  const out = new Float32Array(n);
  out[0] = 1 - alphasBar[0];
  for (let i = 1; i < n; i++) out[i] = 1 - f32(alphasBar[i] / alphasBar[i - 1]);
  return out;
}

/** Integer timesteps for `leading`/`trailing`/`linspace`, highest first, as DDIM/PNDM/Euler compute them. */
export function spacedTimesteps(spacing: TimestepSpacing, numTrain: number, n: number, stepsOffset: number, roundLinspace: boolean): number[] {
  if (spacing === 'linspace') {
    const ts = npLinspace(0, numTrain - 1, n).reverse();
    return roundLinspace ? ts.map(roundHalfEven) : ts.map(f32);
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / n);
    const ts: number[] = [];
    for (let i = n - 1; i >= 0; i--) ts.push(i * ratio + stepsOffset);
    return ts;
  }
  return npArange(numTrain, 0, -numTrain / n).map((t) => roundHalfEven(t) - 1);
}

/** np.linspace(0, N-1, N)[::-1] as float32: the timesteps before setTimesteps. */
export function npTrainTimesteps(numTrain: number): number[] {
  return Array.from({ length: numTrain }, (_, i) => numTrain - 1 - i);
}

/** alphas_cumprod[t] for an integer timestep in range. */
export function alphaAt(alphasCumprod: Float32Array, t: number, className: string): number {
  if (!Number.isInteger(t) || t < 0 || t >= alphasCumprod.length) {
    throw schedulerError(`Expected an integer timestep from 0 to ${alphasCumprod.length - 1} for ${className}, got ${describeValue(t)}`);
  }
  return alphasCumprod[t];
}
