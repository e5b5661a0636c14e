// EulerDiscreteScheduler (diffusers scheduling_euler_discrete.py), k-diffusion's Euler method in sigma space.
// s_churn is 0 as in every diffusers pipeline call, so the step is deterministic.
import type { TorchGenerator } from '../random.ts';
import { checkSameLength, checkSteps, ConfigReader, schedulerError } from './config.ts';
import { SigmaCursor } from './cursor.ts';
import { f32, interpOnIndex, torchLinspaceF32 } from './numeric.ts';
import { npTrainTimesteps, spacedTimesteps, trainingSchedule } from './schedule.ts';
import type { TimestepSpacing, TrainingSchedule } from './schedule.ts';
import { exponentialSigmas, karrasSigmas, logOf, sigmaToT, trainingSigmas } from './sigmas.ts';
import { StepBuffers } from './step.ts';
import type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';

type EulerPrediction = 'epsilon' | 'v_prediction' | 'sample' | 'original_sample';

export class EulerDiscreteScheduler implements Scheduler {
  readonly order = 1;
  readonly schedule: TrainingSchedule;
  readonly predictionType: EulerPrediction;
  readonly interpolationType: 'linear' | 'log_linear';
  readonly useKarrasSigmas: boolean;
  readonly useExponentialSigmas: boolean;
  readonly sigmaMin: number | undefined;
  readonly sigmaMax: number | undefined;
  readonly timestepSpacing: TimestepSpacing;
  readonly timestepType: 'discrete' | 'continuous';
  readonly stepsOffset: number;
  readonly finalSigmasType: 'zero' | 'sigma_min';
  numInferenceSteps: number | undefined;
  readonly #cursor = new SigmaCursor('EulerDiscreteScheduler');

  constructor(config: SchedulerConfigJson = {}) {
    const r = new ConfigReader(config, 'EulerDiscreteScheduler');
    this.schedule = trainingSchedule(r, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, true);
    this.predictionType = r.choice<EulerPrediction>('prediction_type', 'epsilon', ['epsilon', 'v_prediction', 'sample', 'original_sample']);
    this.interpolationType = r.choice('interpolation_type', 'linear', ['linear', 'log_linear'] as const);
    this.useKarrasSigmas = r.boolean('use_karras_sigmas', false);
    this.useExponentialSigmas = r.boolean('use_exponential_sigmas', false);
    if (r.boolean('use_beta_sigmas', false)) {
      throw schedulerError('`use_beta_sigmas` is not supported by this EulerDiscreteScheduler port; set it to false or use `use_karras_sigmas`');
    }
    if (this.useKarrasSigmas && this.useExponentialSigmas) {
      throw schedulerError('Only one of `use_karras_sigmas` and `use_exponential_sigmas` can be true in the EulerDiscreteScheduler config');
    }
    this.sigmaMin = r.optionalNumber('sigma_min');
    this.sigmaMax = r.optionalNumber('sigma_max');
    this.timestepSpacing = r.choice<TimestepSpacing>('timestep_spacing', 'linspace', ['linspace', 'leading', 'trailing']);
    this.timestepType = r.choice('timestep_type', 'discrete', ['discrete', 'continuous'] as const);
    this.stepsOffset = r.integer('steps_offset', 0, 0);
    this.finalSigmasType = r.choice('final_sigmas_type', 'zero', ['zero', 'sigma_min'] as const);
    const train = trainingSigmas(this.schedule.alphasCumprod);
    const sigmas = new Float32Array(train.length + 1);
    sigmas.set(train.reverse());
    const timesteps = npTrainTimesteps(this.schedule.numTrainTimesteps);
    this.#cursor.reset(this.#continuous() ? Array.from(sigmas.subarray(0, -1), (s) => f32(0.25 * Math.log(s))) : timesteps, sigmas);
  }

  #continuous(): boolean {
    return this.timestepType === 'continuous' && this.predictionType === 'v_prediction';
  }

  get timesteps(): readonly number[] {
    return this.#cursor.timesteps;
  }

  /** Sigmas for each timestep plus the final one. */
  get sigmas(): Float32Array {
    return this.#cursor.sigmas;
  }

  get initNoiseSigma(): number {
    return this.#cursor.initNoiseSigma(this.timestepSpacing);
  }

  get stepIndex(): number | undefined {
    return this.#cursor.stepIndex;
  }

  setTimesteps(numInferenceSteps: number): void {
    const numTrain = this.schedule.numTrainTimesteps;
    checkSteps(numInferenceSteps, numTrain, 'EulerDiscreteScheduler');
    this.numInferenceSteps = numInferenceSteps;
    let timesteps = spacedTimesteps(this.timestepSpacing, numTrain, numInferenceSteps, this.stepsOffset, false);
    const train = trainingSigmas(this.schedule.alphasCumprod);
    const logSigmas = logOf(train);
    let sigmas: number[];
    if (this.interpolationType === 'linear') sigmas = timesteps.map((t) => interpOnIndex(t, train));
    else sigmas = Array.from(torchLinspaceF32(Math.log(train[train.length - 1]), Math.log(train[0]), numInferenceSteps + 1), (l) => f32(Math.exp(l)));
    if (this.useKarrasSigmas || this.useExponentialSigmas) {
      const min = this.sigmaMin ?? sigmas[sigmas.length - 1];
      const max = this.sigmaMax ?? sigmas[0];
      sigmas = this.useKarrasSigmas ? karrasSigmas(min, max, numInferenceSteps) : exponentialSigmas(min, max, numInferenceSteps);
      timesteps = sigmas.map((s) => f32(sigmaToT(s, logSigmas)));
    }
    const last = this.finalSigmasType === 'sigma_min' ? train[0] : 0;
    const all = Float32Array.from([...sigmas, last]);
    if (this.#continuous()) timesteps = Array.from(all.subarray(0, -1), (s) => f32(0.25 * Math.log(s)));
    this.#cursor.reset(timesteps, all);
  }

  setBeginIndex(beginIndex: number): void {
    this.#cursor.setBeginIndex(beginIndex);
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    return this.#cursor.scale(sample, timestep);
  }

  readonly #buffers = new StepBuffers();

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _generators?: readonly TorchGenerator[]): SchedulerOutput {
    checkSameLength(modelOutput, sample, 'modelOutput and sample');
    const index = this.#cursor.current(timestep);
    const sigma = this.sigmas[index];
    const dt = f32(this.sigmas[index + 1] - sigma);
    const n = sample.length;
    const [x0, prev] = this.#buffers.next(n, 2);
    if (this.predictionType === 'epsilon') {
      for (let i = 0; i < n; i++) x0[i] = sample[i] - sigma * modelOutput[i];
    } else if (this.predictionType === 'v_prediction') {
      const s2 = f32(f32(sigma * sigma) + 1);
      const a = f32(-sigma / f32(Math.sqrt(s2)));
      for (let i = 0; i < n; i++) x0[i] = f32(modelOutput[i] * a) + f32(sample[i] / s2);
    } else x0.set(modelOutput);
    for (let i = 0; i < n; i++) prev[i] = sample[i] + ((sample[i] - x0[i]) / sigma) * dt;
    this.#cursor.advance();
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return this.#cursor.addNoise(originalSamples, noise, timestep);
  }
}
