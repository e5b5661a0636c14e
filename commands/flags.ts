// Midjourney-style flags in the prompt text: `a red fox --ar 3:2 --seed 42 --no snow, trees --steps 20`.
// Everything after the first flag is flags; unknown or repeated flags and bad values are errors that name the flag
// and the allowed range. `—ar` (a phone's auto-corrected em dash) counts as `--ar`.
import type { SchedulerName } from '../engine/index.ts';
import { ValidationError, expected } from '../src/core/errors.ts';

export const MAX_SEED = 4_294_967_295;
export const MAX_GUIDANCE = 30;
export const MAX_IMAGES = 4;
/** `--ar` sides are integers 1..64 and the ratio stays within 1:4 .. 4:1, so sizes stay sane. */
export const MAX_AR_SIDE = 64;
export const MAX_AR_RATIO = 4;

/** `--sampler` names → diffusers scheduler classes. */
export const samplers = {
  euler: { scheduler: 'EulerDiscreteScheduler' },
  euler_a: { scheduler: 'EulerAncestralDiscreteScheduler' },
  ddim: { scheduler: 'DDIMScheduler' },
  pndm: { scheduler: 'PNDMScheduler' },
  'dpm++2m': { scheduler: 'DPMSolverMultistepScheduler' },
  'dpm++2m_karras': { scheduler: 'DPMSolverMultistepScheduler', useKarrasSigmas: true },
  lcm: { scheduler: 'LCMScheduler' },
} as const satisfies Record<string, { scheduler: SchedulerName; useKarrasSigmas?: boolean }>;
export type SamplerName = keyof typeof samplers;
export const samplerNames = Object.keys(samplers) as SamplerName[];
export const isSamplerName = (name: string): name is SamplerName => Object.hasOwn(samplers, name);

/** A sampler's job parameters: the scheduler class, Karras sigmas when the name asks for them, the name for display. */
export function samplerParams(sampler: SamplerName): { scheduler: SchedulerName; useKarrasSigmas?: boolean; sampler: SamplerName } {
  const entry: { scheduler: SchedulerName; useKarrasSigmas?: boolean } = samplers[sampler];
  return { scheduler: entry.scheduler, ...(entry.useKarrasSigmas !== undefined && { useKarrasSigmas: entry.useKarrasSigmas }), sampler };
}

/** The parameters a user can set, diffusers names; undefined = not given (defaults apply later). */
export interface ImagineFlags {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly aspectRatio?: string;
  readonly seed?: number;
  readonly numInferenceSteps?: number;
  readonly guidanceScale?: number;
  readonly sampler?: SamplerName;
  readonly numImagesPerPrompt?: number;
}

export interface FlagBounds {
  readonly maxPromptLength: number;
  readonly maxSteps: number;
}

type FlagKey = Exclude<keyof ImagineFlags, 'prompt'>;

/** Flag name (and aliases) → parameter. */
const flagNames: Record<string, FlagKey> = {
  ar: 'aspectRatio',
  aspect: 'aspectRatio',
  seed: 'seed',
  no: 'negativePrompt',
  steps: 'numInferenceSteps',
  guidance: 'guidanceScale',
  cfg: 'guidanceScale',
  sampler: 'sampler',
  n: 'numImagesPerPrompt',
};
/** The canonical flag of each parameter, used in messages and when formatting. */
export const flagOf: Record<FlagKey, string> = {
  aspectRatio: '--ar',
  seed: '--seed',
  negativePrompt: '--no',
  numInferenceSteps: '--steps',
  guidanceScale: '--guidance',
  sampler: '--sampler',
  numImagesPerPrompt: '--n',
};

const FLAG = /(?:^|\s)(?:--|—)(\S*)/g;

/** Parse prompt text with flags. Throws only `ValidationError`. */
export function parseFlags(text: string, bounds: FlagBounds): ImagineFlags {
  if (typeof text !== 'string') throw new ValidationError('prompt', expected('prompt', 'text', text));
  if (text.length > bounds.maxPromptLength) {
    throw new ValidationError(
      'prompt',
      `Expected the prompt to be at most ${bounds.maxPromptLength} characters (flags included), got ${text.length}`,
    );
  }
  const matches = [...text.matchAll(FLAG)];
  const prompt = (matches.length > 0 ? text.slice(0, matches[0].index) : text).trim();
  const out: Record<string, unknown> = { prompt };
  for (let i = 0; i < matches.length; i++) {
    const m = matches[i];
    const name = m[1].toLowerCase();
    const shown = `--${m[1]}`;
    const key = flagNames[name];
    if (!key) {
      throw new ValidationError(
        shown,
        name === ''
          ? `Found \`--\` without a flag name. Flags are: ${Object.values(flagOf).join(', ')}`
          : `Unknown flag \`${shown}\`. Flags are: ${[...new Set(Object.values(flagOf))].join(', ')} (\`--cfg\` = \`--guidance\`)`,
      );
    }
    if (key in out) throw new ValidationError(flagOf[key], `\`${flagOf[key]}\` is given twice; give it once`);
    const end = i + 1 < matches.length ? matches[i + 1].index : text.length;
    const value = text.slice(m.index + m[0].length, end).trim();
    out[key] = parseFlagValue(key, value, bounds);
  }
  checkPrompt(prompt);
  return out as unknown as ImagineFlags;
}

