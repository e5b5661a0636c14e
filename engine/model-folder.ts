// Reads a diffusers/optimum ONNX model folder: which files exist, and the configs the pipeline needs
// (VAE scaling, latent→RGB preview factors, native size, defaults). Session I/O is checked in models.ts;
// checkCompatibility() below checks the parts against each other once they are open.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { EngineError } from './errors.ts';
import { isSchedulerName } from './schedulers/index.ts';
import type { SchedulerConfigJson } from './schedulers/scheduler.ts';
import type { SchedulerName } from './types.ts';

/** SD 1.x latent → RGB factors (ComfyUI latent_formats.SD15), rows = latent channels, columns = R, G, B. */
export const sd15LatentRgbFactors: readonly (readonly number[])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];
export const defaultScalingFactor = 0.18215;

const sdxlPipelines = ['StableDiffusionXLPipeline', 'ORTStableDiffusionXLPipeline', 'LCMStableDiffusionXLPipeline', 'StableDiffusionXLImg2ImgPipeline', 'ORTStableDiffusionXLImg2ImgPipeline'];

export interface ModelConfig {
  /** VAE latents × scalingFactor = UNet latents. */
  readonly scalingFactor: number;
  /** Pixels per latent cell: 2^(len(block_out_channels) − 1). */
  readonly vaeScaleFactor: number;
  /**
   * Image sides must be multiples of this: vaeScaleFactor × 2^(UNet downsamplings). diffusers asks only for multiples
   * of 8, but an ONNX UNet's skip connections fail to concatenate when a latent side does not halve evenly.
   */
  readonly sizeMultiple: number;
  /** From unet/config.json `in_channels`, when present. */
  readonly latentChannels: number | undefined;
  /** From unet/config.json `cross_attention_dim`, when present. */
  readonly crossAttentionDim: number | undefined;
  /** LCM guidance embedding size (unet/config.json `time_cond_proj_dim`), when present. */
  readonly timeCondProjDim: number | undefined;
  readonly latentRgbFactors: readonly (readonly number[])[];
  readonly latentRgbBias: readonly number[];
  readonly width: number;
  readonly height: number;
  readonly defaultSteps: number;
  readonly defaultGuidanceScale: number;
}

export interface ModelFolder {
  readonly dir: string;
  readonly name: string;
  readonly pipelineClass: string;
  /** Latent consistency model: guidance is embedded (timestep_cond), never a CFG batch. */
  readonly isLcm: boolean;
  readonly tokenizerDir: string;
  readonly textEncoderPath: string;
  readonly unetPath: string;
  readonly vaeDecoderPath: string;
  readonly vaeEncoderPath: string | undefined;
  readonly taesdDecoderPath: string | undefined;
  readonly schedulerConfig: SchedulerConfigJson;
  readonly defaultScheduler: SchedulerName;
  readonly config: ModelConfig;
}

function fail(file: string, message: string, cause?: unknown): never {
  throw new EngineError('sd_engine_model_load', message, { file, cause });
}

function readJson(file: string, what: string, required: true): Record<string, unknown>;
function readJson(file: string, what: string, required: false): Record<string, unknown> | undefined;
function readJson(file: string, what: string, required: boolean): Record<string, unknown> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    fail(file, `Expected ${what} at ${file}, but the file does not exist.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    fail(file, `Expected ${file} to be valid JSON (${what}): ${(cause as Error).message}`, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(file, `Expected ${file} to hold a JSON object (${what}), got ${Array.isArray(value) ? 'an array' : typeof value}.`);
  }
  return value as Record<string, unknown>;
}

function requireFile(path: string, what: string): string {
  if (!existsSync(path)) fail(path, `Expected ${what} at ${path}, but it does not exist.`);
  return path;
}

function positiveNumber(json: Record<string, unknown> | undefined, key: string, file: string): number | undefined {
  const value = json?.[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value > 0)) fail(file, `Expected \`${key}\` in ${file} to be a positive number, got \`${JSON.stringify(value)}\`.`);
  return value;
}

function positiveInteger(json: Record<string, unknown> | undefined, key: string, file: string): number | undefined {
  const value = positiveNumber(json, key, file);
  if (value !== undefined && !Number.isInteger(value)) fail(file, `Expected \`${key}\` in ${file} to be an integer, got \`${value}\`.`);
  return value;
}

// Turbo models default to guidance 0, so zero is allowed here.
function guidanceDefault(defaults: Record<string, unknown> | undefined, file: string): number | undefined {
  const value = defaults?.guidance_scale;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= 0)) fail(file, `Expected imagine_defaults.guidance_scale in ${file} to be a number ≥ 0, got \`${JSON.stringify(value)}\`.`);
  return value;
}

