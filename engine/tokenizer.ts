// CLIP byte-level BPE tokenizer, token-for-token identical to Hugging Face's slow `CLIPTokenizer` as SD pipelines
// run it (ftfy absent, so text goes through transformers' BasicTokenizer fallback).
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError, EngineErrorCode } from './errors.ts';

const DEFAULT_MAX_LENGTH = 77;
// HF keeps merges.txt lines [1 : 49152-256-2+1]: line 0 is the `#version` header, and CLIP has at most 48894 merges.
const MAX_MERGES = 49152 - 256 - 2;
// transformers writes int(1e30) as model_max_length when a tokenizer has none.
const UNSET_MAX_LENGTH = 1e15;
const BPE_CACHE_LIMIT = 20_000;

const CLIP_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** Parsed `tokenizer_config.json` fields the tokenizer uses; token names as in the file. */
export interface ClipTokenizerConfig {
  /** @default '<|startoftext|>' */
  readonly bosToken?: string;
  /** @default '<|endoftext|>' */
  readonly eosToken?: string;
  /** @default '<|endoftext|>' */
  readonly unkToken?: string;
  /** SD1.x: '<|endoftext|>' (49407); SD2.x/Turbo/SDXL tokenizer_2: '!' (0). @default '<|endoftext|>' */
  readonly padToken?: string;
  /** @default 77 */
  readonly modelMaxLength?: number;
  /** Extra added tokens (`added_tokens_decoder`, `additional_special_tokens`), content → id when not in the vocab. */
  readonly addedTokens?: ReadonlyMap<string, number | undefined>;
}

/** The raw text of a tokenizer folder's files. */
export interface ClipTokenizerFiles {
  readonly vocabJson: string;
  readonly mergesTxt: string;
  readonly tokenizerConfigJson?: string;
  /** The folder they came from, named in error messages. @default 'tokenizer' */
  readonly dir?: string;
}

export interface ModelInput {
  /** Exactly `maxLength` ids: BOS, at most maxLength-2 tokens, EOS, then pad ids. */
  readonly inputIds: number[];
  readonly truncated: boolean;
  /** The text of the tokens cut off, for a "prompt truncated, dropped: …" warning. */
  readonly droppedText?: string;
}

export class ClipTokenizer {
  readonly #vocab: ReadonlyMap<string, number>;
  readonly #ranks = new Map<string, number>();
  readonly #decoder = new Map<number, string>();
  /** Tokens that HF's added-tokens trie splits out of the text before BPE, with their ids. */
  readonly #added = new Map<string, number>();
  readonly #addedPattern: RegExp | undefined;
  readonly #cache = new Map<string, string[]>();
  readonly #bosId: number;
  readonly #eosId: number;
  readonly #unkId: number;
  readonly #padId: number;
  readonly #maxLength: number;

