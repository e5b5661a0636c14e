// The scheduler contract, after diffusers' SchedulerMixin. Arrays are whole batches, flattened (NCHW);
// every operation is elementwise, so the batch size does not matter except for noise.
import type { TorchGenerator } from '../random.ts';

export interface SchedulerOutput {
  readonly prevSample: Float32Array;
  /** The model's estimate of the clean latents x0 (LCM: `denoised`), used for previews. */
  readonly predOriginalSample: Float32Array;
}

/** scheduler_config.json as diffusers writes it (snake_case keys); unknown keys are ignored. */
export type SchedulerConfigJson = Readonly<Record<string, unknown>>;

export interface Scheduler {
  /** One entry per UNet evaluation, after setTimesteps. */
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** Evaluations per step (1 for every scheduler here). */
  readonly order: number;
  setTimesteps(numInferenceSteps: number): void;
  /** img2img: start at timesteps[beginIndex]. */
  setBeginIndex(beginIndex: number): void;
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /**
   * One denoising step. Stochastic schedulers draw noise from `generators`: the batch is split into
   * generators.length equal slices, slice i drawing from generators[i], as diffusers does with a list.
   */
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generators?: readonly TorchGenerator[]): SchedulerOutput;
  /** Forward diffusion q(x_t | x_0), for img2img. */
  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array;
}
