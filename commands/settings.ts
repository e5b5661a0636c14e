// /settings: your own defaults for /imagine, or (admins) the guild's defaults and banned words.
// With no option it shows the current settings.
import { BotError, ErrorCode, ValidationError, expected } from '../src/core/errors.ts';
import type { Command, GenerationDefaults, GuildSettings, OptionValue } from '../src/core/types.ts';
import { MAX_GUIDANCE, MAX_IMAGES, parseFlagValue, samplerNames } from './flags.ts';

const MAX_BANNED_WORDS = 200;

/** Option → (parameter, flag key for validation). */
const settable = {
  ar: 'aspectRatio',
  steps: 'numInferenceSteps',
  guidance: 'guidanceScale',
  sampler: 'sampler',
  n: 'numImagesPerPrompt',
  no: 'negativePrompt',
} as const;

export function applySettings(
  current: GuildSettings,
  options: Readonly<Record<string, OptionValue>>,
  bounds: { maxPromptLength: number; maxSteps: number },
  scope: 'user' | 'guild',
): GuildSettings {
  if (options.reset === true) return {};
  const next: Record<string, unknown> = { ...current };
  for (const [name, value] of Object.entries(options)) {
    if (name === 'scope' || name === 'reset') continue;
    if (name === 'banned_words') {
      if (scope !== 'guild') throw new ValidationError('banned_words', 'Banned words are a guild setting: use `scope: guild` (admins only)');
      const words = String(value)
        .split(',')
        .map((w) => w.trim().toLowerCase())
        .filter(Boolean);
      if (words.length > MAX_BANNED_WORDS) throw new ValidationError('banned_words', `Expected at most ${MAX_BANNED_WORDS} banned words, got ${words.length}`);
      // `-` clears the list.
      next.bannedWords = words.length === 1 && words[0] === '-' ? [] : words;
      continue;
    }
    if (name === 'role_boost') {
      if (scope !== 'guild') throw new ValidationError('role_boost', 'Role boosts are a guild setting: use `scope: guild` (admins only)');
      next.roleBoosts = parseRoleBoosts(String(value));
      continue;
    }
    if (!Object.hasOwn(settable, name)) {
      throw new ValidationError(name, `Unknown setting \`${name}\`. Settings are: ${Object.keys(settable).join(', ')}, banned_words, role_boost, reset`);
    }
    const key = settable[name as keyof typeof settable];
    const text = String(value).trim();
    // `-` unsets one setting (falls back to the next level).
    next[key] = text === '-' ? undefined : parseFlagValue(key, text, bounds);
  }
  return Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined)) as GuildSettings;
}

const MAX_BOOST = 10;

/** `123=2, 456=1` → { '123': 2, '456': 1 }; `-` clears. Boosts are integers from 0 to 10. */
export function parseRoleBoosts(text: string): Record<string, number> {
  const trimmed = text.trim();
  if (trimmed === '-') return {};
  const what = `a comma-separated list of role=boost pairs with boosts from 0 to ${MAX_BOOST}, e.g. \`123456789=2\``;
  const out: Record<string, number> = {};
  for (const pair of trimmed.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^<?@?&?([\w-]{1,40})>?\s*=\s*(\d{1,2})$/.exec(pair);
    if (!m || Number(m[2]) > MAX_BOOST) throw new ValidationError('role_boost', expected('role_boost', what, pair));
    out[m[1]] = Number(m[2]);
  }
  if (Object.keys(out).length > 25) throw new ValidationError('role_boost', 'Expected at most 25 role boosts');
  return out;
}

export function describeSettings(settings: GuildSettings): { name: string; value: string }[] {
  const d: GenerationDefaults = settings;
  const fields = [
    { name: 'ar', value: d.aspectRatio ?? '(default)' },
    { name: 'steps', value: d.numInferenceSteps?.toString() ?? '(default)' },
    { name: 'guidance', value: d.guidanceScale?.toString() ?? '(default)' },
    { name: 'sampler', value: d.sampler ?? '(default)' },
    { name: 'n', value: d.numImagesPerPrompt?.toString() ?? '(default)' },
    { name: 'no', value: d.negativePrompt ?? '(none)' },
  ];
  if (settings.bannedWords !== undefined) fields.push({ name: 'banned_words', value: settings.bannedWords.join(', ') || '(none)' });
  if (settings.roleBoosts !== undefined) {
    const boosts = Object.entries(settings.roleBoosts).map(([role, boost]) => `${role}=${boost}`);
    fields.push({ name: 'role_boost', value: boosts.join(', ') || '(none)' });
  }
  return fields;
}

export default {
  data: {
    name: 'settings',
    description: 'Your default /imagine settings; admins: the server defaults and banned words',
    ephemeral: true,
    options: [
      { name: 'scope', description: 'Whose settings', type: 'string', choices: [{ name: 'me', value: 'user' }, { name: 'server (admins)', value: 'guild' }] },
      { name: 'ar', description: 'Default aspect ratio W:H (- to unset)', type: 'string', maxLength: 7 },
      { name: 'steps', description: 'Default steps (- to unset)', type: 'string', maxLength: 4 },
      { name: 'guidance', description: `Default guidance 0 to ${MAX_GUIDANCE} (- to unset)`, type: 'string', maxLength: 6 },
      { name: 'sampler', description: `Default sampler: ${samplerNames.join(', ')} (- to unset)`, type: 'string', maxLength: 20 },
      { name: 'n', description: `Default images 1 to ${MAX_IMAGES} (- to unset)`, type: 'string', maxLength: 2 },
      { name: 'no', description: 'Default negative prompt (- to unset)', type: 'string', maxLength: 500 },
      { name: 'banned_words', description: 'Server only: comma-separated banned words (- clears)', type: 'string', maxLength: 2000 },
      { name: 'role_boost', description: 'Server only: queue priority per role, e.g. 123456789=2 (- clears)', type: 'string', maxLength: 1000 },
      { name: 'reset', description: 'Clear all these settings', type: 'boolean' },
    ],
  },
  async execute({ input, reply, services }) {
    const { actor, options } = input;
    const scope = options.scope === undefined ? 'user' : options.scope;
    if (scope !== 'user' && scope !== 'guild') throw new ValidationError('scope', `Expected \`scope\` to be \`user\` or \`guild\`, got \`${String(scope)}\``);
    if (scope === 'guild' && actor.guildId.startsWith('dm:')) {
      throw new ValidationError('scope', 'Server settings can only be changed inside a server, not in a direct message');
    }
    const bounds = { maxPromptLength: services.limits.maxPromptLength, maxSteps: services.limits.maxSteps };
    const changing = Object.keys(options).some((k) => k !== 'scope');
    const current = scope === 'user' ? await services.settings.user(actor.platform, actor.userId) : await services.settings.guild(actor.platform, actor.guildId);
    if (!changing) {
      await reply.ephemeral({ text: scope === 'user' ? 'Your /imagine defaults:' : 'Server /imagine defaults:', fields: describeSettings(current) });
      return;
    }
    if (scope === 'guild' && !actor.isAdmin) {
      throw new BotError(ErrorCode.Forbidden, `User ${actor.userId} is not an admin`, 'Only server admins can change server settings.');
    }
    const next = applySettings(current, options, bounds, scope);
    if (scope === 'user') await services.settings.setUser(actor.platform, actor.userId, next);
    else await services.settings.setGuild(actor.platform, actor.guildId, next);
    await reply.ephemeral({ text: `Saved. ${scope === 'user' ? 'Your' : 'The server'} /imagine defaults are now:`, fields: describeSettings(next) });
  },
} satisfies Command;
