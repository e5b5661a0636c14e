// Scores the judge's analysis of an image against what its prompt asked for (colour, shape, both, position,
// count), and averages scores over a set of prompts.
import type { Analysis } from './judge.ts';

export interface ExpectedObject {
  readonly colour: string;
  readonly shape: string;
  /** A position name of training/world.py (e.g. 'top left'), or null when the prompt gives none. */
  readonly position: string | null;
}

export interface EvalPrompt {
  readonly id: number;
  readonly category: 'position' | 'single' | 'pair' | 'count';
  readonly prompt: string;
  readonly seed: number;
  readonly heldOut: boolean;
  readonly background: string;
  readonly objects: readonly ExpectedObject[];
  readonly count: number;
}

export interface PromptScore {
  /** Fractions in [0, 1] (pairs average their two objects); undefined where the prompt does not test it. */
  readonly colour: number;
  readonly shape: number;
  readonly colourShape: number;
  readonly position?: number;
  readonly count?: number;
}

/** The 3×3 cell a point falls in, as a position name ('centre', 'top left', …). */
export function positionName(cx: number, cy: number, width: number, height: number): string {
  const col = Math.min(2, Math.floor((3 * cx) / width));
  const row = Math.min(2, Math.floor((3 * cy) / height));
  const v = ['top', '', 'bottom'][row];
  const hz = ['left', '', 'right'][col];
  return v && hz ? `${v} ${hz}` : v || hz || 'centre';
}

export function score(prompt: EvalPrompt, analysis: Analysis, width: number, height: number): PromptScore {
  const objs = analysis.objects;
  const distinct = prompt.category === 'count' ? [prompt.objects[0]] : prompt.objects;
  let colour = 0;
  let shape = 0;
  let colourShape = 0;
  let position = 0;
  for (const e of distinct) {
    const sameColour = objs.filter((o) => o.colour === e.colour).sort((a, b) => b.area - a.area);
    colour += sameColour.length > 0 ? 1 : 0;
    // shape is judged on the object of the asked colour when there is one, else on any object
    const pool = sameColour.length > 0 ? sameColour : [...objs].sort((a, b) => b.area - a.area);
    shape += pool.some((o) => o.shape === e.shape) ? 1 : 0;
    const both = sameColour.filter((o) => o.shape === e.shape);
    colourShape += both.length > 0 ? 1 : 0;
    if (e.position) {
      const target = both[0] ?? sameColour[0] ?? pool[0];
      position += target && positionName(target.cx, target.cy, width, height) === e.position ? 1 : 0;
    }
  }
  const k = distinct.length;
  const result: { -readonly [K in keyof PromptScore]: PromptScore[K] } = { colour: colour / k, shape: shape / k, colourShape: colourShape / k };
  if (prompt.category === 'position') result.position = position / k;
  if (prompt.category === 'count') result.count = objs.filter((o) => o.colour === prompt.objects[0].colour).length === prompt.count ? 1 : 0;
  return result;
}

export interface Summary {
  readonly prompts: number;
  readonly colour: number;
  readonly shape: number;
  readonly colourShape: number;
  readonly position: number;
  readonly count: number;
}

export function summarise(scores: readonly PromptScore[]): Summary {
  const avg = (xs: readonly (number | undefined)[]): number => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  return {
    prompts: scores.length,
    colour: avg(scores.map((s) => s.colour)),
    shape: avg(scores.map((s) => s.shape)),
    colourShape: avg(scores.map((s) => s.colourShape)),
    position: avg(scores.map((s) => s.position)),
    count: avg(scores.map((s) => s.count)),
  };
}
