// The Stable Diffusion pipeline, reading like diffusers' StableDiffusionPipeline.__call__ (and the ONNX
// variant's session handling): 1 check inputs → 2 encode prompt → 3 timesteps → 4 latents → 5 denoise → 6 decode.
import { checkInputs } from './check-inputs.ts';
import type { ResolvedInputs } from './check-inputs.ts';
import { EngineError } from './errors.ts';
import { combineGuidance, guidanceScaleEmbedding } from './guidance.ts';
import { resizeImage } from './image.ts';
import { checkCompatibility, readModelFolder } from './model-folder.ts';
import type { ModelFolder } from './model-folder.ts';
import { TextEncoder, Unet, VaeDecoder, VaeEncoder } from './models.ts';
import type { Float32Tensor } from './models.ts';
import { planarToRgb, rgbToPlanar } from './pixels.ts';
import { LinearPreviewer, TaesdPreviewer } from './preview.ts';
import type { Previewer } from './preview.ts';
import { TorchGenerator } from './random.ts';
import { createSession } from './runtime.ts';
import type { Session, SessionOptions } from './runtime.ts';
import { createScheduler } from './schedulers/index.ts';
import type { Scheduler } from './schedulers/scheduler.ts';
import { ClipTokenizer } from './tokenizer.ts';
import type { GenerateOptions, GenerateResult, ModelInfo, RgbImage } from './types.ts';

const seedModulus = 2 ** 32;

export class StableDiffusionPipeline {
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
    const open = (path: string) => createSession(path, options);
    // One at a time: parallel creation only contends for the same cores and makes the first error arbitrary.
    const sessions: Session[] = [];
    const track = async (path: string) => {
      const s = await open(path);
      sessions.push(s);
      return s;
    };
    try {
      const textEncoder = new TextEncoder(await track(folder.textEncoderPath));
      if (textEncoder.sequenceLength !== undefined && textEncoder.sequenceLength !== tokenizer.maxLength) {
        throw new EngineError('sd_engine_model_load', `${folder.textEncoderPath} takes ${textEncoder.sequenceLength} tokens per prompt, but tokenizer/tokenizer_config.json sets model_max_length ${tokenizer.maxLength}. They must match.`, { file: folder.textEncoderPath });
      }
      const unet = new Unet(await track(folder.unetPath));
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
        device: sessions[0].device,
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
    const start = performance.now();
    const modelMsBefore = this.modelMs();
    const { signal, onProgress } = options;
    const warnings: string[] = [];

    // 1. Check inputs
    const input = checkInputs(options, this.folder);
    if (input.image && !this.vaeEncoder) {
      throw new EngineError('sd_engine_invalid_input', `This model (${this.folder.dir}) has no vae_encoder/model.onnx, so it cannot do img2img; leave out \`image\`.`);
    }
    throwIfAborted(signal, 0, input.numInferenceSteps);
    const n = input.numImagesPerPrompt;
    const seeds = Array.from({ length: n }, (_, i) => (input.seed + i) % seedModulus);
    // Image i draws all its randomness from its own generator, so it is reproducible alone with seed + i.
    const generators = seeds.map((s) => new TorchGenerator(s));
    const doCfg = !this.folder.isLcm && input.guidanceScale > 1;
    if (!doCfg && input.negativePrompt) {
      warnings.push(`The negative prompt is ignored: ${this.folder.isLcm ? 'LCM models embed guidance' : `guidance ${input.guidanceScale} ≤ 1 runs no unconditional pass`}.`);
    }

    // 2. Encode prompt (uncond first, as diffusers concatenates [negative, positive])
    const promptEmbeds = await this.encodePrompt(input, doCfg, warnings);

    // 3. Timesteps
    const scheduler = createScheduler(this.folder.schedulerConfig, input.scheduler);
    scheduler.setTimesteps(input.numInferenceSteps);
    const timesteps = input.image ? img2imgTimesteps(scheduler, input.numInferenceSteps, input.strength) : scheduler.timesteps;

    // 4. Latents
    const latentDims = [n, this.latentChannels(), input.height / this.folder.config.vaeScaleFactor, input.width / this.folder.config.vaeScaleFactor];
    let latents = input.image
      ? await this.img2imgLatents(input, input.image, latentDims, generators, scheduler, timesteps[0])
      : txt2imgLatents(latentDims, generators, scheduler.initNoiseSigma);

    // 5. Denoising loop
    const timestepCond = this.unet.timestepCond ? this.guidanceEmbedding(input.guidanceScale, n) : undefined;
    const unetBatch = doCfg ? 2 * n : n;
    for (let i = 0; i < timesteps.length; i++) {
      throwIfAborted(signal, i, timesteps.length);
      const t = timesteps[i];
      const scaled = scheduler.scaleModelInput(latents, t);
      const sample = doCfg ? concat(scaled, scaled) : scaled;
      const noisePred = await this.unet.predict({
        sample: { data: sample, dims: [unetBatch, ...latentDims.slice(1)] },
        timestep: t,
        encoderHiddenStates: promptEmbeds,
        timestepCond,
      });
      const guided = doCfg ? combineGuidance(noisePred.data, input.guidanceScale) : noisePred.data;
      const out = scheduler.step(guided, t, latents, generators);
      latents = out.prevSample;
      if (onProgress) {
        const wantPreview = input.previewEvery > 0 && ((i + 1) % input.previewEvery === 0 || i + 1 === timesteps.length);
        const preview = wantPreview ? await this.previewer.preview({ data: out.predOriginalSample, dims: latentDims }) : undefined;
        onProgress({ step: i + 1, totalSteps: timesteps.length, ...(preview ? { preview } : {}) });
      }
    }
    throwIfAborted(signal, timesteps.length, timesteps.length);

    // 6. Decode
    const images = await this.decode({ data: latents, dims: latentDims });
    return {
      images,
      seeds,
      warnings,
      timings: { totalMs: performance.now() - start, modelMs: this.modelMs() - modelMsBefore },
    };
  }

