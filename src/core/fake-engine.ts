// A stand-in engine for fast tests, benchmarks and demos: deterministic images from seeds (a colour pattern per
// seed), a configurable time per step, progress with previews, and aborts honoured at every step — the same contract
// as the real engine, without a model.
import { EngineError } from '../../engine/index.ts';
import type { Engine, GenerateOptions, GenerateResult, ModelInfo, RgbImage } from '../../engine/index.ts';

export interface FakeEngineOptions {
  /** Time per denoising step; 0 yields to the event loop once per step. @default 0 */
  readonly stepMs?: number;
  /** @default a 64×64 model with 4 steps and guidance 1 */
  readonly info?: Partial<ModelInfo>;
  /** Make a call fail: return an error to throw before the first step. */
  readonly failWith?: (options: GenerateOptions) => Error | undefined;
}

export const fakeModelInfo: ModelInfo = {
  name: 'fake',
  modelDir: '(none)',
  width: 64,
  height: 64,
  defaultSteps: 4,
  defaultGuidanceScale: 1,
  defaultScheduler: 'EulerDiscreteScheduler',
  supportsImg2Img: true,
  sizeMultiple: 16,
  device: 'cpu',
};

/** A deterministic image for a seed: a two-colour gradient whose colours come from the seed. */
export function fakeImage(seed: number, width: number, height: number, init?: RgbImage, strength = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let h = (seed ^ 0x9e3779b9) >>> 0;
  const next = () => {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
    return (h ^ (h >>> 15)) & 255;
  };
  const a = [next(), next(), next()];
  const b = [next(), next(), next()];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / Math.max(1, width + height - 2);
      for (let c = 0; c < 3; c++) {
        let v = a[c] + (b[c] - a[c]) * t;
        if (init && init.width === width && init.height === height) v = init.data[(y * width + x) * 3 + c] * (1 - strength) + v * strength;
        data[(y * width + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return { width, height, data };
}

export class FakeEngine implements Engine {
  readonly info: ModelInfo;
  readonly #stepMs: number;
  readonly #failWith: FakeEngineOptions['failWith'];
  /** Every call's options, in order (for assertions). */
  readonly calls: GenerateOptions[] = [];
  closed = false;

  constructor(options: FakeEngineOptions = {}) {
    this.info = { ...fakeModelInfo, ...options.info };
    this.#stepMs = options.stepMs ?? 0;
    this.#failWith = options.failWith;
  }

  async generate(options: GenerateOptions): Promise<GenerateResult> {
    this.calls.push(options);
    const started = performance.now();
    const failure = this.#failWith?.(options);
    if (failure) throw failure;
    const width = options.width ?? this.info.width;
    const height = options.height ?? this.info.height;
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    const n = options.numImagesPerPrompt ?? 1;
    const strength = options.image ? (options.strength ?? 0.8) : 1;
    const total = options.image ? Math.max(1, Math.floor((options.numInferenceSteps ?? this.info.defaultSteps) * strength)) : (options.numInferenceSteps ?? this.info.defaultSteps);
    const previewEvery = options.previewEvery ?? 1;
    for (let step = 1; step <= total; step++) {
      if (options.signal?.aborted) throw new EngineError('sd_engine_aborted', 'Generation aborted', { cause: options.signal.reason });
      await (this.#stepMs > 0 ? new Promise((r) => setTimeout(r, this.#stepMs)) : new Promise((r) => setImmediate(r)));
      if (options.signal?.aborted) throw new EngineError('sd_engine_aborted', 'Generation aborted', { cause: options.signal.reason });
      const preview = previewEvery > 0 && step % previewEvery === 0 ? fakeImage(seed + step * 7919, 16, 16) : undefined;
      options.onProgress?.({ step, totalSteps: total, ...(preview && { preview }) });
    }
    const seeds = Array.from({ length: n }, (_, i) => (seed + i) % 2 ** 32);
    const images = seeds.map((s) => fakeImage(s, width, height, options.image, strength));
    const totalMs = performance.now() - started;
    return { images, seeds, warnings: [], timings: { totalMs, modelMs: totalMs } };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
