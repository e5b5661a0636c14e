// Which requests may share one UNet batch: the same latent size, schedule and CFG mode. Prompts, negative
// prompts, seeds, image counts and guidance scales may differ (guidance is applied per image).
import { EngineError } from './errors.ts';
import type { ResolvedInputs } from './check-inputs.ts';
import type { GenerateOptions, ModelInfo } from './types.ts';

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
  return `${width}x${height}/${steps}/${scheduler}/${cfg ? 'cfg' : 'nocfg'}`;
}

function key(input: ResolvedInputs): string {
  return `${input.width}×${input.height}, ${input.numInferenceSteps} steps, ${input.scheduler}, CFG ${input.guidanceScale > 1 ? 'on' : 'off'}`;
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
