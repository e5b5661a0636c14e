// Reading a CLIP tokenizer folder: vocab.json, merges.txt and tokenizer_config.json parsed as Hugging Face reads
// them, with sd_engine_model_load errors that name the file and the fix.
import { access, readFile } from 'node:fs/promises';
import { EngineError, EngineErrorCode } from './errors.ts';
import { MAX_MERGES } from './bpe.ts';

// transformers writes int(1e30) as model_max_length when a tokenizer has none.
const UNSET_MAX_LENGTH = 1e15;

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

export function parseVocab(text: string, file: string): Map<string, number> {
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

export function parseMerges(text: string, file: string): Array<[string, string]> {
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

export function parseConfig(text: string, file: string): ClipTokenizerConfig {
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

export async function readRequired(file: string): Promise<string> {
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

export async function exists(file: string): Promise<boolean> {
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

export function loadError(message: string, file?: string, cause?: unknown): EngineError {
  return new EngineError(EngineErrorCode.ModelLoad, message, { file, cause });
}
