// LCMScheduler (diffusers scheduling_lcm.py): consistency-model steps. Each step maps to the boundary-
// conditioned x0 (`denoised`), then re-noises to the next timestep with fresh noise (except the last step).
import type { TorchGenerator } from '../random.ts';
import { checkSameLength, checkSteps, ConfigReader, schedulerError } from './config.ts';
import { SigmaCursor } from './cursor.ts';
import { f32, npLinspace } from './numeric.ts';
import { alphaAt, trainingSchedule } from './schedule.ts';
import type { PredictionType, TrainingSchedule } from './schedule.ts';
import { addNoiseAlpha, batchNoise, predictX0, StepBuffers, thresholdSample } from './step.ts';
import type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';

export interface LcmTimestepOptions {
  /** img2img strength as diffusers' LCM img2img passes it to set_timesteps. @default 1 */
  readonly strength?: number;
  /** @default the config's original_inference_steps (50) */
  readonly originalInferenceSteps?: number;
}

export class LCMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly schedule: TrainingSchedule;
  readonly originalInferenceSteps: number;
  readonly predictionType: PredictionType;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
  readonly timestepScaling: number;
  readonly finalAlphaCumprod: number;
  /** Items in the batch; only thresholding needs it (one quantile per item). */
  batchSize = 1;
  numInferenceSteps: number | undefined;
  readonly #cursor = new SigmaCursor('LCMScheduler');

  constructor(config: SchedulerConfigJson = {}) {
    const r = new ConfigReader(config, 'LCMScheduler');
    this.schedule = trainingSchedule(r, { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' }, false);
    this.originalInferenceSteps = r.integer('original_inference_steps', 50, 1);
    this.predictionType = r.choice<PredictionType>('prediction_type', 'epsilon', ['epsilon', 'v_prediction', 'sample']);
    this.clipSample = r.boolean('clip_sample', false);
    this.clipSampleRange = r.number('clip_sample_range', 1);
    this.thresholding = r.boolean('thresholding', false);
    this.dynamicThresholdingRatio = r.number('dynamic_thresholding_ratio', 0.995);
    this.sampleMaxValue = r.number('sample_max_value', 1);
    this.timestepScaling = r.number('timestep_scaling', 10);
    this.finalAlphaCumprod = r.boolean('set_alpha_to_one', true) ? 1 : this.schedule.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.#cursor.timesteps;
  }

  get stepIndex(): number | undefined {
    return this.#cursor.stepIndex;
  }

  setTimesteps(numInferenceSteps: number, options: LcmTimestepOptions = {}): void {
    const numTrain = this.schedule.numTrainTimesteps;
    checkSteps(numInferenceSteps, numTrain, 'LCMScheduler');
    const original = options.originalInferenceSteps ?? this.originalInferenceSteps;
    const strength = options.strength ?? 1;
    if (!Number.isInteger(original) || original < 1 || original > numTrain) {
      throw schedulerError(`Expected \`original_inference_steps\` for LCMScheduler to be an integer from 1 to ${numTrain}, got \`${original}\``);
    }
    if (!(strength > 0 && strength <= 1)) throw schedulerError(`Expected \`strength\` for LCMScheduler to be in (0, 1], got \`${strength}\``);
    // The distilled model only knows every k-th timestep of its original schedule.
    const k = Math.floor(numTrain / original);
    const origin: number[] = [];
    for (let i = Math.trunc(original * strength); i >= 1; i--) origin.push(i * k - 1);
    if (numInferenceSteps > original || Math.floor(origin.length / numInferenceSteps) < 1) {
      throw schedulerError(
        `Expected \`numInferenceSteps\` for LCMScheduler to be at most original_inference_steps × strength = ${origin.length}, got \`${numInferenceSteps}\``,
      );
    }
    const timesteps = npLinspace(0, origin.length, numInferenceSteps, false).map((x) => origin[Math.floor(x)]);
    this.numInferenceSteps = numInferenceSteps;
    this.#cursor.reset(timesteps, new Float32Array(0));
  }

  setBeginIndex(beginIndex: number): void {
    this.#cursor.setBeginIndex(beginIndex);
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  readonly #buffers = new StepBuffers();

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generators?: readonly TorchGenerator[]): SchedulerOutput {
    checkSameLength(modelOutput, sample, 'modelOutput and sample');
    const index = this.#cursor.current(timestep);
    const prevTimestep = index + 1 < this.timesteps.length ? this.timesteps[index + 1] : timestep;
    const ac = this.schedule.alphasCumprod;
    const alphaProd = alphaAt(ac, timestep, 'LCMScheduler');
    const alphaPrev = prevTimestep >= 0 ? alphaAt(ac, prevTimestep, 'LCMScheduler') : this.finalAlphaCumprod;
    // Boundary-condition scalings with sigma_data = 0.5.
    const scaled = f32(timestep * this.timestepScaling);
    const s2 = f32(f32(scaled * scaled) + 0.25);
    const cSkip = f32(0.25 / s2);
    const cOut = f32(scaled / f32(Math.sqrt(s2)));

    const n = sample.length;
    const x0 = this.#buffers.scratch(0, n);
    const [denoised, prev] = this.#buffers.next(n, 2);
    predictX0(this.predictionType, modelOutput, sample, alphaProd, x0);
    if (this.thresholding) thresholdSample(x0, this.batchSize, this.dynamicThresholdingRatio, this.sampleMaxValue);
    else if (this.clipSample) {
      const c = this.clipSampleRange;
      for (let i = 0; i < n; i++) x0[i] = Math.min(Math.max(x0[i], -c), c);
    }
    for (let i = 0; i < n; i++) denoised[i] = f32(cOut * x0[i]) + f32(cSkip * sample[i]);

    // A copy on the last step too, so callers may keep the preview while reusing the sample.
    if (index !== this.numInferenceSteps! - 1) {
      const noise = batchNoise(n, generators);
      const a = f32(Math.sqrt(alphaPrev));
      const b = f32(Math.sqrt(f32(1 - alphaPrev)));
      for (let i = 0; i < n; i++) prev[i] = a * denoised[i] + b * noise[i];
    } else prev.set(denoised);
    this.#cursor.advance();
    return { prevSample: prev, predOriginalSample: denoised };
  }

  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseAlpha(originalSamples, noise, alphaAt(this.schedule.alphasCumprod, timestep, 'LCMScheduler'));
  }
}
