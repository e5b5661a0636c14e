// EulerAncestralDiscreteScheduler (diffusers scheduling_euler_ancestral_discrete.py): an Euler step to σ_down
// plus fresh noise of σ_up. Noise is drawn on every step, the last included (σ_up = 0 there), so the
// generator stream stays aligned with diffusers.
import type { TorchGenerator } from '../random.ts';
import { checkSameLength, checkSteps, ConfigReader } from './config.ts';
import { SigmaCursor } from './cursor.ts';
import { f32, interpOnIndex } from './numeric.ts';
import { npTrainTimesteps, spacedTimesteps, trainingSchedule } from './schedule.ts';
import type { TimestepSpacing, TrainingSchedule } from './schedule.ts';
import { trainingSigmas } from './sigmas.ts';
import { batchNoise, StepBuffers } from './step.ts';
import type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';

// diffusers raises NotImplementedError for `sample` here.
type AncestralPrediction = 'epsilon' | 'v_prediction';

export class EulerAncestralDiscreteScheduler implements Scheduler {
  readonly order = 1;
  readonly schedule: TrainingSchedule;
  readonly predictionType: AncestralPrediction;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  numInferenceSteps: number | undefined;
  readonly #cursor = new SigmaCursor('EulerAncestralDiscreteScheduler');

  constructor(config: SchedulerConfigJson = {}) {
    const r = new ConfigReader(config, 'EulerAncestralDiscreteScheduler');
    this.schedule = trainingSchedule(r, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, true);
    this.predictionType = r.choice<AncestralPrediction>('prediction_type', 'epsilon', ['epsilon', 'v_prediction']);
    this.timestepSpacing = r.choice<TimestepSpacing>('timestep_spacing', 'linspace', ['linspace', 'leading', 'trailing']);
    this.stepsOffset = r.integer('steps_offset', 0, 0);
    const train = trainingSigmas(this.schedule.alphasCumprod);
    const sigmas = new Float32Array(train.length + 1);
    sigmas.set(train.reverse());
    this.#cursor.reset(npTrainTimesteps(this.schedule.numTrainTimesteps), sigmas);
  }

  get timesteps(): readonly number[] {
    return this.#cursor.timesteps;
  }

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
    checkSteps(numInferenceSteps, numTrain, 'EulerAncestralDiscreteScheduler');
    this.numInferenceSteps = numInferenceSteps;
    const timesteps = spacedTimesteps(this.timestepSpacing, numTrain, numInferenceSteps, this.stepsOffset, false);
    const train = trainingSigmas(this.schedule.alphasCumprod);
    this.#cursor.reset(timesteps, Float32Array.from([...timesteps.map((t) => interpOnIndex(t, train)), 0]));
  }

  setBeginIndex(beginIndex: number): void {
    this.#cursor.setBeginIndex(beginIndex);
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    return this.#cursor.scale(sample, timestep);
  }

  readonly #buffers = new StepBuffers();

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generators?: readonly TorchGenerator[]): SchedulerOutput {
    checkSameLength(modelOutput, sample, 'modelOutput and sample');
    const index = this.#cursor.current(timestep);
    const sigmaFrom = this.sigmas[index];
    const sigmaTo = this.sigmas[index + 1];
    const to2 = f32(sigmaTo * sigmaTo);
    const from2 = f32(sigmaFrom * sigmaFrom);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigmaFrom);
    const n = sample.length;
    const [x0, prev] = this.#buffers.next(n, 2);
    if (this.predictionType === 'epsilon') {
      for (let i = 0; i < n; i++) x0[i] = sample[i] - sigmaFrom * modelOutput[i];
    } else {
      const s2 = f32(from2 + 1);
      const a = f32(-sigmaFrom / f32(Math.sqrt(s2)));
      for (let i = 0; i < n; i++) x0[i] = f32(modelOutput[i] * a) + f32(sample[i] / s2);
    }
    const noise = batchNoise(n, generators);
    for (let i = 0; i < n; i++) prev[i] = sample[i] + ((sample[i] - x0[i]) / sigmaFrom) * dt + noise[i] * sigmaUp;
    this.#cursor.advance();
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return this.#cursor.addNoise(originalSamples, noise, timestep);
  }
}
