// The Stable Diffusion pipeline, reading like diffusers' StableDiffusionPipeline.__call__ (and the ONNX
// variant's session handling): 1 check inputs → 2 encode prompt → 3 timesteps → 4 latents → 5 denoise → 6 decode.
import { checkInputs } from './check-inputs.ts';
import type { ResolvedInputs } from './check-inputs.ts';
import { EngineError } from './errors.ts';
import { checkBatchable } from './batching.ts';
import { combineGuidanceInto, guidanceScaleEmbedding } from './guidance.ts';
import { resizeImage } from './image.ts';
import { checkCompatibility, readModelFolder } from './model-folder.ts';
import type { ModelFolder } from './model-folder.ts';
import { TextEncoder, Unet, VaeDecoder, VaeEncoder } from './models.ts';
import type { Float32Tensor } from './models.ts';
import { planarToRgb, rgbToPlanar } from './pixels.ts';
import { LinearPreviewer, TaesdPreviewer } from './preview.ts';
import type { Previewer } from './preview.ts';
import { TorchGenerator } from './random.ts';
import { HeldTensor, createSession } from './runtime.ts';
import type { Session, SessionOptions } from './runtime.ts';
import { createScheduler, withKarrasSigmas } from './schedulers/index.ts';
import type { Scheduler } from './schedulers/scheduler.ts';
import { ClipTokenizer } from './tokenizer.ts';
import type { GenerateOptions, GenerateResult, ModelInfo, RgbImage } from './types.ts';

const seedModulus = 2 ** 32;

export class StableDiffusionPipeline {
  /** When set, GPU-held embeddings are kept here instead of freed (the benchmark replays runs that used them). */
  retainHeld: HeldTensor[] | undefined;

  private constructor(
    readonly folder: ModelFolder,
    readonly info: ModelInfo,
    private readonly tokenizer: ClipTokenizer,
    readonly textEncoder: TextEncoder,
    readonly unet: Unet,
    readonly vaeDecoder: VaeDecoder,
    readonly vaeEncoder: VaeEncoder | undefined,
    private readonly previewer: Previewer,
    /** Every open session, for timing and release. */
    readonly sessions: readonly Session[],
  ) {}

