// /imagine: a prompt with Midjourney-style flags, or the same as typed options. Defaults fall through
// user → guild → global settings → the model's own.
import { randomInt } from 'node:crypto';
import type { ModelInfo } from '../engine/index.ts';
import { ValidationError } from '../src/core/errors.ts';
import type {
  Command,
  CommandOption,
  GenerationDefaults,
  GenerationLimits,
  JobParams,
  OptionValue,
} from '../src/core/types.ts';
import {
  type FlagBounds,
  type ImagineFlags,
  MAX_GUIDANCE,
  MAX_IMAGES,
  MAX_SEED,
  checkPrompt,
  flagOf,
  parseFlagValue,
  parseFlags,
  samplerNames,
  samplerParams,
  type SamplerName,
  sizeFor,
} from './flags.ts';

/** Typed option name → parameter (the option names are the flag names). */
const typedOptions = {
  ar: 'aspectRatio',
  seed: 'seed',
  no: 'negativePrompt',
  steps: 'numInferenceSteps',
  guidance: 'guidanceScale',
  sampler: 'sampler',
  n: 'numImagesPerPrompt',
} as const;

export function imagineOptions(maxPromptLength = 1000, maxSteps = 150): CommandOption[] {
  return [
    { name: 'prompt', description: 'What to draw; flags like --ar 3:2 --seed 42 may follow', type: 'string', required: true, minLength: 1, maxLength: maxPromptLength },
    { name: 'ar', description: 'Aspect ratio W:H, e.g. 3:2 (1:4 to 4:1)', type: 'string', maxLength: 7 },
    { name: 'seed', description: `Seed, 0 to ${MAX_SEED}`, type: 'integer', min: 0, max: MAX_SEED },
    { name: 'no', description: 'Things to avoid (negative prompt)', type: 'string', maxLength: 500 },
    { name: 'steps', description: `Denoising steps, 1 to ${maxSteps}`, type: 'integer', min: 1, max: maxSteps },
    { name: 'guidance', description: `Guidance scale (cfg), 0 to ${MAX_GUIDANCE}`, type: 'number', min: 0, max: MAX_GUIDANCE },
    { name: 'sampler', description: 'Sampler', type: 'string', choices: samplerNames.map((s) => ({ name: s, value: s })) },
    { name: 'n', description: `Images, 1 to ${MAX_IMAGES}`, type: 'integer', min: 1, max: MAX_IMAGES },
  ];
}

/** Flags from the prompt text plus typed options; the same parameter given both ways is an error. */
export function parseImagine(options: Readonly<Record<string, OptionValue>>, bounds: FlagBounds): ImagineFlags {
  const prompt = options.prompt;
  if (typeof prompt !== 'string') throw new ValidationError('prompt', 'Expected a prompt, e.g. `/imagine a red fox in the snow`');
  const flags: Record<string, unknown> = { ...parseFlags(prompt, bounds) };
  for (const [name, value] of Object.entries(options)) {
    if (name === 'prompt') continue;
    if (!Object.hasOwn(typedOptions, name)) {
      throw new ValidationError(name, `Unknown option \`${name}\`. Options are: prompt, ${Object.keys(typedOptions).join(', ')}`);
    }
    const key = typedOptions[name as keyof typeof typedOptions];
    if (flags[key] !== undefined) {
      throw new ValidationError(flagOf[key], `\`${flagOf[key]}\` is given twice (in the prompt and as an option); give it once`);
    }
    flags[key] = parseFlagValue(key, String(value).trim(), bounds);
  }
  checkPrompt(flags.prompt as string);
  return flags as unknown as ImagineFlags;
}

export function randomSeed(): number {
  return randomInt(0, MAX_SEED + 1);
}

/** Resolve flags against the defaults chain into complete job parameters. */
export function resolveParams(
  flags: ImagineFlags,
  chain: readonly GenerationDefaults[],
  limits: GenerationLimits,
  model: ModelInfo,
): JobParams {
  const pick = <K extends keyof GenerationDefaults>(key: K): GenerationDefaults[K] | undefined =>
    chain.find((d) => d[key] !== undefined)?.[key];
  const aspectRatio = flags.aspectRatio ?? pick('aspectRatio');
  const sampler = flags.sampler ?? (pick('sampler') as SamplerName | undefined);
  const { width, height } = sizeFor(aspectRatio, model);
  return {
    prompt: flags.prompt,
    negativePrompt: flags.negativePrompt ?? pick('negativePrompt') ?? '',
    width,
    height,
    numInferenceSteps: flags.numInferenceSteps ?? pick('numInferenceSteps') ?? limits.defaultSteps ?? model.defaultSteps,
    guidanceScale: flags.guidanceScale ?? pick('guidanceScale') ?? limits.defaultGuidanceScale ?? model.defaultGuidanceScale,
    seed: flags.seed ?? randomSeed(),
    numImagesPerPrompt: flags.numImagesPerPrompt ?? pick('numImagesPerPrompt') ?? limits.defaultImages,
    ...(sampler !== undefined && samplerParams(sampler)),
    ...(aspectRatio !== undefined && { aspectRatio }),
  };
}

export default {
  data: {
    name: 'imagine',
    description: 'Draw four images from a prompt (flags: --ar --seed --no --steps --guidance --sampler --n)',
    options: imagineOptions(),
    ephemeral: false,
    textOption: 'prompt',
  },
  async execute({ input, reply, services }) {
    const bounds = { maxPromptLength: services.limits.maxPromptLength, maxSteps: services.limits.maxSteps };
    const flags = parseImagine(input.options, bounds);
    await services.moderate(input.actor, [flags.prompt, flags.negativePrompt ?? ''].join('\n'));
    const { actor } = input;
    const chain = [await services.settings.user(actor.platform, actor.userId), await services.settings.guild(actor.platform, actor.guildId)];
    const params = resolveParams(flags, chain, services.limits, services.model);
    await services.jobs.submit({ actor, kind: 'imagine', params }, reply);
  },
} satisfies Command;