export function checkPrompt(prompt: string): void {
  if (prompt.length === 0) {
    throw new ValidationError('prompt', 'Expected a prompt before the flags, e.g. `/imagine a red fox in the snow --ar 3:2`');
  }
}

/** Validate one flag's value given as text (from the prompt or a typed option). */
export function parseFlagValue(key: FlagKey, value: string, bounds: FlagBounds): ImagineFlags[FlagKey] {
  const flag = flagOf[key];
  switch (key) {
    case 'negativePrompt':
      if (value.length === 0) throw new ValidationError(flag, expected(flag, 'the words to avoid, e.g. `--no snow, trees`', value));
      return value;
    case 'aspectRatio':
      return parseAspectRatio(value);
    case 'seed':
      return parseInteger(flag, value, 0, MAX_SEED);
    case 'numInferenceSteps':
      return parseInteger(flag, value, 1, bounds.maxSteps);
    case 'numImagesPerPrompt':
      return parseInteger(flag, value, 1, MAX_IMAGES);
    case 'guidanceScale': {
      const what = `a number from 0 to ${MAX_GUIDANCE}`;
      if (!/^\d+(\.\d+)?$|^\.\d+$/.test(value)) throw new ValidationError(flag, expected(flag, what, value));
      const n = Number(value);
      if (!(n >= 0 && n <= MAX_GUIDANCE)) throw new ValidationError(flag, expected(flag, what, value));
      return n;
    }
    case 'sampler': {
      const name = value.toLowerCase();
      if (!Object.hasOwn(samplers, name)) throw new ValidationError(flag, expected(flag, `one of ${samplerNames.join(', ')}`, value));
      return name as SamplerName;
    }
  }
}

function parseInteger(flag: string, value: string, min: number, max: number): number {
  const what = `an integer from ${min} to ${max}`;
  if (!/^\d{1,16}$/.test(value)) throw new ValidationError(flag, expected(flag, what, value));
  const n = Number(value);
  if (n < min || n > max) throw new ValidationError(flag, expected(flag, what, value));
  return n;
}

export function parseAspectRatio(value: string): string {
  const what = `a ratio W:H of whole numbers from 1 to ${MAX_AR_SIDE}, between 1:${MAX_AR_RATIO} and ${MAX_AR_RATIO}:1, e.g. \`3:2\``;
  const m = /^(\d{1,3}):(\d{1,3})$/.exec(value);
  if (!m) throw new ValidationError('--ar', expected('--ar', what, value));
  const w = Number(m[1]);
  const h = Number(m[2]);
  if (w < 1 || h < 1 || w > MAX_AR_SIDE || h > MAX_AR_SIDE || w / h > MAX_AR_RATIO || h / w > MAX_AR_RATIO) {
    throw new ValidationError('--ar', expected('--ar', what, value));
  }
  return `${w}:${h}`;
}

/**
 * Width and height for an aspect ratio: the short side stays the model's native one, where it was trained (SD 1.5:
 * `3:2` → 768×512), and the long side is rounded to the model's `sizeMultiple`. `1:1` (or none) is the native size.
 */
export function sizeFor(
  aspectRatio: string | undefined,
  native: { width: number; height: number; sizeMultiple: number },
): { width: number; height: number } {
  if (aspectRatio === undefined) return { width: native.width, height: native.height };
  const [w, h] = aspectRatio.split(':').map(Number);
  if (w === h) return { width: native.width, height: native.height };
  const short = Math.min(native.width, native.height);
  const long = Math.max(native.sizeMultiple, Math.round((short * Math.max(w, h)) / Math.min(w, h) / native.sizeMultiple) * native.sizeMultiple);
  return w > h ? { width: long, height: short } : { width: short, height: long };
}

/** The flags as text, in canonical form; `parseFlags(formatFlags(f))` gives `f` back. */
export function formatFlags(flags: Omit<ImagineFlags, 'prompt'>): string {
  const parts: string[] = [];
  for (const key of Object.keys(flagOf) as FlagKey[]) {
    const value = flags[key];
    if (value !== undefined) parts.push(`${flagOf[key]} ${value}`);
  }
  return parts.join(' ');
}