  /** Reads the folder, opens every session and checks their I/O; fails with `sd_engine_model_load` naming the file. */
  static async load(modelDir: string, options: SessionOptions = {}): Promise<StableDiffusionPipeline> {
    const folder = readModelFolder(modelDir);
    const tokenizer = await ClipTokenizer.fromModelDir(folder.dir);
    let fallback: string | undefined;
    const sessionOptions: SessionOptions = { ...options, onFallback: (message) => (fallback ??= message) };
    const open = (path: string, deviceOutputs: readonly string[] = []) => createSession(path, { ...sessionOptions, deviceOutputs });
    // One at a time: parallel creation only contends for the same cores and makes the first error arbitrary.
    const sessions: Session[] = [];
    const track = async (path: string, deviceOutputs?: readonly string[]) => {
      const s = await open(path, deviceOutputs);
      sessions.push(s);
      return s;
    };
    try {
      // On webgpu the text embeddings stay in GPU memory and feed every UNet step from there.
      let textEncoder = new TextEncoder(await track(folder.textEncoderPath, options.keepOnDevice === false ? [] : ['last_hidden_state']));
      if (textEncoder.sequenceLength !== undefined && textEncoder.sequenceLength !== tokenizer.maxLength) {
        throw new EngineError('sd_engine_model_load', `${folder.textEncoderPath} takes ${textEncoder.sequenceLength} tokens per prompt, but tokenizer/tokenizer_config.json sets model_max_length ${tokenizer.maxLength}. They must match.`, { file: folder.textEncoderPath });
      }
      const unet = new Unet(await track(folder.unetPath));
      if (textEncoder.session.deviceOutputs.size > 0 && !(textEncoder.keepsOnDevice && unet.dynamicBatch && textEncoder.hidden.type === unet.hidden.type)) {
        // Embeddings cannot be fed to this UNet as they come out (fixed batch or another dtype), and WebGPU tensors
        // cannot be read back in onnxruntime-node: reopen the text encoder with CPU outputs.
        await textEncoder.session.release();
        sessions.splice(sessions.indexOf(textEncoder.session), 1);
        textEncoder = new TextEncoder(await track(folder.textEncoderPath));
      }
      const vaeDecoder = new VaeDecoder(await track(folder.vaeDecoderPath));
      const vaeEncoder = folder.vaeEncoderPath ? new VaeEncoder(await track(folder.vaeEncoderPath)) : undefined;
      checkCompatibility(folder, {
        textHidden: textEncoder.hidden.shape,
        unetSample: unet.sample.shape,
        unetHidden: unet.hidden.shape,
        vaeLatent: vaeDecoder.latent.shape,
      });
      if (folder.isLcm && unet.timestepCond && unet.timestepCondDim === undefined && folder.config.timeCondProjDim === undefined) {
        throw new EngineError('sd_engine_model_load', `${folder.unetPath}: the LCM input \`timestep_cond\` has no static size and unet/config.json has no \`time_cond_proj_dim\`; one of them must give the guidance embedding size.`, { file: folder.unetPath });
      }
      const previewer = folder.taesdDecoderPath
        ? new TaesdPreviewer(await track(folder.taesdDecoderPath))
        : new LinearPreviewer(folder.config.latentRgbFactors, folder.config.latentRgbBias);
      const info: ModelInfo = {
        name: folder.name,
        modelDir: folder.dir,
        width: folder.config.width,
        height: folder.config.height,
        defaultSteps: folder.config.defaultSteps,
        defaultGuidanceScale: folder.config.defaultGuidanceScale,
        defaultScheduler: folder.defaultScheduler,
        supportsImg2Img: vaeEncoder !== undefined,
        sizeMultiple: folder.config.sizeMultiple,
        device: sessions[0].device,
        ...(fallback ? { deviceFallback: fallback } : {}),
      };
      return new StableDiffusionPipeline(folder, info, tokenizer, textEncoder, unet, vaeDecoder, vaeEncoder, previewer, sessions);
    } catch (error) {
      await Promise.all(sessions.map((s) => s.release()));
      throw error;
    }
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }

  private modelMs(): number {
    return this.sessions.reduce((ms, s) => ms + s.runMs, 0);
  }

  async generate(options: GenerateOptions): Promise<GenerateResult> {
    const [outcome] = await this.generateBatch([options]);
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  }

  /**
   * Runs several requests as one UNet batch (throughput on GPUs): different prompts, negative prompts, seeds and
   * image counts, but the same size, steps, scheduler and CFG mode (see `batchKey`). Each image keeps its own
   * generator, so every result equals what `generate` gives for that request alone. Each request settles on its
   * own: an invalid input, an abort or a throwing progress callback fails only that request.
   */
  async generateBatch(
    requests: readonly GenerateOptions[],
    /** Called as soon as request `index` fails mid-batch (abort, throwing callback), before the batch ends. */
    onFailed?: (index: number, reason: unknown) => void,
  ): Promise<PromiseSettledResult<GenerateResult>[]> {
    const start = performance.now();
    const modelMsBefore = this.modelMs();
    const outcomes: PromiseSettledResult<GenerateResult>[] = new Array(requests.length);
    const jobs: BatchJob[] = [];
    let first = 0;
    for (let r = 0; r < requests.length; r++) {
      try {
        // 1. Check inputs
        const input = checkInputs(requests[r], this.folder);
        if (input.image && !this.vaeEncoder) {
          throw new EngineError('sd_engine_invalid_input', `This model (${this.folder.dir}) has no vae_encoder/model.onnx, so it cannot do img2img; leave out \`image\`.`);
        }
        throwIfAborted(requests[r].signal, 0, input.numInferenceSteps);
        const seeds = Array.from({ length: input.numImagesPerPrompt }, (_, i) => (input.seed + i) % seedModulus);
        jobs.push({ index: r, options: requests[r], input, seeds, first, warnings: [], error: undefined, onFailed });
        first += input.numImagesPerPrompt;
      } catch (reason) {
        outcomes[r] = { status: 'rejected', reason };
      }
    }
    if (jobs.length > 0) {
      checkBatchable(jobs.map((j) => j.input));
      const images = await this.denoiseAndDecode(jobs);
      const timings = { totalMs: performance.now() - start, modelMs: this.modelMs() - modelMsBefore };
      for (const job of jobs) {
        outcomes[job.index] = job.error
          ? { status: 'rejected', reason: job.error }
          : { status: 'fulfilled', value: { images: images.get(job)!, seeds: job.seeds, warnings: job.warnings, timings } };
      }
    }
    return outcomes;
  }

