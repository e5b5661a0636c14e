// Stage 1 of generate(): validate and resolve defaults, with messages that teach (p-queue style). Never clamps
// or corrects silently (diffusers' philosophy).
import { randomInt } from 'node:crypto';
import { EngineError } from './errors.ts';
import type { ModelFolder } from './model-folder.ts';
import { isSchedulerName, karrasSchedulerNames, schedulerNames } from './schedulers/index.ts';
import type { GenerateOptions, RgbImage, SchedulerName } from './types.ts';

export const limits = {
  maxSide: 2048,
  maxSteps: 150,
  maxGuidance: 30,
  maxImages: 16,
  maxSeed: 0xffffffff,
} as const;

export interface ResolvedInputs {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly numInferenceSteps: number;
  readonly guidanceScale: number;
  readonly seed: number;
  readonly numImagesPerPrompt: number;
  readonly scheduler: SchedulerName;
  /** undefined: as the model's scheduler config says. */
  readonly useKarrasSigmas: boolean | undefined;
  readonly image: RgbImage | undefined;
  readonly strength: number;
  readonly previewEvery: number;
}

function invalid(message: string): never {
  throw new EngineError('sd_engine_invalid_input', message);
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return `\`${text.length > 40 ? `${text.slice(0, 40)}…` : text}\` (${value === null ? 'null' : typeof value})`;
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`Expected \`${name}\` to be an integer from ${min} to ${max}, got ${shown(value)}`);
  }
  return value;
}

function number(name: string, value: unknown, min: number, max: number, minExclusive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value > max || (minExclusive ? value <= min : value < min)) {
    invalid(`Expected \`${name}\` to be a number ${minExclusive ? `above ${min}` : `from ${min}`} to ${max}, got ${shown(value)}`);
  }
  return value;
}

function side(name: 'width' | 'height', value: unknown, multiple: number): number {
  const v = integer(name, value, multiple, limits.maxSide);
  if (v % multiple !== 0) {
    const down = v - (v % multiple);
    invalid(`Expected \`${name}\` to be a multiple of ${multiple} for this model (its VAE and UNet downsample by ${multiple}), got \`${v}\`; try ${down || multiple} or ${down + multiple}.`);
  }
  return v;
}

function checkImage(image: unknown): RgbImage {
  const img = image as RgbImage;
  if (
    typeof img !== 'object' ||
    img === null ||
    !Number.isInteger(img.width) ||
    !Number.isInteger(img.height) ||
    img.width < 1 ||
    img.height < 1 ||
    !(img.data instanceof Uint8Array) ||
    img.data.length !== img.width * img.height * 3
  ) {
    invalid('Expected `image` to be an RgbImage { width, height, data: Uint8Array of width × height × 3 bytes (RGB) }.');
  }
  return img;
}

export function checkInputs(options: GenerateOptions, model: ModelFolder): ResolvedInputs {
  if (typeof options !== 'object' || options === null) invalid(`Expected generate options to be an object, got ${shown(options)}`);
  const { config } = model;
  if (typeof options.prompt !== 'string') invalid(`Expected \`prompt\` to be a string, got ${shown(options.prompt)}`);
  const negativePrompt = options.negativePrompt ?? '';
  if (typeof negativePrompt !== 'string') invalid(`Expected \`negativePrompt\` to be a string, got ${shown(negativePrompt)}`);
  const scheduler = options.scheduler ?? model.defaultScheduler;
  if (!isSchedulerName(scheduler)) {
    invalid(`Expected \`scheduler\` to be one of ${schedulerNames.map((s) => `\`${s}\``).join(', ')}, got ${shown(scheduler)}`);
  }
  const { useKarrasSigmas } = options;
  if (useKarrasSigmas !== undefined && typeof useKarrasSigmas !== 'boolean') {
    invalid(`Expected \`useKarrasSigmas\` to be a boolean, got ${shown(useKarrasSigmas)}`);
  }
  if (useKarrasSigmas && !karrasSchedulerNames.includes(scheduler)) {
    invalid(`\`useKarrasSigmas\` needs a scheduler with Karras sigmas (${karrasSchedulerNames.map((s) => `\`${s}\``).join(', ')}); \`${scheduler}\` has none. Pick one of those or leave \`useKarrasSigmas\` out.`);
  }
  const image = options.image === undefined ? undefined : checkImage(options.image);
  const strength = number('strength', options.strength ?? 0.8, 0, 1, true);
  const numInferenceSteps = integer('numInferenceSteps', options.numInferenceSteps ?? config.defaultSteps, 1, limits.maxSteps);
  if (image && Math.floor(numInferenceSteps * strength) < 1) {
    invalid(`\`strength\` ${strength} × \`numInferenceSteps\` ${numInferenceSteps} leaves no denoising step; raise either so their product is at least 1.`);
  }
  return {
    prompt: options.prompt,
    negativePrompt,
    width: side('width', options.width ?? config.width, config.sizeMultiple),
    height: side('height', options.height ?? config.height, config.sizeMultiple),
    numInferenceSteps,
    guidanceScale: number('guidanceScale', options.guidanceScale ?? config.defaultGuidanceScale, 0, limits.maxGuidance),
    seed: integer('seed', options.seed ?? randomInt(0, limits.maxSeed), 0, limits.maxSeed),
    numImagesPerPrompt: integer('numImagesPerPrompt', options.numImagesPerPrompt ?? 1, 1, limits.maxImages),
    scheduler,
    useKarrasSigmas,
    image,
    strength,
    previewEvery: integer('previewEvery', options.previewEvery ?? 1, 0, limits.maxSteps),
  };
}
