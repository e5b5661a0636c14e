// Loads the fixed evaluation set and the judge's procedural ground truth written by training/eval_set.py.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { RgbImage } from '../../engine/index.ts';
import type { Palette, TruthObject } from './judge.ts';
import type { EvalPrompt } from './score.ts';

export const evalDir = new URL('.', import.meta.url);

export interface EvalSet {
  readonly width: number;
  readonly height: number;
  readonly palette: Palette;
  readonly heldOutCombos: readonly (readonly [string, string])[];
  readonly prompts: readonly EvalPrompt[];
}

export interface JudgeData {
  readonly train: { readonly images: RgbImage[]; readonly truths: TruthObject[][] };
  /** One procedural ground-truth image per eval prompt, in prompt order. */
  readonly validation: { readonly images: RgbImage[]; readonly truths: TruthObject[][] };
}

export function loadEvalSet(): EvalSet {
  const raw = JSON.parse(readFileSync(new URL('prompts.json', evalDir), 'utf8')) as {
    width: number;
    height: number;
    colours: Palette;
    heldOutCombos: [string, string][];
    prompts: EvalPrompt[];
  };
  return { width: raw.width, height: raw.height, palette: raw.colours, heldOutCombos: raw.heldOutCombos, prompts: raw.prompts };
}

export function loadJudgeData(): JudgeData {
  const meta = JSON.parse(readFileSync(new URL('judge-data.json', evalDir), 'utf8')) as {
    width: number;
    height: number;
    train: { objects: TruthObject[] }[];
    validation: { objects: TruthObject[] }[];
  };
  const bytes = gunzipSync(readFileSync(new URL('judge-data.bin.gz', evalDir)));
  const size = meta.width * meta.height * 3;
  const total = meta.train.length + meta.validation.length;
  if (bytes.length !== total * size) {
    throw new Error(`judge-data.bin.gz holds ${bytes.length} bytes, expected ${total} images of ${size}; rerun \`/usr/bin/python3 training/eval_set.py\`.`);
  }
  const image = (i: number): RgbImage => ({ width: meta.width, height: meta.height, data: new Uint8Array(bytes.buffer, bytes.byteOffset + i * size, size) });
  return {
    train: { images: meta.train.map((_, i) => image(i)), truths: meta.train.map((t) => t.objects) },
    validation: {
      images: meta.validation.map((_, i) => image(meta.train.length + i)),
      truths: meta.validation.map((t) => t.objects),
    },
  };
}