function numberMatrix(value: unknown, rows: number | undefined, cols: number): value is number[][] {
  return (
    Array.isArray(value) &&
    (rows === undefined || value.length === rows) &&
    value.every((r) => Array.isArray(r) && r.length === cols && r.every((x) => typeof x === 'number'))
  );
}

function previewFactors(vaeConfig: Record<string, unknown> | undefined, file: string, latentChannels: number | undefined) {
  const factors = vaeConfig?.latent_rgb_factors;
  const bias = vaeConfig?.latent_rgb_bias;
  if (factors !== undefined && !numberMatrix(factors, latentChannels, 3)) {
    fail(file, `Expected \`latent_rgb_factors\` in ${file} to be ${latentChannels ?? 'C'} rows of 3 numbers (latent channel → R, G, B).`);
  }
  if (bias !== undefined && !(Array.isArray(bias) && bias.length === 3 && bias.every((x) => typeof x === 'number'))) {
    fail(file, `Expected \`latent_rgb_bias\` in ${file} to be 3 numbers (R, G, B).`);
  }
  return { latentRgbFactors: (factors as number[][] | undefined) ?? sd15LatentRgbFactors, latentRgbBias: (bias as number[] | undefined) ?? [0, 0, 0] };
}

function modelPath(dir: string, part: string, required: true): string;
function modelPath(dir: string, part: string, required: false): string | undefined;
function modelPath(dir: string, part: string, required: boolean): string | undefined {
  const path = join(dir, part, 'model.onnx');
  if (existsSync(path)) return path;
  if (!required) return undefined;
  fail(path, `Expected the ${part} ONNX model at ${path}, but it does not exist. A diffusers/optimum export has ${part}/model.onnx (weights may sit beside it in model.onnx_data or weights.pb).`);
}

/** Reads and checks the folder's files and configs; opens no session. */
export function readModelFolder(dirInput: string): ModelFolder {
  const dir = resolve(dirInput);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    fail(dir, `Expected a model folder (diffusers/optimum ONNX layout with model_index.json) at ${dir}, but it does not exist.`);
  }
  const indexFile = join(dir, 'model_index.json');
  const index = readJson(indexFile, 'the pipeline index (model_index.json)', true);
  const pipelineClass = typeof index._class_name === 'string' ? index._class_name : 'StableDiffusionPipeline';
  if (sdxlPipelines.includes(pipelineClass) || existsSync(join(dir, 'text_encoder_2'))) {
    fail(indexFile, `${dir} is an SDXL model (${pipelineClass}); SDXL is not supported yet. Use a Stable Diffusion 1.x/2.x, Turbo or LCM export.`);
  }

  const tokenizerDir = join(dir, 'tokenizer');
  requireFile(join(tokenizerDir, 'vocab.json'), 'the CLIP tokenizer vocabulary');
  requireFile(join(tokenizerDir, 'merges.txt'), 'the CLIP tokenizer merges');

  const schedulerFile = join(dir, 'scheduler', 'scheduler_config.json');
  const schedulerConfig = readJson(schedulerFile, 'the scheduler config', true);
  const schedulerClass = schedulerConfig._class_name;
  const isLcm = pipelineClass.includes('LatentConsistencyModel') || schedulerClass === 'LCMScheduler';
  // Schedulers we do not implement (LMS, Heun, …) get the closest one we have.
  const defaultScheduler: SchedulerName = isSchedulerName(schedulerClass)
    ? schedulerClass
    : isLcm
      ? 'LCMScheduler'
      : 'EulerDiscreteScheduler';

  const unetConfigFile = join(dir, 'unet', 'config.json');
  const unetConfig = readJson(unetConfigFile, 'the UNet config', false);
  const vaeConfigFile = join(dir, 'vae_decoder', 'config.json');
  const vaeConfig = readJson(vaeConfigFile, 'the VAE decoder config', false);

  const blockOut = vaeConfig?.block_out_channels;
  if (blockOut !== undefined && !(Array.isArray(blockOut) && blockOut.length > 0)) {
    fail(vaeConfigFile, `Expected \`block_out_channels\` in ${vaeConfigFile} to be a non-empty array.`);
  }
  const vaeScaleFactor = Array.isArray(blockOut) ? 2 ** (blockOut.length - 1) : 8;
  const latentChannels = positiveInteger(unetConfig, 'in_channels', unetConfigFile);
  const vaeLatentChannels = positiveInteger(vaeConfig, 'latent_channels', vaeConfigFile);
  if (latentChannels !== undefined && vaeLatentChannels !== undefined && latentChannels !== vaeLatentChannels) {
    fail(vaeConfigFile, `The UNet works on ${latentChannels} latent channels (${unetConfigFile} in_channels) but the VAE on ${vaeLatentChannels} (${vaeConfigFile} latent_channels). They must come from the same model.`);
  }
  const sampleSize = positiveInteger(unetConfig, 'sample_size', unetConfigFile) ?? 64;
  const unetBlocks = unetConfig?.block_out_channels;
  // SD 1.x/2.x UNets have 4 blocks (3 downsamplings) when the config does not say.
  const sizeMultiple = vaeScaleFactor * 2 ** (Array.isArray(unetBlocks) && unetBlocks.length > 0 ? unetBlocks.length - 1 : 3);
  const crossAttention = unetConfig?.cross_attention_dim;
  const crossAttentionDim = typeof crossAttention === 'number' ? crossAttention : undefined;

  const defaults = index.imagine_defaults as Record<string, unknown> | undefined;
  const native = sampleSize * vaeScaleFactor;
  const config: ModelConfig = {
    scalingFactor: positiveNumber(vaeConfig, 'scaling_factor', vaeConfigFile) ?? defaultScalingFactor,
    vaeScaleFactor,
    sizeMultiple,
    latentChannels,
    crossAttentionDim,
    timeCondProjDim: positiveInteger(unetConfig, 'time_cond_proj_dim', unetConfigFile),
    ...previewFactors(vaeConfig, vaeConfigFile, latentChannels),
    width: positiveInteger(defaults, 'width', indexFile) ?? native,
    height: positiveInteger(defaults, 'height', indexFile) ?? native,
    defaultSteps: positiveInteger(defaults, 'num_inference_steps', indexFile) ?? (isLcm ? 4 : 20),
    defaultGuidanceScale: guidanceDefault(defaults, indexFile) ?? (isLcm ? 8.5 : 7.5),
  };
  for (const key of ['width', 'height'] as const) {
    if (config[key] % sizeMultiple !== 0) fail(indexFile, `Expected imagine_defaults.${key} in ${indexFile} to be a multiple of ${sizeMultiple}, got ${config[key]}.`);
  }

  return {
    dir,
    name: basename(dir),
    pipelineClass,
    isLcm,
    tokenizerDir,
    textEncoderPath: modelPath(dir, 'text_encoder', true),
    unetPath: modelPath(dir, 'unet', true),
    vaeDecoderPath: modelPath(dir, 'vae_decoder', true),
    vaeEncoderPath: modelPath(dir, 'vae_encoder', false),
    taesdDecoderPath: modelPath(dir, 'taesd_decoder', false),
    schedulerConfig,
    defaultScheduler,
    config,
  };
}

