// The byte-level BPE core of CLIP's tokenizer (GPT-2's scheme, as Hugging Face's slow tokenizer runs it): text
// bytes as printable characters, then the lowest-ranked merge applied until none is left, with a word cache.

// HF keeps merges.txt lines [1 : 49152-256-2+1]: line 0 is the `#version` header, and CLIP has at most 48894 merges.
export const MAX_MERGES = 49152 - 256 - 2;
const BPE_CACHE_LIMIT = 20_000;

export class BytePairEncoder {
  readonly #ranks = new Map<string, number>();
  readonly #cache = new Map<string, string[]>();

  constructor(merges: ReadonlyArray<readonly [string, string]>) {
    merges.slice(0, MAX_MERGES).forEach(([a, b], rank) => this.#ranks.set(`${a} ${b}`, rank));
  }

  /** BPE tokens of one pre-tokenised word; the last carries the `</w>` end-of-word mark. */
  encodeWord(word: string): string[] {
    return this.#merge(byteEncode(word));
  }

  #merge(token: string): string[] {
    if (token === '<|startoftext|>' || token === '<|endoftext|>') return [token];
    const cached = this.#cache.get(token);
    if (cached) return cached;
    // Byte-encoded text is all BMP characters, so UTF-16 indexing is per character.
    let word = [...token.slice(0, -1), `${token.slice(-1)}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.#ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best];
      const second = word[best + 1];
      // Merge every occurrence, left to right without overlap, as HF's loop does.
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else merged.push(word[i]);
      }
      word = merged;
    }
    if (this.#cache.size >= BPE_CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(token, word);
    return word;
  }
}

// GPT-2's reversible byte → printable character table (printable Latin-1 maps to itself, the rest to 256+n).
const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return table;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const utf8 = new TextEncoder();

function byteEncode(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** Text of concatenated BPE tokens' characters (the inverse of the byte table; `</w>` is left in place). */
export function byteDecode(text: string): string {
  const bytes: number[] = [];
  for (const ch of text) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b !== undefined) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}