  constructor(
    vocab: ReadonlyMap<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    config: ClipTokenizerConfig = {},
    /** The tokenizer folder, named in error messages. */
    dir = 'tokenizer',
  ) {
    this.#vocab = vocab;
    for (const [token, id] of vocab) this.#decoder.set(id, token);
    merges.slice(0, MAX_MERGES).forEach(([a, b], rank) => this.#ranks.set(`${a} ${b}`, rank));

    const maxLength = config.modelMaxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw loadError(
        `Expected \`model_max_length\` to be an integer of at least 2, got \`${maxLength}\`.`,
        join(dir, 'tokenizer_config.json'),
      );
    }
    this.#maxLength = maxLength;

    const special = {
      bos_token: config.bosToken ?? '<|startoftext|>',
      eos_token: config.eosToken ?? '<|endoftext|>',
      unk_token: config.unkToken ?? '<|endoftext|>',
      pad_token: config.padToken ?? '<|endoftext|>',
    };
    const extra = config.addedTokens ?? new Map<string, number | undefined>();
    for (const [content, id] of extra) {
      const resolved = vocab.get(content) ?? id;
      if (resolved !== undefined) this.#added.set(content, resolved);
    }
    const ids: Record<string, number> = {};
    for (const [name, content] of Object.entries(special)) {
      const id = this.#added.get(content) ?? vocab.get(content);
      if (id === undefined) {
        throw loadError(
          `Expected the ${name} \`${content}\` to be in \`${join(dir, 'vocab.json')}\`, but it is not. ` +
            'Add it to vocab.json, or set the token in tokenizer_config.json to one the vocabulary has.',
          join(dir, 'vocab.json'),
        );
      }
      this.#added.set(content, id);
      ids[name] = id;
    }
    this.#bosId = ids.bos_token;
    this.#eosId = ids.eos_token;
    this.#unkId = ids.unk_token;
    this.#padId = ids.pad_token;
    for (const [content, id] of this.#added) if (!this.#decoder.has(id)) this.#decoder.set(id, content);

    // HF's trie takes the longest added token at the earliest position; longest-first alternation does the same.
    const contents = [...this.#added.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    this.#addedPattern = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'gu') : undefined;
  }

  /** Reads `<dir>/tokenizer/` (a diffusers/optimum model folder) or `<dir>` itself when it is the tokenizer folder. */
  static async fromModelDir(dir: string): Promise<ClipTokenizer> {
    const folder = (await exists(join(dir, 'tokenizer', 'vocab.json')))
      ? join(dir, 'tokenizer')
      : (await exists(join(dir, 'vocab.json')))
        ? dir
        : undefined;
    if (folder === undefined) {
      throw loadError(
        `Expected a CLIP tokenizer at \`${join(dir, 'tokenizer', 'vocab.json')}\` (or \`${join(dir, 'vocab.json')}\`), ` +
          'but neither exists. A diffusers/optimum model folder has tokenizer/vocab.json and tokenizer/merges.txt.',
        join(dir, 'tokenizer', 'vocab.json'),
      );
    }
    const vocabJson = await readRequired(join(folder, 'vocab.json'));
    const mergesTxt = await readRequired(join(folder, 'merges.txt'));
    const tokenizerConfigJson = await readFile(join(folder, 'tokenizer_config.json'), 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw loadError(`Could not read \`${join(folder, 'tokenizer_config.json')}\`: ${String(error)}`, undefined, error);
    });
    return ClipTokenizer.fromFiles({ vocabJson, mergesTxt, tokenizerConfigJson, dir: folder });
  }

  /** Builds a tokenizer from the text of vocab.json, merges.txt and (optionally) tokenizer_config.json. */
  static fromFiles(files: ClipTokenizerFiles): ClipTokenizer {
    const dir = files.dir ?? 'tokenizer';
    const config =
      files.tokenizerConfigJson === undefined
        ? {}
        : parseConfig(files.tokenizerConfigJson, join(dir, 'tokenizer_config.json'));
    return new ClipTokenizer(
      parseVocab(files.vocabJson, join(dir, 'vocab.json')),
      parseMerges(files.mergesTxt, join(dir, 'merges.txt')),
      config,
      dir,
    );
  }

  get bosTokenId(): number {
    return this.#bosId;
  }
  get eosTokenId(): number {
    return this.#eosId;
  }
  get padTokenId(): number {
    return this.#padId;
  }
  get maxLength(): number {
    return this.#maxLength;
  }
  get vocabSize(): number {
    return this.#vocab.size;
  }

  /** BPE token strings of `text`, without BOS/EOS (HF `tokenizer.tokenize`). */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const chunk of this.#splitAdded(text)) {
      if (this.#added.has(chunk)) tokens.push(chunk);
      else for (const word of cleanText(chunk).match(CLIP_PATTERN) ?? []) tokens.push(...this.#bpe(byteEncode(word)));
    }
    return tokens;
  }

  /** Ids of `text` with BOS and EOS, neither truncated nor padded. */
  encode(text: string): number[] {
    return [this.#bosId, ...this.#ids(text), this.#eosId];
  }

  /** What the text encoder takes: HF `padding="max_length", truncation=True, max_length=model_max_length`. */
  encodeForModel(text: string): ModelInput {
    const ids = this.#ids(text);
    const room = this.#maxLength - 2;
    const inputIds = [this.#bosId, ...ids.slice(0, room), this.#eosId];
    while (inputIds.length < this.#maxLength) inputIds.push(this.#padId);
    if (ids.length <= room) return { inputIds, truncated: false };
    // diffusers reports untruncated_ids[model_max_length - 1 : -1], i.e. the tokens after the first maxLength-2.
    return { inputIds, truncated: true, droppedText: this.decode(ids.slice(room)) };
  }

  /** Text of `ids` (HF `decode` without clean-up): `</w>` becomes a space, added tokens stay as written. */
  decode(ids: readonly number[]): string {
    const parts: string[] = [];
    let run = '';
    const flush = (): void => {
      if (run) parts.push(byteDecode(run).replaceAll('</w>', ' ').trim());
      run = '';
    };
    for (const id of ids) {
      const token = this.#decoder.get(id);
      if (token === undefined) continue;
      if (this.#added.has(token)) {
        flush();
        parts.push(token);
      } else run += token;
    }
    flush();
    return parts.filter((p) => p.length > 0).join(' ');
  }

  #ids(text: string): number[] {
    return this.tokenize(text).map((t) => this.#added.get(t) ?? this.#vocab.get(t) ?? this.#unkId);
  }

  #splitAdded(text: string): string[] {
    if (this.#addedPattern === undefined) return text ? [text] : [];
    const chunks: string[] = [];
    let last = 0;
    for (const match of text.matchAll(this.#addedPattern)) {
      if (match.index > last) chunks.push(text.slice(last, match.index));
      chunks.push(match[0]);
      last = match.index + match[0].length;
    }
    if (last < text.length) chunks.push(text.slice(last));
    return chunks;
  }

  #bpe(token: string): string[] {
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

// transformers' BasicTokenizer(strip_accents=False, do_split_on_punc=False): drop control characters, space out CJK
// ideographs, NFC, collapse whitespace, lowercase each word.
function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ZS.test(ch)) out += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else if (isCjkIdeograph(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out
    .normalize('NFC')
    .split(/\s+/u)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase())
    .join(' ');
}

const ZS = /^\p{Zs}$/u;
const CONTROL = /^\p{C}$/u;

function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
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

function byteDecode(text: string): string {
  const bytes: number[] = [];
  for (const ch of text) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b !== undefined) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

function parseVocab(text: string, file: string): Map<string, number> {
  const json = parseJson(text, file, 'vocab.json to map each token to its integer id, like {"!": 0, "\\"": 1, …}');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw loadError(`Expected \`${file}\` to be a JSON object mapping tokens to integer ids, got ${describe(json)}.`, file);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw loadError(
        `Expected every id in \`${file}\` to be a non-negative integer, got \`${JSON.stringify(id)}\` for token ${JSON.stringify(token)}.`,
        file,
      );
    }
    vocab.set(token, id as number);
  }
  if (vocab.size === 0) throw loadError(`Expected \`${file}\` to hold at least one token, got an empty object.`, file);
  return vocab;
}

function parseMerges(text: string, file: string): Array<[string, string]> {
  const lines = text.trim().split('\n');
  // HF drops line 0 unconditionally, so a file without the header would silently lose its first merge.
  if (!lines[0].startsWith('#')) {
    throw loadError(
      `Expected \`${file}\` to start with a \`#version: 0.2\` header line, got ${JSON.stringify(lines[0].slice(0, 40))}. ` +
        'Hugging Face skips the first line, so add the header rather than losing the first merge.',
      file,
    );
  }
  return lines.slice(1, 1 + MAX_MERGES).map((line, i) => {
    const parts = line.trim().split(/\s+/u);
    if (parts.length !== 2 || !parts[0]) {
      throw loadError(
        `Expected line ${i + 2} of \`${file}\` to be two space-separated tokens (a merge like "t h"), got ${JSON.stringify(line)}.`,
        file,
      );
    }
    return [parts[0], parts[1]];
  });
}

function parseConfig(text: string, file: string): ClipTokenizerConfig {
  const json = parseJson(text, file, 'tokenizer_config.json to be a JSON object');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw loadError(`Expected \`${file}\` to be a JSON object, got ${describe(json)}.`, file);
  }
  const record = json as Record<string, unknown>;
  const token = (key: string): string | undefined => {
    const value = record[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
      return (value as { content: string }).content;
    }
    throw loadError(
      `Expected \`${key}\` in \`${file}\` to be a string or an AddedToken object with \`content\`, got ${describe(value)}.`,
      file,
    );
  };
  const addedTokens = new Map<string, number | undefined>();
  const decoder = record.added_tokens_decoder;
  if (decoder !== undefined && decoder !== null && typeof decoder === 'object') {
    for (const [id, value] of Object.entries(decoder as Record<string, unknown>)) {
      const content = (value as { content?: unknown } | null)?.content;
      if (typeof content === 'string' && /^\d+$/.test(id)) addedTokens.set(content, Number(id));
    }
  }
  const extra = record.additional_special_tokens;
  if (Array.isArray(extra)) {
    for (const value of extra) {
      const content = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
      if (typeof content === 'string' && !addedTokens.has(content)) addedTokens.set(content, undefined);
    }
  }
  let modelMaxLength: number | undefined;
  const rawMax = record.model_max_length;
  if (rawMax !== undefined && rawMax !== null) {
    if (typeof rawMax !== 'number' || !Number.isInteger(rawMax) || rawMax < 2) {
      throw loadError(
        `Expected \`model_max_length\` in \`${file}\` to be an integer of at least 2 (77 for CLIP), got ${describe(rawMax)}.`,
        file,
      );
    }
    if (rawMax < UNSET_MAX_LENGTH) modelMaxLength = rawMax;
  }
  return {
    bosToken: token('bos_token'),
    eosToken: token('eos_token'),
    unkToken: token('unk_token'),
    padToken: token('pad_token'),
    modelMaxLength,
    addedTokens,
  };
}

function parseJson(text: string, file: string, expected: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw loadError(`\`${file}\` is not valid JSON (${(error as Error).message}). Expected ${expected}.`, file, error);
  }
}

async function readRequired(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw loadError(
      missing
        ? `Expected \`${file}\` next to vocab.json (a CLIP tokenizer folder has vocab.json and merges.txt), but it does not exist.`
        : `Could not read \`${file}\`: ${String(error)}`,
      file,
      error,
    );
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return '`null`';
  if (typeof value === 'object') return 'an object';
  return `\`${String(value)}\` (${typeof value})`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function loadError(message: string, file?: string, cause?: unknown): EngineError {
  return new EngineError(EngineErrorCode.ModelLoad, message, { file, cause });
}
