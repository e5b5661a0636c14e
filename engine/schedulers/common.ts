// Maths shared by the schedulers: config decoding, the training noise schedule (betas, alphas_cumprod in
// float32 as torch computes them), numpy-style timestep spacing and interpolation, thresholding and noise.
// Everything mirrors diffusers 58eb52c0803e; where torch rounds to float32 we round with Math.fround.
import { EngineErrorCode } from '../errors.ts';
import { TorchGenerator } from '../random.ts';
import type { SchedulerConfigJson } from './scheduler.ts';

/**
 * torch does scheduler scalars (ᾱ, σ and what is derived from them) as 0-dim float32 tensors, rounding after
 * every operation; the schedulers round the same way with f32 so that long runs keep diffusers' numbers.
 */
export const f32 = Math.fround;

export function schedulerError(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: EngineErrorCode.InvalidInput });
}

function describe(value: unknown): string {
  return `\`${typeof value === 'object' ? JSON.stringify(value) : String(value)}\` (${value === null ? 'null' : typeof value})`;
}

/** Reads snake_case keys of scheduler_config.json; absent or null keys take diffusers' class default. */
export class ConfigReader {
  constructor(
    readonly json: SchedulerConfigJson,
    readonly className: string,
  ) {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw schedulerError(`Expected the ${className} config to be an object (scheduler_config.json), got ${describe(json)}`);
    }
  }

  #get(key: string): unknown {
    const v = this.json[key];
    return v === null ? undefined : v;
  }

  #fail(key: string, expected: string): never {
    throw schedulerError(`Expected \`${key}\` in the ${this.className} config to be ${expected}, got ${describe(this.json[key])}`);
  }

  number(key: string, fallback: number): number {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || Number.isNaN(v)) this.#fail(key, 'a number');
    return v;
  }

  optionalNumber(key: string): number | undefined {
    const v = this.#get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.#fail(key, 'a finite number or null');
    return v;
  }

  integer(key: string, fallback: number, min: number): number {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.#fail(key, `an integer ≥ ${min}`);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.#fail(key, 'true or false');
    return v;
  }

  choice<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.#fail(key, `one of ${allowed.join(', ')}`);
    return v as T;
  }

  numberArray(key: string): number[] | undefined {
    const v = this.#get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) this.#fail(key, 'an array of numbers or null');
    return v as number[];
  }
}

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

/**
 * torch.linspace(start, end, steps, dtype=float32) as torch ≥ 2.1's scalar CPU kernel computes it: a float
 * step, the first half counted up from start and the second half down from end, in float arithmetic.
 * (torch 1.13's vectorised kernel differs in the last bit of some betas; diffusers' golden numbers sit
 * closest to this form.)
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? s + f32(step * i) : e - f32(step * (steps - i - 1));
  return out;
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

/** numpy's round (half to even), used by every `.round()` in the schedulers. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, num) in float64 (endpoint exact). */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) for float steps: start + i*delta, with numpy's delta = (start+step) - start. */
export function npArange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const out: number[] = [];
  for (let i = 0; i < len; i++) out.push(i === 0 ? start : start + i * delta);
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

/** np.interp(x, arange(fp.length), fp). */
export function interpOnIndex(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0];
  if (x >= last) return fp[last];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  return (fp[j + 1] - fp[j]) * (x - j) + fp[j];
}

/** Training sigmas sqrt((1 - ᾱ)/ᾱ), float32 as torch computes them (ascending in t). */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  const out = new Float32Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(f32(f32(1 - alphasCumprod[i]) / alphasCumprod[i]));
  return out;
}

/** diffusers' _sigma_to_t: piecewise-linear interpolation of t in log-sigma. `logSigmas` ascending. */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let count = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) count++;
  const low = Math.min(Math.max(count - 1, 0), logSigmas.length - 2);
  const lo = logSigmas[low];
  const hi = logSigmas[low + 1];
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

export function logOf(values: Float32Array): Float32Array {
  return values.map((v) => Math.log(v));
}

/** Karras et al. (2022) ρ=7 schedule between sigmaMax and sigmaMin. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, n).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
}

export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp);
}

/**
 * diffusers' _threshold_sample (dynamic thresholding, Imagen): per batch item, s = quantile(|x|, ratio)
 * clamped to [1, maxValue]; x = clamp(x, -s, s) / s. In place.
 */