  /** Steps 2–6 for compatible requests; a request that fails on the way gets `error` set and no images. */
  private async denoiseAndDecode(jobs: BatchJob[]): Promise<Map<BatchJob, RgbImage[]>> {
    const lead = jobs[0].input;
    const n = jobs.reduce((sum, j) => sum + j.input.numImagesPerPrompt, 0);
    // Image i draws all its randomness from its own generator, so it is reproducible alone with its seed.
    const generators = jobs.flatMap((j) => j.seeds.map((s) => new TorchGenerator(s)));
    const doCfg = !this.folder.isLcm && lead.guidanceScale > 1;
    for (const job of jobs) {
      if (!doCfg && job.input.negativePrompt) {
        job.warnings.push(`The negative prompt is ignored: ${this.folder.isLcm ? 'LCM models embed guidance' : `guidance ${job.input.guidanceScale} ≤ 1 runs no unconditional pass`}.`);
      }
    }

    // 2. Encode prompt (uncond first, as diffusers concatenates [negative, positive])
    const promptEmbeds = await this.encodePrompts(jobs, doCfg);
    try {
      // 3. Timesteps
      const scheduler = createScheduler(withKarrasSigmas(this.folder.schedulerConfig, lead.useKarrasSigmas), lead.scheduler);
      scheduler.setTimesteps(lead.numInferenceSteps);
      const timesteps = lead.image ? img2imgTimesteps(scheduler, lead.numInferenceSteps, lead.strength) : scheduler.timesteps;

      // 4. Latents
      const latentDims = [n, this.latentChannels(), lead.height / this.folder.config.vaeScaleFactor, lead.width / this.folder.config.vaeScaleFactor];
      let latents = lead.image
        ? await this.img2imgLatents(lead, lead.image, latentDims, generators, scheduler, timesteps[0])
        : txt2imgLatents(latentDims, generators, scheduler.initNoiseSigma);

      // 5. Denoising loop. The CFG input and output buffers are reused every step.
      const per = latents.length / n;
      const timestepCond = this.unet.timestepCond ? this.guidanceEmbedding(jobs, n) : undefined;
      const unetBatch = doCfg ? 2 * n : n;
      const sampleDims = [unetBatch, ...latentDims.slice(1)];
      const cfgSample = doCfg ? new Float32Array(2 * latents.length) : undefined;
      const guided = doCfg ? new Float32Array(latents.length) : undefined;
      const scales = doCfg ? jobs.map((j) => ({ from: j.first * per, to: (j.first + j.input.numImagesPerPrompt) * per, scale: j.input.guidanceScale })) : [];
      const live = () => jobs.filter((j) => !j.error);
      const anyProgress = jobs.some((j) => j.options.onProgress);
      for (let i = 0; i < timesteps.length; i++) {
        for (const job of jobs) if (!job.error) captureError(job, () => throwIfAborted(job.options.signal, i, timesteps.length));
        if (jobs.every((j) => j.error)) return new Map();
        const t = timesteps[i];
        const scaled = scheduler.scaleModelInput(latents, t);
        let sample = scaled;
        if (cfgSample) {
          cfgSample.set(scaled);
          cfgSample.set(scaled, scaled.length);
          sample = cfgSample;
        }
        const noisePred = await this.unet.predict({ sample: { data: sample, dims: sampleDims }, timestep: t, encoderHiddenStates: promptEmbeds, timestepCond });
        const modelOutput = guided ? combineGuidanceInto(guided, noisePred.data, scales) : noisePred.data;
        const out = scheduler.step(modelOutput, t, latents, generators);
        latents = out.prevSample;
        if (anyProgress) for (const job of live()) {
          const { onProgress } = job.options;
          if (!onProgress) continue;
          const every = job.input.previewEvery;
          const wantPreview = every > 0 && ((i + 1) % every === 0 || i + 1 === timesteps.length);
          // The preview shows the request's first image.
          const preview = wantPreview
            ? await this.previewer.preview({ data: out.predOriginalSample.subarray(job.first * per, (job.first + 1) * per), dims: [1, ...latentDims.slice(1)] })
            : undefined;
          captureError(job, () => onProgress({ step: i + 1, totalSteps: timesteps.length, ...(preview ? { preview } : {}) }));
        }
      }
      for (const job of live()) captureError(job, () => throwIfAborted(job.options.signal, timesteps.length, timesteps.length));

      // 6. Decode
      const images = new Map<BatchJob, RgbImage[]>();
      for (const job of live()) {
        const count = job.input.numImagesPerPrompt;
        const slice = latents.subarray(job.first * per, (job.first + count) * per);
        try {
          images.set(job, await this.decode({ data: slice, dims: [count, ...latentDims.slice(1)] }));
        } catch (error) {
          job.error = error;
        }
      }
      return images;
    } finally {
      if (promptEmbeds instanceof HeldTensor) {
        if (this.retainHeld) this.retainHeld.push(promptEmbeds);
        else promptEmbeds.dispose();
      }
    }
  }

