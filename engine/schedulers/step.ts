// Per-step sample maths shared by the schedulers: x0 prediction and add_noise in ᾱ form, dynamic thresholding,
// the batch's ancestral noise and the reused output buffers.
import { TorchGenerator } from '../random.ts';
import { checkBatch, checkSameLength } from './config.ts';
import { f32 } from './numeric.ts';
import type { PredictionType } from './schedule.ts';

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