export function thresholdSample(x: Float32Array, batchSize: number, ratio: number, maxValue: number): void {
  const per = checkBatch(x.length, batchSize, 'batchSize');
  const abs = new Float64Array(per);
  for (let b = 0; b < batchSize; b++) {
    const row = x.subarray(b * per, (b + 1) * per);
    for (let i = 0; i < per; i++) abs[i] = Math.abs(row[i]);
    abs.sort();
    // torch.quantile's default linear interpolation.
    const pos = ratio * (per - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, per - 1);
    const q = abs[lo] + (abs[hi] - abs[lo]) * (pos - lo);
    const s = Math.min(Math.max(f32(q), 1), maxValue);
    for (let i = 0; i < per; i++) row[i] = Math.min(Math.max(row[i], -s), s) / s;
  }
}

function checkBatch(length: number, parts: number, name: string): number {
  if (!Number.isInteger(parts) || parts < 1 || length % parts !== 0) {
    throw schedulerError(`Expected \`${name}\` to be a positive integer that divides the ${length} latent values, got \`${parts}\``);
  }
  return length / parts;
}

let fallbackGenerator: TorchGenerator | undefined;

/**
 * randn for a whole batch: generators.length equal slices, slice i from generators[i] (diffusers'
 * randn_tensor with a list). Without generators, a process-wide randomly seeded one, like torch's
 * global generator.
 */
export function batchNoise(length: number, generators: readonly TorchGenerator[] | undefined): Float32Array {
  const out = new Float32Array(length);
  if (generators === undefined || generators.length === 0) {
    fallbackGenerator ??= new TorchGenerator(Math.floor(Math.random() * 2 ** 32));
    fallbackGenerator.fillRandn(out);
    return out;
  }
  const per = checkBatch(length, generators.length, 'generators.length');
  for (let i = 0; i < generators.length; i++) generators[i].fillRandn(out, i * per, per);
  return out;
}

export function checkSteps(n: number, numTrain: number, className: string): void {
  if (!Number.isInteger(n) || n < 1 || n > numTrain) {
    throw schedulerError(`Expected \`numInferenceSteps\` for ${className} to be an integer from 1 to ${numTrain}, got ${describe(n)}`);
  }
}

export function checkSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) {
    throw schedulerError(`Expected ${what} to have the same length, got ${a.length} and ${b.length}`);
  }
}

export function checkBeginIndex(beginIndex: number, count: number, className: string): void {
  if (!Number.isInteger(beginIndex) || beginIndex < 0 || beginIndex >= Math.max(count, 1)) {
    throw schedulerError(`Expected \`beginIndex\` for ${className} to be an integer from 0 to ${Math.max(count - 1, 0)}, got ${describe(beginIndex)}`);
  }
}

/** diffusers' index_for_timestep: the first match, or the second when the timestep repeats. */
export function indexForTimestep(timesteps: readonly number[], t: number, className: string): number {
  let first = -1;
  for (let i = 0; i < timesteps.length; i++) {
    if (timesteps[i] === t) {
      if (first >= 0) return i;
      first = i;
    }
  }
  if (first < 0) {
    throw schedulerError(`Expected a timestep from ${className}.timesteps, got \`${t}\`; call setTimesteps first and pass its values`);
  }
  return first;
}

/** x0 and ε from the model output for ᾱ_t (DDIM/LCM/PNDM conventions). */
export function predictX0(
  prediction: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  alphaProd: number,
  x0: Float32Array,
): void {
  const a = f32(Math.sqrt(alphaProd));
  const b = f32(Math.sqrt(f32(1 - alphaProd)));
  const n = sample.length;
  if (prediction === 'epsilon') for (let i = 0; i < n; i++) x0[i] = (sample[i] - b * modelOutput[i]) / a;
  else if (prediction === 'v_prediction') for (let i = 0; i < n; i++) x0[i] = a * sample[i] - b * modelOutput[i];
  else x0.set(modelOutput);
}

/** q(x_t | x_0) = √ᾱ·x0 + √(1−ᾱ)·noise, for the ᾱ-parameterised schedulers. */
export function addNoiseAlpha(original: Float32Array, noise: Float32Array, alphaProd: number): Float32Array {
  checkSameLength(original, noise, 'originalSamples and noise');
  const a = f32(Math.sqrt(alphaProd));
  const b = f32(Math.sqrt(f32(1 - alphaProd)));
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = a * original[i] + b * noise[i];
  return out;
}

