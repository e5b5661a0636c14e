// Public types of the engine. Parameter names follow diffusers' `__call__` arguments in camelCase,
// and keep these names in every layer above (commands, core, adapters).

export type Device = 'cpu' | 'cuda' | 'webgpu';

export type SchedulerName =
  | 'DDIMScheduler'
  | 'PNDMScheduler'
  | 'EulerDiscreteScheduler'
  | 'EulerAncestralDiscreteScheduler'
  | 'DPMSolverMultistepScheduler'
  | 'LCMScheduler';

/** 8-bit RGB image, rows top to bottom, channels interleaved (length = width * height * 3). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface EngineOptions {
  /** Model folder in the diffusers/optimum ONNX layout. @default the embedded model under models/ */
  readonly modelDir?: string;
  /** Execution provider. @default 'cpu' */
  readonly device?: Device;
  /** GPU index for `cuda`/`webgpu`. @default 0 */
  readonly deviceId?: number;
  /** Fall back to CPU when the requested provider cannot load, instead of failing. @default false */
  readonly fallbackToCpu?: boolean;
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. @default 0 */
  readonly intraOpNumThreads?: number;
  /**
   * OS niceness (0–19) of the engine's threads, so that work sharing the CPU with them (a chat bot's event loop)
   * is scheduled first. Linux only, where niceness is per thread; elsewhere it would slow the whole process, so
   * it is ignored. 0 = the caller's priority. @default 10
   */
  readonly niceness?: number;
}

export interface GenerateOptions {
  readonly prompt: string;
  /** @default '' */
  readonly negativePrompt?: string;
  /** Multiple of 8. @default the model's native size */
  readonly width?: number;
  /** Multiple of 8. @default the model's native size */
  readonly height?: number;
  /** @default the model's default (model_index.json or 20) */
  readonly numInferenceSteps?: number;
  /** Classifier-free guidance; ≤ 1 runs no unconditional batch. @default the model's default */
  readonly guidanceScale?: number;
  /** Image i uses seed + i, so each image is reproducible alone. @default random */
  readonly seed?: number;
  /** @default 1 */
  readonly numImagesPerPrompt?: number;
  /** diffusers class name. @default the model's scheduler_config.json class */
  readonly scheduler?: SchedulerName;
  /**
   * diffusers' `use_karras_sigmas`, set on top of the model's scheduler config (Karras et al. ρ=7 noise levels).
   * Only DPMSolverMultistepScheduler and EulerDiscreteScheduler support it; `true` with another scheduler is
   * rejected. @default the model's scheduler config
   */
  readonly useKarrasSigmas?: boolean;
  /** img2img: the init image, resized to width×height. */
  readonly image?: RgbImage;
  /** img2img strength in (0, 1]. @default 0.8 */
  readonly strength?: number;
  /** Checked every step; an aborted generation rejects with EngineError code `sd_engine_aborted`. */
  readonly signal?: AbortSignal;
  /** Called after every denoising step. */
  readonly onProgress?: (progress: StepProgress) => void;
  /** Compute a preview every N steps (0 = never). @default 1 */
  readonly previewEvery?: number;
}

export interface StepProgress {
  /** 1-based. */
  readonly step: number;
  readonly totalSteps: number;
  /** Small RGB preview of the first image's predicted x0, when computed this step. */
  readonly preview?: RgbImage;
}

export interface GenerateResult {
  readonly images: RgbImage[];
  /** The seed of each image. */
  readonly seeds: number[];
  /** Things the caller may show the user, e.g. a truncated prompt. */
  readonly warnings: string[];
  readonly timings: { readonly totalMs: number; readonly modelMs: number };
}

export interface ModelInfo {
  readonly name: string;
  readonly modelDir: string;
  /** Native resolution. */
  readonly width: number;
  readonly height: number;
  readonly defaultSteps: number;
  readonly defaultGuidanceScale: number;
  readonly defaultScheduler: SchedulerName;
  readonly supportsImg2Img: boolean;
  /** Width and height must be multiples of this: the VAE factor × the UNet's downsampling (SD 1.x: 8 × 8 = 64). */
  readonly sizeMultiple: number;
  /** Where the model runs: the requested device, or 'cpu' after a fallback. */
  readonly device: Device;
  /** Set when `fallbackToCpu` replaced the requested device: why (the engine also emits a process warning). */
  readonly deviceFallback?: string;
}

/** What the bot core needs from an engine; the real one runs in a worker thread. */
export interface Engine {
  readonly info: ModelInfo;
  generate(options: GenerateOptions): Promise<GenerateResult>;
  /**
   * Optional: runs requests with the same `batchKey` as one UNet batch, one promise per request (each settles on
   * its own, with the result `generate` would give).
   */
  generateBatch?(requests: readonly GenerateOptions[]): Promise<GenerateResult>[];
  close(): Promise<void>;
}