  private latentChannels(): number {
    return this.unet.latentChannels ?? this.folder.config.latentChannels ?? 4;
  }

  /** [uncond × n, text × n] for all images of all jobs, in job order (CPU array, or held in GPU memory on webgpu). */
  private async encodePrompts(jobs: BatchJob[], doCfg: boolean): Promise<Float32Tensor | HeldTensor> {
    const max = this.tokenizer.maxLength;
    const encode = (job: BatchJob, text: string, what: string) => {
      const encoded = this.tokenizer.encodeForModel(text);
      if (encoded.truncated) job.warnings.push(`The ${what} is longer than ${max} tokens; this part was dropped: "${encoded.droppedText ?? ''}"`);
      return encoded.inputIds;
    };
    const prompts = jobs.map((j) => encode(j, j.input.prompt, 'prompt'));
    const negatives = doCfg ? jobs.map((j) => encode(j, j.input.negativePrompt, 'negative prompt')) : [];
    const perImage = (rows: number[][]) => jobs.flatMap((j, r) => Array.from({ length: j.input.numImagesPerPrompt }, () => rows[r]));
    if (this.textEncoder.keepsOnDevice && this.unet.dynamicBatch && this.textEncoder.hidden.type === this.unet.hidden.type) {
      // Encode one row per image so the result is the UNet's input as is and never leaves the GPU.
      return this.textEncoder.encodeHeld([...(doCfg ? perImage(negatives) : []), ...perImage(prompts)]);
    }
    const unique = [...negatives, ...prompts];
    const embeds = await this.textEncoder.encode(unique);
    // Repeat each row once per image: [uncond × n, text × n].
    const [, length, hidden] = embeds.dims;
    const rowSize = length * hidden;
    const rows = [...(doCfg ? perImage(negatives.map((_, r) => [r])) : []), ...perImage(prompts.map((_, r) => [negatives.length + r]))];
    const data = new Float32Array(rows.length * rowSize);
    rows.forEach(([r], i) => data.set(embeds.data.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
    return { data, dims: [rows.length, length, hidden] };
  }

  /** LCM's guidance embedding, one row per image with its request's guidance scale. */
  private guidanceEmbedding(jobs: readonly BatchJob[], batch: number): Float32Tensor {
    const dim = this.unet.timestepCondDim ?? this.folder.config.timeCondProjDim ?? 256;
    const data = new Float32Array(batch * dim);
    for (const job of jobs) data.set(guidanceScaleEmbedding(job.input.guidanceScale, dim, job.input.numImagesPerPrompt), job.first * dim);
    return { data, dims: [batch, dim] };
  }

  private async img2imgLatents(
    input: ResolvedInputs,
    image: RgbImage,
    dims: readonly number[],
    generators: readonly TorchGenerator[],
    scheduler: Scheduler,
    firstTimestep: number,
  ): Promise<Float32Array> {
    const sized = image.width === input.width && image.height === input.height ? image : await resizeImage(image, input.width, input.height);
    const encoded = await this.vaeEncoder!.encode({ data: rgbToPlanar(sized), dims: [1, 3, input.height, input.width] }, generators);
    const scaling = this.folder.config.scalingFactor;
    const initLatents = new Float32Array(encoded.data.length);
    for (let i = 0; i < initLatents.length; i++) initLatents[i] = encoded.data[i] * scaling;
    // Noise comes after the posterior sample in each image's generator, as in diffusers' prepare_latents.
    const noise = drawNoise(dims, generators);
    return scheduler.addNoise(initLatents, noise, firstTimestep);
  }

  private async decode(latents: Float32Tensor): Promise<RgbImage[]> {
    const scaling = this.folder.config.scalingFactor;
    const unscaled = new Float32Array(latents.data.length);
    for (let i = 0; i < unscaled.length; i++) unscaled[i] = latents.data[i] / scaling;
    const decoded = await this.vaeDecoder.decode({ data: unscaled, dims: latents.dims });
    const [batch, , height, width] = decoded.dims;
    const per = decoded.data.length / batch;
    return Array.from({ length: batch }, (_, i) => planarToRgb(decoded.data, height, width, -1, 1, i * per));
  }
}

function throwIfAborted(signal: AbortSignal | undefined, step: number, total: number): void {
  if (signal?.aborted) {
    throw new EngineError('sd_engine_aborted', `Generation aborted after ${step} of ${total} steps.`, { cause: signal.reason });
  }
}

/** diffusers StableDiffusionImg2ImgPipeline.get_timesteps: skip the first (1 − strength) of the schedule. */
export function img2imgTimesteps(scheduler: Scheduler, steps: number, strength: number): readonly number[] {
  const initTimestep = Math.min(Math.floor(steps * strength), steps);
  const tStart = Math.max(steps - initTimestep, 0) * scheduler.order;
  scheduler.setBeginIndex(tStart);
  return scheduler.timesteps.slice(tStart);
}

/** One [1, C, h, w] draw per image from its own generator (diffusers' randn_tensor with a list of generators). */
function drawNoise(dims: readonly number[], generators: readonly TorchGenerator[]): Float32Array {
  const [n, ...rest] = dims;
  const per = rest.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) out.set(generators[i].randn([1, ...rest]), i * per);
  return out;
}

function txt2imgLatents(dims: readonly number[], generators: readonly TorchGenerator[], initNoiseSigma: number): Float32Array {
  const latents = drawNoise(dims, generators);
  if (initNoiseSigma !== 1) for (let i = 0; i < latents.length; i++) latents[i] *= initNoiseSigma;
  return latents;
}

interface BatchJob {
  readonly index: number;
  readonly options: GenerateOptions;
  readonly input: ResolvedInputs;
  readonly seeds: number[];
  /** Index of the job's first image in the batch. */
  readonly first: number;
  readonly warnings: string[];
  error: unknown;
  readonly onFailed: ((index: number, reason: unknown) => void) | undefined;
}

function captureError(job: BatchJob, f: () => void): void {
  try {
    f();
  } catch (error) {
    job.error = error;
    job.onFailed?.(job.index, error);
  }
}
