// DPMSolverMultistepScheduler (diffusers scheduling_dpmsolver_multistep.py): DPM-Solver++ of order 1-3
// (2 = "DPM++ 2M"), optionally SDE, over the data prediction x0. Karras, exponential and Lu lambda sigma
// spacings, final_sigmas_type, lower_order_final and dynamic thresholding follow diffusers.
import type { TorchGenerator } from '../random.ts';
import { checkSameLength, checkSteps, ConfigReader, schedulerError } from './config.ts';
import { SigmaCursor } from './cursor.ts';
import { f32, interpOnIndex, npArange, npLinspace, roundHalfEven } from './numeric.ts';
import { trainingSchedule } from './schedule.ts';
import type { PredictionType, TimestepSpacing, TrainingSchedule } from './schedule.ts';
import { exponentialSigmas, karrasSigmas, logOf, sigmaToT, trainingSigmas } from './sigmas.ts';
import { batchNoise, thresholdSample } from './step.ts';
import type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';

type Algorithm = 'dpmsolver++' | 'sde-dpmsolver++';

/** α_t, σ_t and λ_t = log α_t − log σ_t for a sigma of the VP schedule. */
function alphaSigma(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly schedule: TrainingSchedule;
  readonly solverOrder: number;
  readonly predictionType: PredictionType;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
  readonly algorithmType: Algorithm;
  readonly solverType: 'midpoint' | 'heun';
  readonly lowerOrderFinal: boolean;
  readonly eulerAtFinal: boolean;
  readonly sigmaSpacing: 'interpolated' | 'karras' | 'exponential' | 'lu_lambdas';
  readonly finalSigmasType: 'zero' | 'sigma_min';
  readonly lambdaMinClipped: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly cosineSchedule: boolean;
  /** Items in the batch; only thresholding needs it (one quantile per item). */
  batchSize = 1;
  numInferenceSteps: number | undefined;
  readonly #cursor = new SigmaCursor('DPMSolverMultistepScheduler');
  #modelOutputs: (Float32Array | undefined)[] = [];
  #lowerOrderNums = 0;

  constructor(config: SchedulerConfigJson = {}) {
    const r = new ConfigReader(config, 'DPMSolverMultistepScheduler');
    this.schedule = trainingSchedule(r, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }, true);
    this.cosineSchedule = r.json.beta_schedule === 'squaredcos_cap_v2';
    this.solverOrder = r.integer('solver_order', 2, 1);
    if (this.solverOrder > 3) throw schedulerError(`Expected \`solver_order\` in the DPMSolverMultistepScheduler config to be 1, 2 or 3, got \`${this.solverOrder}\``);
    this.predictionType = r.choice<PredictionType>('prediction_type', 'epsilon', ['epsilon', 'v_prediction', 'sample']);
    this.thresholding = r.boolean('thresholding', false);
    this.dynamicThresholdingRatio = r.number('dynamic_thresholding_ratio', 0.995);
    this.sampleMaxValue = r.number('sample_max_value', 1);
    // diffusers maps the deprecated `deis` to dpmsolver++; the ε-space variants are not ported.
    const algorithm = r.choice('algorithm_type', 'dpmsolver++', ['dpmsolver++', 'sde-dpmsolver++', 'deis'] as const);
    this.algorithmType = algorithm === 'deis' ? 'dpmsolver++' : algorithm;
    if (this.algorithmType === 'sde-dpmsolver++' && this.solverOrder === 3) {
      throw schedulerError('`solver_order` 3 with `sde-dpmsolver++` is not supported by this DPMSolverMultistepScheduler port; use solver_order 2');
    }
    const solver = r.choice('solver_type', 'midpoint', ['midpoint', 'heun', 'logrho', 'bh1', 'bh2'] as const);
    this.solverType = solver === 'heun' ? 'heun' : 'midpoint';
    this.lowerOrderFinal = r.boolean('lower_order_final', true);
    this.eulerAtFinal = r.boolean('euler_at_final', false);
    const karras = r.boolean('use_karras_sigmas', false);
    const exponential = r.boolean('use_exponential_sigmas', false);
    const lu = r.boolean('use_lu_lambdas', false);
    for (const key of ['use_beta_sigmas', 'use_flow_sigmas', 'use_dynamic_shifting']) {
      if (r.boolean(key, false)) throw schedulerError(`\`${key}\` is not supported by this DPMSolverMultistepScheduler port; set it to false`);
    }
    if (r.json.variance_type !== undefined && r.json.variance_type !== null) {
      throw schedulerError('`variance_type` (learned variance UNets) is not supported by this DPMSolverMultistepScheduler port; set it to null');
    }
    if (Number(karras) + Number(exponential) + Number(lu) > 1) {
      throw schedulerError('Only one of `use_karras_sigmas`, `use_exponential_sigmas` and `use_lu_lambdas` can be true in the DPMSolverMultistepScheduler config');
    }
    this.sigmaSpacing = karras ? 'karras' : exponential ? 'exponential' : lu ? 'lu_lambdas' : 'interpolated';
    this.finalSigmasType = r.choice('final_sigmas_type', 'zero', ['zero', 'sigma_min'] as const);
    this.lambdaMinClipped = r.number('lambda_min_clipped', -Infinity);
    this.timestepSpacing = r.choice<TimestepSpacing>('timestep_spacing', 'linspace', ['linspace', 'leading', 'trailing']);
    this.stepsOffset = r.integer('steps_offset', 0, 0);
  }

  get timesteps(): readonly number[] {
    return this.#cursor.timesteps;
  }

  get sigmas(): Float32Array {
    return this.#cursor.sigmas;
  }

  get stepIndex(): number | undefined {
    return this.#cursor.stepIndex;
  }

  setTimesteps(numInferenceSteps: number): void {
    const numTrain = this.schedule.numTrainTimesteps;
    checkSteps(numInferenceSteps, numTrain, 'DPMSolverMultistepScheduler');
    const ac = this.schedule.alphasCumprod;
    // Timesteps whose λ is below lambda_min_clipped are cut from the top of the schedule.
    let clipped = 0;
    for (let t = ac.length - 1; t >= 0; t--) {
      const lambda = f32(f32(Math.log(f32(Math.sqrt(ac[t])))) - f32(Math.log(f32(Math.sqrt(f32(1 - ac[t]))))));
      if (lambda >= this.lambdaMinClipped) break;
      clipped++;
    }
    const lastTimestep = numTrain - clipped;
    const n = numInferenceSteps;
    let timesteps: number[];
    if (this.timestepSpacing === 'linspace') {
      timesteps = npLinspace(0, lastTimestep - 1, n + 1).map(roundHalfEven).reverse().slice(0, -1);
    } else if (this.timestepSpacing === 'leading') {
      const ratio = Math.floor(lastTimestep / (n + 1));
      timesteps = Array.from({ length: n + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + this.stepsOffset);
    } else {
      timesteps = npArange(lastTimestep, 0, -numTrain / n).map((t) => roundHalfEven(t) - 1);
    }

    const train = trainingSigmas(ac);
    const logSigmas = logOf(train);
    let sigmas: number[];
    const roundT = (t: number): number => (this.cosineSchedule ? t : roundHalfEven(t));
    if (this.sigmaSpacing === 'interpolated') {
      sigmas = timesteps.map((t) => interpOnIndex(t, train));
    } else {
      const sigmaMax = train[train.length - 1];
      const sigmaMin = train[0];
      if (this.sigmaSpacing === 'karras') sigmas = karrasSigmas(sigmaMin, sigmaMax, n);
      else if (this.sigmaSpacing === 'exponential') sigmas = exponentialSigmas(sigmaMin, sigmaMax, n);
      else sigmas = npLinspace(0, 1, n).map((ramp) => Math.exp(logSigmas[logSigmas.length - 1] + ramp * (logSigmas[0] - logSigmas[logSigmas.length - 1])));
      timesteps = sigmas.map((s) => (this.sigmaSpacing === 'exponential' ? sigmaToT(s, logSigmas) : roundT(sigmaToT(s, logSigmas))));
    }
    const last = this.finalSigmasType === 'sigma_min' ? train[0] : 0;
    // diffusers stores timesteps as int64 (truncating the unrounded ones).
    this.#cursor.reset(timesteps.map(Math.trunc), Float32Array.from([...sigmas, last]));
    this.numInferenceSteps = timesteps.length;
    this.#modelOutputs = new Array<Float32Array | undefined>(this.solverOrder).fill(undefined);
    this.#lowerOrderNums = 0;
  }

  setBeginIndex(beginIndex: number): void {
    this.#cursor.setBeginIndex(beginIndex);
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generators?: readonly TorchGenerator[]): SchedulerOutput {
    checkSameLength(modelOutput, sample, 'modelOutput and sample');
    const index = this.#cursor.current(timestep);
    const count = this.timesteps.length;
    const lowerOrderFinal =
      index === count - 1 && (this.eulerAtFinal || (this.lowerOrderFinal && count < 15) || this.finalSigmasType === 'zero');
    const lowerOrderSecond = index === count - 2 && this.lowerOrderFinal && count < 15;

    const x0 = this.#convertModelOutput(modelOutput, sample, this.sigmas[index]);
    for (let i = 0; i < this.solverOrder - 1; i++) this.#modelOutputs[i] = this.#modelOutputs[i + 1];
    this.#modelOutputs[this.solverOrder - 1] = x0;

    const noise = this.algorithmType === 'sde-dpmsolver++' ? batchNoise(sample.length, generators) : undefined;
    let prev: Float32Array;
    if (this.solverOrder === 1 || this.#lowerOrderNums < 1 || lowerOrderFinal) prev = this.#firstOrder(index, x0, sample, noise);
    else if (this.solverOrder === 2 || this.#lowerOrderNums < 2 || lowerOrderSecond) prev = this.#secondOrder(index, sample, noise);
    else prev = this.#thirdOrder(index, sample);
    if (this.#lowerOrderNums < this.solverOrder) this.#lowerOrderNums++;
    this.#cursor.advance();
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** The data prediction x0 that DPM-Solver++ integrates (thresholded if configured). */
  #convertModelOutput(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array {
    const n = sample.length;
    const x0 = new Float32Array(n);
    const { alpha, sigmaT } = alphaSigma(sigma);
    if (this.predictionType === 'epsilon') for (let i = 0; i < n; i++) x0[i] = (sample[i] - sigmaT * modelOutput[i]) / alpha;
    else if (this.predictionType === 'v_prediction') for (let i = 0; i < n; i++) x0[i] = alpha * sample[i] - sigmaT * modelOutput[i];
    else x0.set(modelOutput);
    if (this.thresholding) thresholdSample(x0, this.batchSize, this.dynamicThresholdingRatio, this.sampleMaxValue);
    return x0;
  }

  #firstOrder(index: number, x0: Float32Array, sample: Float32Array, noise: Float32Array | undefined): Float32Array {
    const t = alphaSigma(this.sigmas[index + 1]);
    const s = alphaSigma(this.sigmas[index]);
    const h = t.lambda - s.lambda;
    const n = sample.length;
    const out = new Float32Array(n);
    if (noise === undefined) {
      const a = t.sigmaT / s.sigmaT;
      const b = t.alpha * (Math.exp(-h) - 1);
      for (let i = 0; i < n; i++) out[i] = a * sample[i] - b * x0[i];
    } else {
      const a = (t.sigmaT / s.sigmaT) * Math.exp(-h);
      const b = t.alpha * (1 - Math.exp(-2 * h));
      const c = t.sigmaT * Math.sqrt(1 - Math.exp(-2 * h));
      for (let i = 0; i < n; i++) out[i] = a * sample[i] + b * x0[i] + c * noise[i];
    }
    return out;
  }

  #secondOrder(index: number, sample: Float32Array, noise: Float32Array | undefined): Float32Array {
    const t = alphaSigma(this.sigmas[index + 1]);
    const s0 = alphaSigma(this.sigmas[index]);
    const s1 = alphaSigma(this.sigmas[index - 1]);
    const m0 = this.#modelOutputs[this.solverOrder - 1]!;
    const m1 = this.#modelOutputs[this.solverOrder - 2]!;
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const n = sample.length;
    const out = new Float32Array(n);
    // x_t = a·x + b·D0 + c·D1 (+ e·noise), with D0 = m0 and D1 = (m0 − m1)/r0.
    let a: number;
    let b: number;
    let c: number;
    let e = 0;
    if (noise === undefined) {
      a = t.sigmaT / s0.sigmaT;
      b = -t.alpha * (Math.exp(-h) - 1);
      c = this.solverType === 'midpoint' ? -0.5 * t.alpha * (Math.exp(-h) - 1) : t.alpha * ((Math.exp(-h) - 1) / h + 1);
    } else {
      a = (t.sigmaT / s0.sigmaT) * Math.exp(-h);
      b = t.alpha * (1 - Math.exp(-2 * h));
      c = this.solverType === 'midpoint' ? 0.5 * t.alpha * (1 - Math.exp(-2 * h)) : t.alpha * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1);
      e = t.sigmaT * Math.sqrt(1 - Math.exp(-2 * h));
    }
    const invR0 = 1 / r0;
    for (let i = 0; i < n; i++) {
      const d1 = invR0 * (m0[i] - m1[i]);
      out[i] = a * sample[i] + b * m0[i] + c * d1 + (noise === undefined ? 0 : e * noise[i]);
    }
    return out;
  }

  #thirdOrder(index: number, sample: Float32Array): Float32Array {
    const t = alphaSigma(this.sigmas[index + 1]);
    const s0 = alphaSigma(this.sigmas[index]);
    const s1 = alphaSigma(this.sigmas[index - 1]);
    const s2 = alphaSigma(this.sigmas[index - 2]);
    const m0 = this.#modelOutputs[this.solverOrder - 1]!;
    const m1 = this.#modelOutputs[this.solverOrder - 2]!;
    const m2 = this.#modelOutputs[this.solverOrder - 3]!;
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    const a = t.sigmaT / s0.sigmaT;
    const em1 = Math.exp(-h) - 1;
    const b = -t.alpha * em1;
    const c = t.alpha * (em1 / h + 1);
    const d = -t.alpha * ((em1 + h) / (h * h) - 0.5);
    const n = sample.length;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const d10 = (m0[i] - m1[i]) / r0;
      const d11 = (m1[i] - m2[i]) / r1;
      const d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
      const d2 = (d10 - d11) / (r0 + r1);
      out[i] = a * sample[i] + b * m0[i] + c * d1 + d * d2;
    }
    return out;
  }

  /** α_t·x0 + σ_t·noise at the timestep's sigma. */
  addNoise(originalSamples: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    checkSameLength(originalSamples, noise, 'originalSamples and noise');
    const { alpha, sigmaT } = alphaSigma(this.#cursor.noiseSigma(timestep));
    const out = new Float32Array(originalSamples.length);
    for (let i = 0; i < out.length; i++) out[i] = alpha * originalSamples[i] + sigmaT * noise[i];
    return out;
  }
}
