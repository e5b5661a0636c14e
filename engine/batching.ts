// Which requests may share one UNet batch: the same latent size, schedule and CFG mode. Prompts, negative
// prompts, seeds, image counts and guidance scales may differ (guidance is applied per image).
import { EngineError } from './errors.ts';
import type { ResolvedInputs } from './check-inputs.ts';
import type { Engine, GenerateOptions, GenerateResult, ModelInfo } from './types.ts';

/**
 * A key equal for requests that `generateBatch` can run together, from the options as a caller holds them
 * (defaults taken from the model); undefined for a request that must run alone (img2img).
 */
export function batchKey(options: GenerateOptions, info: ModelInfo): string | undefined {
  if (options.image) return undefined;
  const width = options.width ?? info.width;
  const height = options.height ?? info.height;
  const steps = options.numInferenceSteps ?? info.defaultSteps;
  const scheduler = options.scheduler ?? info.defaultScheduler;
  const cfg = (options.guidanceScale ?? info.defaultGuidanceScale) > 1;
  const karras = options.useKarrasSigmas === undefined ? '' : options.useKarrasSigmas ? '+karras' : '-karras';
  return `${width}x${height}/${steps}/${scheduler}${karras}/${cfg ? 'cfg' : 'nocfg'}`;
}

function key(input: ResolvedInputs): string {
  const karras = input.useKarrasSigmas === undefined ? '' : ` (Karras sigmas ${input.useKarrasSigmas ? 'on' : 'off'})`;
  return `${input.width}×${input.height}, ${input.numInferenceSteps} steps, ${input.scheduler}${karras}, CFG ${input.guidanceScale > 1 ? 'on' : 'off'}`;
}

/** Fails (every request) when resolved inputs cannot share a batch: a caller bug, since batchKey groups them. */
export function checkBatchable(inputs: readonly ResolvedInputs[]): void {
  if (inputs.length < 2) return;
  if (inputs.some((i) => i.image)) {
    throw new EngineError('sd_engine_invalid_input', 'img2img requests (with `image`) run alone; leave them out of generateBatch.');
  }
  const first = key(inputs[0]);
  const other = inputs.find((i) => key(i) !== first);
  if (other) {
    throw new EngineError('sd_engine_invalid_input', `Requests in one batch must share size, steps, scheduler and CFG mode; got ${first} and ${key(other)}. Group them with batchKey().`);
  }
}

export interface JobBatchingOptions {
  /** Most requests in one UNet batch (each may have several images). */
  readonly maxBatch: number;
  /** How long a request waits for companions with the same batchKey before it runs. @default 20 */
  readonly windowMs?: number;
}

interface Pending {
  readonly options: GenerateOptions;
  readonly resolve: (result: GenerateResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * An engine whose `generate` calls that arrive together (within `windowMs`) and share a `batchKey` run as one
 * `generateBatch`. Callers stay unchanged: a bot starts the jobs it wants batched at the same time, and each call
 * still resolves with its own result. Returns the engine itself when it cannot batch or maxBatch ≤ 1.
 */
export function withJobBatching(engine: Engine, options: JobBatchingOptions): Engine {
  const { maxBatch, windowMs = 20 } = options;
  if (!engine.generateBatch || maxBatch <= 1) return engine;
  const groups = new Map<string, { requests: Pending[]; timer: NodeJS.Timeout }>();

  const flush = (key: string) => {
    const group = groups.get(key);
    if (!group) return;
    groups.delete(key);
    clearTimeout(group.timer);
    const { requests } = group;
    const promises = requests.length === 1 ? [engine.generate(requests[0].options)] : engine.generateBatch!(requests.map((r) => r.options));
    promises.forEach((p, i) => p.then(requests[i].resolve, requests[i].reject));
  };

  return {
    get info() {
      return engine.info;
    },
    generate(request: GenerateOptions): Promise<GenerateResult> {
      const key = batchKey(request, engine.info);
      if (key === undefined) return engine.generate(request);
      return new Promise<GenerateResult>((resolve, reject) => {
        let group = groups.get(key);
        if (!group) {
          group = { requests: [], timer: setTimeout(() => flush(key), windowMs) };
          groups.set(key, group);
        }
        group.requests.push({ options: request, resolve, reject });
        if (group.requests.length >= maxBatch) flush(key);
      });
    },
    generateBatch: (requests) => engine.generateBatch!(requests),
    async close() {
      for (const key of [...groups.keys()]) flush(key);
      await engine.close();
    },
  };
}