/** alphas_cumprod[t] for an integer timestep in range. */
export function alphaAt(alphasCumprod: Float32Array, t: number, className: string): number {
  if (!Number.isInteger(t) || t < 0 || t >= alphasCumprod.length) {
    throw schedulerError(`Expected an integer timestep from 0 to ${alphasCumprod.length - 1} for ${className}, got ${describe(t)}`);
  }
  return alphasCumprod[t];
}

// The step cursor that the sigma-based schedulers (Euler, EulerA, DPM, LCM) share: the step index that
// diffusers derives from the first timestep (or set_begin_index), input scaling and sigma-based add_noise.
export class SigmaCursor {
  timesteps: number[] = [];
  /** One more entry than timesteps (the final sigma); empty for LCM, which has none. */
  sigmas: Float32Array = new Float32Array(0);
  stepIndex: number | undefined;
  beginIndex: number | undefined;

  constructor(readonly className: string) {}

  /** diffusers' `init_noise_sigma` of the sigma schedulers: the largest sigma, or √(σmax² + 1) for `leading` spacing. */
  initNoiseSigma(spacing: TimestepSpacing): number {
    let max = 0;
    for (const s of this.sigmas) max = Math.max(max, s);
    return spacing === 'leading' ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
  }

  reset(timesteps: number[], sigmas: Float32Array): void {
    this.timesteps = timesteps;
    this.sigmas = sigmas;
    this.stepIndex = undefined;
    this.beginIndex = undefined;
  }

  setBeginIndex(beginIndex: number): void {
    checkBeginIndex(beginIndex, this.timesteps.length, this.className);
    this.beginIndex = beginIndex;
  }

  /** The index for this call, initialising it like diffusers' _init_step_index. */
  current(timestep: number): number {
    if (this.timesteps.length === 0) throw schedulerError(`${this.className} needs setTimesteps(numInferenceSteps) before stepping`);
    this.stepIndex ??= this.beginIndex ?? indexForTimestep(this.timesteps, timestep, this.className);
    if (this.stepIndex >= this.timesteps.length) {
      throw schedulerError(`${this.className} ran past its ${this.timesteps.length} timesteps; call setTimesteps again for a new generation`);
    }
    return this.stepIndex;
  }

  advance(): void {
    this.stepIndex = (this.stepIndex ?? 0) + 1;
  }

  /** sample / √(σ² + 1). */
  scale(sample: Float32Array, timestep: number): Float32Array {
    const sigma = this.sigmas[this.current(timestep)];
    const denom = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) out[i] = sample[i] / denom;
    return out;
  }

  /** The sigma add_noise uses: step index, else begin index, else the timestep's own index. */
  noiseSigma(timestep: number): number {
    if (this.timesteps.length === 0) throw schedulerError(`${this.className} needs setTimesteps(numInferenceSteps) before addNoise`);
    const index = this.beginIndex === undefined ? indexForTimestep(this.timesteps, timestep, this.className) : (this.stepIndex ?? this.beginIndex);
    return this.sigmas[index];
  }

  /** x0 + noise·σ. */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    checkSameLength(original, noise, 'originalSamples and noise');
    const sigma = this.noiseSigma(timestep);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = original[i] + noise[i] * sigma;
    return out;
  }
}

/** np.linspace(0, N-1, N)[::-1] as float32: the timesteps before setTimesteps. */
export function npTrainTimesteps(numTrain: number): number[] {
  return Array.from({ length: numTrain }, (_, i) => numTrain - 1 - i);
}

/**
 * Reused step outputs, so a step allocates nothing. Two sets alternate: the arrays a step returns stay valid
 * through the next step (which reads its prevSample as input) and are overwritten by the one after. Callers that
 * keep an output longer copy it (the pipeline keeps only the final latents, after the last step).
 */
export class StepBuffers {
  readonly #sets: Float32Array[][] = [[], []];
  readonly #scratch: Float32Array[] = [];
  #flip = 0;

  /** `count` arrays of length n from the next set (reallocated when the batch size changes). */
  next(n: number, count: number): Float32Array[] {
    this.#flip ^= 1;
    const set = this.#sets[this.#flip];
    for (let i = 0; i < count; i++) if (set[i]?.length !== n) set[i] = new Float32Array(n);
    return set;
  }

  /** Scratch array number `slot` of length n, never one of the returned outputs. */
  scratch(slot: number, n: number): Float32Array {
    if (this.#scratch[slot]?.length !== n) this.#scratch[slot] = new Float32Array(n);
    return this.#scratch[slot];
  }
}
