// PNDMScheduler (diffusers scheduling_pndm.py): pseudo Runge-Kutta warm-up (skipped for Stable Diffusion,
// skip_prk_steps=true) followed by linear multistep (PLMS) steps over stored ε values.
import type { TorchGenerator } from '../random.ts';
import { checkBeginIndex, checkSameLength, checkSteps, ConfigReader, schedulerError } from './config.ts';
import { f32, npArange, npLinspace, roundHalfEven } from './numeric.ts';
import { alphaAt, trainingSchedule } from './schedule.ts';
import type { TimestepSpacing, TrainingSchedule } from './schedule.ts';
import { addNoiseAlpha, StepBuffers } from './step.ts';
import type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';

type PndmPrediction = 'epsilon' | 'v_prediction';

export class PNDMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly schedule: TrainingSchedule;
  readonly predictionType: PndmPrediction;
  readonly skipPrkSteps: boolean;
  readonly stepsOffset: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly finalAlphaCumprod: number;
  timesteps: number[] = [];
  prkTimesteps: number[] = [];
  plmsTimesteps: number[] = [];
  numInferenceSteps: number | undefined;
  beginIndex: number | undefined;
  #counter = 0;
  #ets: Float32Array[] = [];
  #curSample: Float32Array | undefined;
  #curModelOutput: Float32Array | undefined;
  // ε history and the saved sample reuse their arrays: PLMS keeps four ε, and a step would otherwise copy
  // the whole batch several times.
  #spare: Float32Array[] = [];
  readonly #buffers = new StepBuffers();

  constructor(config: SchedulerConfigJson = {}) {
    const r = new ConfigReader(config, 'PNDMScheduler');
    this.schedule = trainingSchedule(r, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, false);
    this.predictionType = r.choice<PndmPrediction>('prediction_type', 'epsilon', ['epsilon', 'v_prediction']);
    this.skipPrkSteps = r.boolean('skip_prk_steps', false);
    this.stepsOffset = r.integer('steps_offset', 0, 0);
    this.timestepSpacing = r.choice<TimestepSpacing>('timestep_spacing', 'leading', ['leading', 'trailing', 'linspace']);
    this.finalAlphaCumprod = r.boolean('set_alpha_to_one', false) ? 1 : this.schedule.alphasCumprod[0];
  }

  setTimesteps(numInferenceSteps: number): void {
    const numTrain = this.schedule.numTrainTimesteps;
    checkSteps(numInferenceSteps, numTrain, 'PNDMScheduler');
    this.numInferenceSteps = numInferenceSteps;
    // Ascending, as diffusers' _timesteps.
    let base: number[];
    if (this.timestepSpacing === 'linspace') base = npLinspace(0, numTrain - 1, numInferenceSteps).map(roundHalfEven);
    else if (this.timestepSpacing === 'leading') {
      const ratio = Math.floor(numTrain / numInferenceSteps);
      base = Array.from({ length: numInferenceSteps }, (_, i) => i * ratio + this.stepsOffset);
    } else base = npArange(numTrain, 0, -numTrain / numInferenceSteps).map((t) => roundHalfEven(t) - 1).reverse();

    if (this.skipPrkSteps) {
      this.prkTimesteps = [];
      // One extra evaluation: the second timestep repeats (PLMS's warm-up averages two ε at one t).
      this.plmsTimesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(numTrain / numInferenceSteps) / 2);
      const prk: number[] = [];
      for (const t of base.slice(-4)) prk.push(t, t + half);
      // prk[:-1].repeat(2)[1:-1] reversed
      const repeated = prk.slice(0, -1).flatMap((t) => [t, t]);
      this.prkTimesteps = repeated.slice(1, -1).reverse();
      this.plmsTimesteps = base.slice(0, -3).reverse();
    }
    this.timesteps = [...this.prkTimesteps, ...this.plmsTimesteps];
    this.#counter = 0;
    this.#spare.push(...this.#ets);
    this.#ets = [];
    this.#curSample = undefined;
    this.#curModelOutput = undefined;
    this.beginIndex = undefined;
  }

  /** PNDM steps are keyed by the timestep and an internal counter; img2img starts the loop at timesteps[beginIndex]. */
  setBeginIndex(beginIndex: number): void {
    checkBeginIndex(beginIndex, this.timesteps.length, 'PNDMScheduler');
    this.beginIndex = beginIndex;
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _generators?: readonly TorchGenerator[]): SchedulerOutput {
    if (this.numInferenceSteps === undefined) throw schedulerError('PNDMScheduler.step needs setTimesteps(numInferenceSteps) first');
    checkSameLength(modelOutput, sample, 'modelOutput and sample');
    if (this.#counter < this.prkTimesteps.length && !this.skipPrkSteps) return this.stepPrk(modelOutput, timestep, sample);
    return this.stepPlms(modelOutput, timestep, sample);
  }

  /** One Runge-Kutta stage (weights 1/6, 1/3, 1/3, 1/6). */
  stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array): SchedulerOutput {
    const n = sample.length;
    const stepRatio = Math.floor(this.schedule.numTrainTimesteps / this.numInferenceSteps!);
    const diffToPrev = this.#counter % 2 ? 0 : Math.floor(stepRatio / 2);
    const prevTimestep = timestep - diffToPrev;
    const t = this.prkTimesteps[Math.floor(this.#counter / 4) * 4];
    const stage = this.#counter % 4;
    let eps = modelOutput;
    const acc = (this.#curModelOutput ??= new Float32Array(n));
    if (stage === 0) {
      for (let i = 0; i < n; i++) acc[i] += (1 / 6) * modelOutput[i];
      this.#ets.push(this.#copy(modelOutput));
      this.#curSample = this.#copyTo(this.#buffers.scratch(0, n), sample);
    } else if (stage === 1 || stage === 2) {
      for (let i = 0; i < n; i++) acc[i] += (1 / 3) * modelOutput[i];
    } else {
      eps = this.#buffers.scratch(1, n);
      for (let i = 0; i < n; i++) eps[i] = acc[i] + (1 / 6) * modelOutput[i];
      this.#curModelOutput = undefined;
    }
    const cur = this.#curSample ?? sample;
    this.#counter++;
    return this.#prevSample(cur, t, prevTimestep, eps);
  }

  /** One linear multistep step (orders 1 to 4 as ε history builds up). */
  stepPlms(modelOutput: Float32Array, timestep: number, sample: Float32Array): SchedulerOutput {
    if (!this.skipPrkSteps && this.#ets.length < 3) {
      throw schedulerError('PNDMScheduler.stepPlms runs only after the 12 PRK warm-up steps; call step() over all timesteps');
    }
    const n = sample.length;
    const stepRatio = Math.floor(this.schedule.numTrainTimesteps / this.numInferenceSteps!);
    let t = timestep;
    let prevTimestep = timestep - stepRatio;
    if (this.#counter !== 1) {
      while (this.#ets.length > 3) this.#spare.push(this.#ets.shift()!);
      this.#ets.push(this.#copy(modelOutput));
    } else {
      prevTimestep = timestep;
      t = timestep + stepRatio;
    }
    const e = this.#ets;
    const k = e.length;
    let eps: Float32Array;
    let x = sample;
    if (k === 1 && this.#counter === 0) {
      eps = modelOutput;
      this.#curSample = this.#copyTo(this.#buffers.scratch(0, n), sample);
    } else if (k === 1 && this.#counter === 1) {
      eps = this.#buffers.scratch(1, n);
      const last = e[0];
      for (let i = 0; i < n; i++) eps[i] = (modelOutput[i] + last[i]) / 2;
      x = this.#curSample!;
      this.#curSample = undefined;
    } else if (k === 2) {
      eps = this.#buffers.scratch(1, n);
      const [a, b] = [e[1], e[0]];
      for (let i = 0; i < n; i++) eps[i] = (3 * a[i] - b[i]) / 2;
    } else if (k === 3) {
      eps = this.#buffers.scratch(1, n);
      const [a, b, c] = [e[2], e[1], e[0]];
      for (let i = 0; i < n; i++) eps[i] = (23 * a[i] - 16 * b[i] + 5 * c[i]) / 12;
    } else {
      eps = this.#buffers.scratch(1, n);
      const [a, b, c, d] = [e[3], e[2], e[1], e[0]];
      for (let i = 0; i < n; i++) eps[i] = (1 / 24) * (55 * a[i] - 59 * b[i] + 37 * c[i] - 9 * d[i]);
    }
    this.#counter++;
    return this.#prevSample(x, t, prevTimestep, eps);
  }

  /** PNDM eq. (9); also returns the x0 implied by the combined ε for previews. */
  #prevSample(sample: Float32Array, timestep: number, prevTimestep: number, modelOutput: Float32Array): SchedulerOutput {
    const alphaProd = alphaAt(this.schedule.alphasCumprod, timestep, 'PNDMScheduler');
    const alphaPrev = prevTimestep >= 0 ? alphaAt(this.schedule.alphasCumprod, prevTimestep, 'PNDMScheduler') : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaPrev = f32(1 - alphaPrev);
    const n = sample.length;
    const sqrtA = f32(Math.sqrt(alphaProd));
    const sqrtB = f32(Math.sqrt(betaProd));
    let eps = modelOutput;
    if (this.predictionType === 'v_prediction') {
      eps = this.#buffers.scratch(2, n);
      for (let i = 0; i < n; i++) eps[i] = sqrtA * modelOutput[i] + sqrtB * sample[i];
    }
    const sampleCoeff = f32(Math.sqrt(f32(alphaPrev / alphaProd)));
    const denom = f32(f32(alphaProd * f32(Math.sqrt(betaPrev))) + f32(Math.sqrt(f32(f32(alphaProd * betaProd) * alphaPrev))));
    const diff = f32(alphaPrev - alphaProd);
    const [prev, x0] = this.#buffers.next(n, 2);
    for (let i = 0; i < n; i++) {
      prev[i] = f32(sampleCoeff * sample[i]) - f32(diff * eps[i]) / denom;
      x0[i] = (sample[i] - sqrtB * eps[i]) / sqrtA;
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  #copy(src: Float32Array): Float32Array {
    let buf = this.#spare.pop();
    if (buf?.length !== src.length) buf = new Float32Array(src.length);
    buf.set(src);
    return buf;
  }

  #copyTo(target: Float32Array, src: Float32Array): Float32Array {
    target.set(src);
    return target;
  }

  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseAlpha(originalSamples, noise, alphaAt(this.schedule.alphasCumprod, timestep, 'PNDMScheduler'));
  }
}
