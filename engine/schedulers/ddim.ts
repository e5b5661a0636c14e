// DDIMScheduler (diffusers scheduling_ddim.py): deterministic for eta = 0.
import type { TorchGenerator } from '../random.ts';
import { checkBeginIndex, checkSameLength, checkSteps, ConfigReader, schedulerError } from './config.ts';
import { f32 } from './numeric.ts';
import { alphaAt, spacedTimesteps, trainingSchedule } from './schedule.ts';
import type { PredictionType, TimestepSpacing, TrainingSchedule } from './schedule.ts';
import { addNoiseAlpha, batchNoise, predictX0, StepBuffers, thresholdSample } from './step.ts';
import type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';

export class DDIMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly schedule: TrainingSchedule;
  readonly predictionType: PredictionType;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
  readonly stepsOffset: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly finalAlphaCumprod: number;
  /** diffusers' `eta` step argument: 0 is DDIM, 1 is DDPM-like; > 0 draws noise from the generators. */
  eta = 0;
  /** Items in the batch; only thresholding needs it (one quantile per item). */
  batchSize = 1;
  timesteps: number[] = [];
  numInferenceSteps: number | undefined;
  beginIndex: number | undefined;

  constructor(config: SchedulerConfigJson = {}) {
    const r = new ConfigReader(config, 'DDIMScheduler');
    this.schedule = trainingSchedule(r, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, false);
    this.predictionType = r.choice<PredictionType>('prediction_type', 'epsilon', ['epsilon', 'v_prediction', 'sample']);
    this.clipSample = r.boolean('clip_sample', true);
    this.clipSampleRange = r.number('clip_sample_range', 1);
    this.thresholding = r.boolean('thresholding', false);
    this.dynamicThresholdingRatio = r.number('dynamic_thresholding_ratio', 0.995);
    this.sampleMaxValue = r.number('sample_max_value', 1);
    this.stepsOffset = r.integer('steps_offset', 0, 0);
    this.timestepSpacing = r.choice<TimestepSpacing>('timestep_spacing', 'leading', ['leading', 'trailing', 'linspace']);
    this.finalAlphaCumprod = r.boolean('set_alpha_to_one', true) ? 1 : this.schedule.alphasCumprod[0];
  }

  setTimesteps(numInferenceSteps: number): void {
    checkSteps(numInferenceSteps, this.schedule.numTrainTimesteps, 'DDIMScheduler');
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = spacedTimesteps(this.timestepSpacing, this.schedule.numTrainTimesteps, numInferenceSteps, this.stepsOffset, true);
    this.beginIndex = undefined;
  }

  /** DDIM steps are keyed by the timestep itself, so img2img only needs the caller to start at timesteps[beginIndex]. */
  setBeginIndex(beginIndex: number): void {
    checkBeginIndex(beginIndex, this.timesteps.length, 'DDIMScheduler');
    this.beginIndex = beginIndex;
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  #alphaPrev(prevTimestep: number): number {
    return prevTimestep >= 0 ? this.schedule.alphasCumprod[prevTimestep] : this.finalAlphaCumprod;
  }

  /** diffusers' _get_variance(timestep, prev_timestep). */
  getVariance(timestep: number, prevTimestep: number): number {
    const alphaProd = alphaAt(this.schedule.alphasCumprod, timestep, 'DDIMScheduler');
    const alphaPrev = this.#alphaPrev(prevTimestep);
    return f32(f32(f32(1 - alphaPrev) / f32(1 - alphaProd)) * f32(1 - f32(alphaProd / alphaPrev)));
  }

  readonly #buffers = new StepBuffers();

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generators?: readonly TorchGenerator[]): SchedulerOutput {
    if (this.numInferenceSteps === undefined) throw schedulerError('DDIMScheduler.step needs setTimesteps(numInferenceSteps) first');
    checkSameLength(modelOutput, sample, 'modelOutput and sample');
    const prevTimestep = timestep - Math.floor(this.schedule.numTrainTimesteps / this.numInferenceSteps);
    const alphaProd = alphaAt(this.schedule.alphasCumprod, timestep, 'DDIMScheduler');
    const alphaPrev = this.#alphaPrev(prevTimestep);
    const n = sample.length;

    const [x0, prev] = this.#buffers.next(n, 2);
    predictX0(this.predictionType, modelOutput, sample, alphaProd, x0);
    const sqrtA = f32(Math.sqrt(alphaProd));
    const sqrtB = f32(Math.sqrt(f32(1 - alphaProd)));
    // ε is taken from the unclipped x0, as diffusers does without use_clipped_model_output.
    const eps = this.#buffers.scratch(0, n);
    if (this.predictionType === 'epsilon') eps.set(modelOutput);
    else if (this.predictionType === 'v_prediction') for (let i = 0; i < n; i++) eps[i] = sqrtA * modelOutput[i] + sqrtB * sample[i];
    else for (let i = 0; i < n; i++) eps[i] = (sample[i] - sqrtA * x0[i]) / sqrtB;

    if (this.thresholding) thresholdSample(x0, this.batchSize, this.dynamicThresholdingRatio, this.sampleMaxValue);
    else if (this.clipSample) {
      const c = this.clipSampleRange;
      for (let i = 0; i < n; i++) x0[i] = Math.min(Math.max(x0[i], -c), c);
    }

    const stdDev = f32(this.eta * f32(Math.sqrt(this.getVariance(timestep, prevTimestep))));
    const dirCoeff = f32(Math.sqrt(f32(f32(1 - alphaPrev) - f32(stdDev * stdDev))));
    const x0Coeff = f32(Math.sqrt(alphaPrev));
    for (let i = 0; i < n; i++) prev[i] = x0Coeff * x0[i] + dirCoeff * eps[i];
    if (this.eta > 0) {
      const noise = batchNoise(n, generators);
      for (let i = 0; i < n; i++) prev[i] += stdDev * noise[i];
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseAlpha(originalSamples, noise, alphaAt(this.schedule.alphasCumprod, timestep, 'DDIMScheduler'));
  }
}
