// Prompt moderation by banned words: a global list from config plus each guild's own. Matching ignores case,
// diacritics and punctuation (so `Nüde`, `n.u.d.e` and `NUDE` all match `nude`), and works on whole words or
// phrases. Every rejection is logged.
import { BotError, ErrorCode } from './errors.ts';
import type { Actor } from './types.ts';

export function normalize(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/(?<=\b\p{L})[.\-_*](?=\p{L}\b)/gu, '') // n.u.d.e → nude
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** The first banned word or phrase found in `text`, if any. */
export function findBanned(text: string, words: readonly string[]): string | undefined {
  const haystack = ` ${normalize(text)} `;
  for (const word of words) {
    const needle = normalize(word);
    if (needle === '') continue;
    if (haystack.includes(` ${needle} `)) return word;
  }
  return undefined;
}

export interface ModeratorOptions {
  readonly globalWords: readonly string[];
  readonly guildWords: (actor: Actor) => Promise<readonly string[]>;
  readonly onReject: (actor: Actor, word: string, text: string) => void;
}

export function createModerator(options: ModeratorOptions): (actor: Actor, text: string) => Promise<void> {
  return async (actor, text) => {
    const word = findBanned(text, options.globalWords) ?? findBanned(text, await options.guildWords(actor));
    if (word === undefined) return;
    options.onReject(actor, word, text);
    throw new BotError(
      ErrorCode.BannedWord,
      `prompt of ${actor.platform}:${actor.userId} contains banned word "${word}"`,
      `Your prompt contains a word that is not allowed here ("${word}"). Please rephrase it.`,
    );
  };
}