  private latentChannels(): number {
    return this.unet.latentChannels ?? this.folder.config.latentChannels ?? 4;
  }

  private async encodePrompt(input: ResolvedInputs, doCfg: boolean, warnings: string[]): Promise<Float32Tensor> {
    const prompt = this.tokenizer.encodeForModel(input.prompt);
    if (prompt.truncated) {
      warnings.push(`The prompt is longer than ${this.tokenizer.maxLength} tokens; this part was dropped: "${prompt.droppedText ?? ''}"`);
    }
    const rows = [prompt.inputIds];
    if (doCfg) {
      const negative = this.tokenizer.encodeForModel(input.negativePrompt);
      if (negative.truncated) warnings.push(`The negative prompt is longer than ${this.tokenizer.maxLength} tokens; this part was dropped: "${negative.droppedText ?? ''}"`);
      rows.unshift(negative.inputIds);
    }
    const embeds = await this.textEncoder.encode(rows);
    // Repeat each row once per image: [uncond × n, text × n].
    const [count, length, hidden] = embeds.dims;
    const per = length * hidden;
    const n = input.numImagesPerPrompt;
    const data = new Float32Array(count * n * per);
    for (let r = 0; r < count; r++) {
      const row = embeds.data.subarray(r * per, (r + 1) * per);
      for (let i = 0; i < n; i++) data.set(row, (r * n + i) * per);
    }
    return { data, dims: [count * n, length, hidden] };
  }

  private guidanceEmbedding(guidanceScale: number, batch: number): Float32Tensor {
    const dim = this.unet.timestepCondDim ?? this.folder.config.timeCondProjDim ?? 256;
    return { data: guidanceScaleEmbedding(guidanceScale, dim, batch), dims: [batch, dim] };
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

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
