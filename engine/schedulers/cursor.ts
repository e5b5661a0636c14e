// The step cursor that the sigma-based schedulers (Euler, EulerA, DPM, LCM) share: the step index that
// diffusers derives from the first timestep (or set_begin_index), input scaling and sigma-based add_noise.
import { checkBeginIndex, checkSameLength, schedulerError } from './config.ts';
import { f32 } from './numeric.ts';
import type { TimestepSpacing } from './schedule.ts';

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