/** Static dimensions only: a symbolic one (a string) or a missing one checks nothing. */
function staticDim(shape: readonly (number | string)[] | undefined, axis: number): number | undefined {
  const d = shape?.[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

export interface ComponentShapes {
  readonly textHidden: readonly (number | string)[] | undefined;
  readonly unetSample: readonly (number | string)[];
  readonly unetHidden: readonly (number | string)[];
  readonly vaeLatent: readonly (number | string)[];
}

/** Cross-checks the opened parts: latent channels and text hidden size must agree where both are static. */
export function checkCompatibility(folder: ModelFolder, shapes: ComponentShapes): void {
  const unetChannels = staticDim(shapes.unetSample, 1) ?? folder.config.latentChannels;
  const vaeChannels = staticDim(shapes.vaeLatent, 1);
  if (unetChannels !== undefined && vaeChannels !== undefined && unetChannels !== vaeChannels) {
    fail(folder.vaeDecoderPath, `${folder.vaeDecoderPath} takes ${vaeChannels}-channel latents but ${folder.unetPath} works on ${unetChannels} channels. The VAE and UNet must come from the same model.`);
  }
  const textDim = staticDim(shapes.textHidden, 2);
  const unetDim = staticDim(shapes.unetHidden, 2);
  if (textDim !== undefined && unetDim !== undefined && textDim !== unetDim) {
    fail(folder.textEncoderPath, `${folder.textEncoderPath} outputs ${textDim}-dim hidden states but ${folder.unetPath} expects encoder_hidden_states of size ${unetDim} (cross-attention dim). The text encoder and UNet must come from the same model.`);
  }
  const configDim = folder.config.crossAttentionDim;
  const unetConfigFile = join(folder.dir, 'unet', 'config.json');
  if (configDim !== undefined && (textDim ?? unetDim) !== undefined && configDim !== (unetDim ?? textDim)) {
    fail(unetConfigFile, `${unetConfigFile} says cross_attention_dim ${configDim}, but the exported models use ${unetDim ?? textDim}-dim text embeddings. The config does not belong to these models.`);
  }
}
