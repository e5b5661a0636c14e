// Playground requests → neutral inputs. Everything from the page is untrusted: bodies are validated, ids must match
// strict patterns, and a typed line is mapped onto the command's own option definitions before the core sees it.
import { z } from 'zod';
import type { Actor, BotInput, CommandDefinition, OptionValue } from '../../core/types.ts';

/** A problem with a request, answered with 400 and `{ error: { code, message } }`. */
export class WebInputError extends Error {
  readonly code = 'web_bad_request';
}

const idText = '8 to 64 letters, digits, - or _';
const id = z.string({ error: idText }).regex(/^[A-Za-z0-9_-]{8,64}$/, { error: idText });

export const guildPattern = /^[A-Za-z0-9_-]{1,32}$/;
const guildText = '1 to 32 letters, digits, - or _';

const body = z
  .object({
    tabId: id,
    userId: id,
    userName: z.string({ error: 'a string' }).trim().max(32, { error: 'at most 32 characters' }).optional(),
    guildId: z.string({ error: guildText }).regex(guildPattern, { error: guildText }),
    admin: z.boolean({ error: 'true or false' }).optional(),
    text: z.string({ error: 'a string' }).max(4000, { error: 'at most 4000 characters' }).optional(),
    button: z.string({ error: 'a string' }).max(100, { error: 'at most 100 characters' }).optional(),
  })
  .strict();

const fields = Object.keys(body.shape).join(', ');

export type InputBody = z.infer<typeof body>;

export function parseBody(raw: unknown): InputBody {
  const result = body.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue.code === 'unrecognized_keys') throw new WebInputError(`Bad request: unknown field \`${issue.keys[0]}\`; expected only ${fields}`);
    if (issue.path.length === 0) throw new WebInputError(`Bad request: expected the body to be a JSON object with ${fields}`);
    throw new WebInputError(`Bad request: expected \`${issue.path.join('.')}\` to be ${issue.message}`);
  }
  const b = result.data;
  if ((b.text === undefined) === (b.button === undefined)) throw new WebInputError('Bad request: send exactly one of `text` (a command line) or `button` (a button id)');
  return b;
}

export function actorOf(b: InputBody): Actor {
  return {
    platform: 'web',
    guildId: b.guildId,
    // One channel per playground guild.
    channelId: b.guildId,
    userId: b.userId,
    ...(b.userName ? { userName: b.userName } : {}),
    isAdmin: b.admin ?? false,
    roles: [],
  };
}

/**
 * `/imagine a fox --ar 3:2` → command `imagine` with `{ prompt: 'a fox --ar 3:2' }` (flags are the command's to parse).
 * Commands with a text option take the whole rest; others take `name:value` pairs (`/settings steps:30 scope:guild`).
 * A line without a leading slash is an `/imagine`, the thing a newcomer most likely meant.
 */
export function parseLine(line: string, commands: readonly CommandDefinition[]): { name: string; options: Record<string, OptionValue> } {
  const text = line.trim();
  if (text === '') throw new WebInputError('Type a command, e.g. `/imagine a lighthouse at dusk --ar 3:2`, or `/help`');
  const m = /^\/([a-z0-9-]{1,32})(?:\s+([\s\S]*))?$/i.exec(text);
  const name = m ? m[1].toLowerCase() : 'imagine';
  const rest = (m ? (m[2] ?? '') : text).trim();
  const def = commands.find((c) => c.name === name);
  if (!def) throw new WebInputError(`Unknown command \`/${name}\`. Expected one of: ${commands.map((c) => `/${c.name}`).join(', ')}`);
  const options: Record<string, OptionValue> = {};
  if (rest === '') return { name, options };
  if (def.textOption) {
    options[def.textOption] = rest;
    return { name, options };
  }
  const names = def.options.map((o) => o.name);
  if (names.length === 0) throw new WebInputError(`\`/${name}\` takes no options, got \`${rest.slice(0, 40)}\``);
  // Split at every `known:` that starts a word, so values may hold spaces and colons (`ar:3:2`, `no:blurry, text`).
  const at = new RegExp(`(?:^|\\s)(${names.map(escapeRegExp).join('|')}):`, 'g');
  const starts = [...rest.matchAll(at)];
  if (starts.length === 0 || rest.slice(0, starts[0].index).trim() !== '') {
    throw new WebInputError(`\`/${name}\` takes options as name:value, e.g. \`/${name} ${names[0]}:…\`; known: ${names.join(', ')}. Got \`${rest.slice(0, 40)}\``);
  }
  starts.forEach((s, i) => {
    const key = s[1];
    const from = s.index! + s[0].length;
    const to = i + 1 < starts.length ? starts[i + 1].index! : rest.length;
    options[key] = coerce(name, def.options.find((o) => o.name === key)!, rest.slice(from, to).trim());
  });
  return { name, options };
}

function coerce(command: string, option: CommandDefinition['options'][number], value: string): OptionValue {
  const where = `\`${option.name}\` of /${command}`;
  switch (option.type) {
    case 'integer':
    case 'number': {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n) || (option.type === 'integer' && !Number.isInteger(n))) {
        throw new WebInputError(`Expected ${where} to be ${option.type === 'integer' ? 'an integer' : 'a number'}, got \`${value.slice(0, 40)}\``);
      }
      return n;
    }
    case 'boolean': {
      const v = value.toLowerCase();
      if (['true', 'yes', 'on', '1', ''].includes(v)) return true;
      if (['false', 'no', 'off', '0'].includes(v)) return false;
      throw new WebInputError(`Expected ${where} to be true or false, got \`${value.slice(0, 40)}\``);
    }
    default:
      return value;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function toInput(b: InputBody, commands: readonly CommandDefinition[]): BotInput {
  const actor = actorOf(b);
  if (b.button !== undefined) return { type: 'button', actor, customId: b.button };
  const { name, options } = parseLine(b.text!, commands);
  return { type: 'command', actor, name, options };
}
