// CLIP byte-level BPE tokenizer, token-for-token identical to Hugging Face's slow `CLIPTokenizer` as SD pipelines
// run it (ftfy absent, so text goes through transformers' BasicTokenizer fallback).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteDecode, BytePairEncoder } from './bpe.ts';
import { clipWords } from './clip-text.ts';
import { exists, loadError, parseConfig, parseMerges, parseVocab, readRequired } from './tokenizer-files.ts';
import type { ClipTokenizerConfig } from './tokenizer-files.ts';

export type { ClipTokenizerConfig } from './tokenizer-files.ts';

const DEFAULT_MAX_LENGTH = 77;

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
  readonly #bpe: BytePairEncoder;
  readonly #decoder = new Map<number, string>();
  /** Tokens that HF's added-tokens trie splits out of the text before BPE, with their ids. */
  readonly #added = new Map<string, number>();
  readonly #addedPattern: RegExp | undefined;
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
    this.#bpe = new BytePairEncoder(merges);

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
      else for (const word of clipWords(chunk)) tokens.push(...this.#bpe.encodeWord(word));
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
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
