// Analytic judge for the shapes world: finds objects by colour segmentation against the palette, classifies
// their shape from rotation-invariant descriptors with a k-NN fitted only on the procedural generator's ground
// truth. It never sees model outputs while fitting; training/eval/score.ts scores its analysis against a prompt.
import type { RgbImage } from '../../engine/index.ts';

export type Rgb = readonly [number, number, number];
export type Palette = Readonly<Record<string, Rgb>>;

export interface DetectedObject {
  readonly colour: string;
  /** Filled by the classifier; '' before. */
  shape: string;
  /** Centroid in pixels. */
  readonly cx: number;
  readonly cy: number;
  readonly area: number;
  readonly features: readonly number[];
}

export interface Analysis {
  readonly background: string;
  readonly objects: DetectedObject[];
}

/** Ground truth of one object, as training/world.py writes it. */
export interface TruthObject {
  readonly colour: string;
  readonly shape: string;
  readonly cx: number;
  readonly cy: number;
}

const FG_DISTANCE = 60; // RGB distance from the background colour below which a pixel is background
const MIN_AREA = 12;
const MIN_INTERIOR = 4;
const BINS = 32;

function nearest(palette: readonly (readonly [string, Rgb])[], r: number, g: number, b: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let i = 0; i < palette.length; i++) {
    const c = palette[i][1];
    const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Segments an image into background and objects (shape left empty). */
export function segment(image: RgbImage, palette: Palette): Analysis {
  const { width: w, height: h, data } = image;
  const entries = Object.entries(palette);
  const n = w * h;
  const labels = new Int32Array(n);
  for (let p = 0; p < n; p++) labels[p] = nearest(entries, data[3 * p], data[3 * p + 1], data[3 * p + 2]);

  // Background: the commonest label on the border; its actual colour is the mean of those border pixels.
  const votes = new Map<number, number>();
  const border: number[] = [];
  for (let x = 0; x < w; x++) border.push(x, (h - 1) * w + x);
  for (let y = 1; y < h - 1; y++) border.push(y * w, y * w + w - 1);
  for (const p of border) votes.set(labels[p], (votes.get(labels[p]) ?? 0) + 1);
  const bg = [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const mean = [0, 0, 0];
  let cnt = 0;
  for (const p of border) {
    if (labels[p] !== bg) continue;
    for (let c = 0; c < 3; c++) mean[c] += data[3 * p + c];
    cnt++;
  }
  for (let c = 0; c < 3; c++) mean[c] /= cnt;

  const fg = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const d = Math.hypot(data[3 * p] - mean[0], data[3 * p + 1] - mean[1], data[3 * p + 2] - mean[2]);
    fg[p] = d > FG_DISTANCE && labels[p] !== bg ? 1 : 0;
  }
  const objects: DetectedObject[] = [];
  for (const comp of components(fg, w, h)) {
    for (const part of splitByColour(comp, labels, w)) {
      const interior = interiorPixels(part, w, h);
      if (part.length < MIN_AREA || interior.length < MIN_INTERIOR) continue;
      const colour = entries[mode(interior.map((p) => labels[p]))][0];
      const f = shapeFeatures(part, w, h);
      objects.push({ colour, shape: '', cx: f.cx, cy: f.cy, area: part.length, features: f.features });
    }
  }
  return { background: entries[bg][0], objects };
}

function components(mask: Uint8Array, w: number, h: number): number[][] {
  const seen = new Uint8Array(mask.length);
  const out: number[][] = [];
  for (let s = 0; s < mask.length; s++) {
    if (!mask[s] || seen[s]) continue;
    const comp: number[] = [];
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      comp.push(p);
      const x = p % w;
      const y = (p - x) / w;
      const next = [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1];
      for (const q of next) {
        if (q >= 0 && mask[q] && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    out.push(comp);
  }
  return out;
}

function interiorPixels(pixels: readonly number[], w: number, h: number): number[] {
  const set = new Set(pixels);
  return pixels.filter((p) => {
    const x = p % w;
    const y = (p - x) / w;
    return x > 0 && x < w - 1 && y > 0 && y < h - 1 && set.has(p - 1) && set.has(p + 1) && set.has(p - w) && set.has(p + w);
  });
}

function mode(values: readonly number[]): number {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
}

/** Two touching objects of different colours form one component: split it when two colours are substantial. */
function splitByColour(comp: readonly number[], labels: Int32Array, w: number): number[][] {
  const counts = new Map<number, number>();
  for (const p of comp) counts.set(labels[p], (counts.get(labels[p]) ?? 0) + 1);
  const big = [...counts.entries()].filter(([, c]) => c >= 20 && c >= 0.25 * comp.length).map(([l]) => l);
  if (big.length < 2) return [comp as number[]];
  // Pixels of other colours (edge blends) join a neighbouring part.
  const parts: number[][] = big.map(() => []);
  const index = new Map(big.map((l, i) => [l, i]));
  const rest: number[] = [];
  for (const p of comp) {
    const i = index.get(labels[p]);
    if (i === undefined) rest.push(p);
    else parts[i].push(p);
  }
  const owner = new Map<number, number>();
  parts.forEach((ps, i) => ps.forEach((p) => owner.set(p, i)));
  for (const p of rest) {
    const cands = [p - 1, p + 1, p - w, p + w].map((q) => owner.get(q)).filter((v): v is number => v !== undefined);
    if (cands.length) parts[cands[0]].push(p);
  }
  return parts;
}

interface ShapeMeasure {
  readonly cx: number;
  readonly cy: number;
  readonly features: number[];
}

/**
 * Rotation-invariant descriptors of the filled region: hole ratio (ring), fill of the circumscribed disc,
 * radial profile spread, and the magnitudes of the radial profile's first Fourier harmonics (3 for triangles,
 * 4 for squares, 5 for stars, 1-2 for hearts).
 */
export function shapeFeatures(pixels: readonly number[], w: number, h: number): ShapeMeasure {
  let x0 = w;
  let y0 = h;
  let x1 = 0;
  let y1 = 0;
  for (const p of pixels) {
    const x = p % w;
    const y = (p - x) / w;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  // Local grid with a 1-pixel margin; flood the outside from the margin, what stays unreached is a hole.
  const bw = x1 - x0 + 3;
  const bh = y1 - y0 + 3;
  const m = new Uint8Array(bw * bh);
  for (const p of pixels) {
    const x = p % w;
    const y = (p - x) / w;
    m[(y - y0 + 1) * bw + (x - x0 + 1)] = 1;
  }
  const outside = new Uint8Array(bw * bh);
  const stack = [0];
  outside[0] = 1;
  while (stack.length) {
    const q = stack.pop()!;
    const x = q % bw;
    const y = (q - x) / bw;
    for (const r of [x > 0 ? q - 1 : -1, x < bw - 1 ? q + 1 : -1, y > 0 ? q - bw : -1, y < bh - 1 ? q + bw : -1]) {
      if (r >= 0 && !m[r] && !outside[r]) {
        outside[r] = 1;
        stack.push(r);
      }
    }
  }
  let filled = 0;
  let holes = 0;
  let sx = 0;
  let sy = 0;
  for (let q = 0; q < m.length; q++) {
    if (outside[q]) continue;
    filled++;
    if (!m[q]) holes++;
    sx += q % bw;
    sy += Math.floor(q / bw);
  }
  const lcx = sx / filled + 0.5;
  const lcy = sy / filled + 0.5;
  const radial = new Float64Array(BINS);
  for (let q = 0; q < m.length; q++) {
    if (outside[q]) continue;
    const x = q % bw;
    const y = (q - x) / bw;
    if (!(outside[q - 1] || outside[q + 1] || outside[q - bw] || outside[q + bw])) continue;
    // the pixel's outer corners reach the boundary: measure to the pixel centre plus half a pixel
    const dx = x + 0.5 - lcx;
    const dy = y + 0.5 - lcy;
    const bin = Math.floor(((Math.atan2(dy, dx) + Math.PI) / (2 * Math.PI)) * BINS) % BINS;
    radial[bin] = Math.max(radial[bin], Math.hypot(dx, dy) + 0.5);
  }
  for (let i = 0; i < BINS; i++) {
    if (radial[i] > 0) continue;
    let a = 1;
    while (radial[(i - a + BINS) % BINS] === 0 && a < BINS) a++;
    let b = 1;
    while (radial[(i + b) % BINS] === 0 && b < BINS) b++;
    radial[i] = (radial[(i - a + BINS) % BINS] * b + radial[(i + b) % BINS] * a) / (a + b);
  }
  let sum = 0;
  let max = 0;
  for (const r of radial) {
    sum += r;
    max = Math.max(max, r);
  }
  const meanR = sum / BINS;
  let varR = 0;
  for (const r of radial) varR += (r - meanR) ** 2;
  const harmonics: number[] = [];
  for (let k = 1; k <= 6; k++) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < BINS; i++) {
      re += radial[i] * Math.cos((2 * Math.PI * k * i) / BINS);
      im += radial[i] * Math.sin((2 * Math.PI * k * i) / BINS);
    }
    harmonics.push(Math.hypot(re, im) / sum);
  }
  const features = [holes / filled, filled / (Math.PI * max * max), Math.sqrt(varR / BINS) / meanR, ...harmonics];
  return { cx: x0 - 1 + lcx, cy: y0 - 1 + lcy, features };
}

/** k-NN on standardised features. */
export class ShapeClassifier {
  private readonly mean: number[];
  private readonly std: number[];
  private readonly points: { readonly f: number[]; readonly label: string }[];

  constructor(
    samples: readonly { readonly features: readonly number[]; readonly label: string }[],
    private readonly k = 5,
  ) {
    if (samples.length === 0) throw new Error('ShapeClassifier needs at least one labelled sample.');
    const d = samples[0].features.length;
    this.mean = Array.from({ length: d }, (_, j) => samples.reduce((s, x) => s + x.features[j], 0) / samples.length);
    this.std = Array.from({ length: d }, (_, j) =>
      Math.sqrt(samples.reduce((s, x) => s + (x.features[j] - this.mean[j]) ** 2, 0) / samples.length) || 1,
    );
    this.points = samples.map((s) => ({ f: this.scale(s.features), label: s.label }));
  }

  private scale(f: readonly number[]): number[] {
    return f.map((v, j) => (v - this.mean[j]) / this.std[j]);
  }

  classify(features: readonly number[]): string {
    const f = this.scale(features);
    const dists = this.points.map((p) => ({ d: p.f.reduce((s, v, j) => s + (v - f[j]) ** 2, 0), label: p.label }));
    dists.sort((a, b) => a.d - b.d);
    const votes = new Map<string, number>();
    for (const { d, label } of dists.slice(0, this.k)) votes.set(label, (votes.get(label) ?? 0) + 1 / (1e-6 + Math.sqrt(d)));
    return [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
  }
}

/** Pairs each true object with the detected object whose centroid is nearest (within its size). */
export function matchTruth(objects: readonly DetectedObject[], truth: readonly TruthObject[], maxDist = 8): (DetectedObject | undefined)[] {
  return truth.map((t) => {
    let best: DetectedObject | undefined;
    let bestD = maxDist;
    for (const o of objects) {
      const d = Math.hypot(o.cx - t.cx, o.cy - t.cy);
      if (d < bestD) {
        bestD = d;
        best = o;
      }
    }
    return best;
  });
}

export class Judge {
  constructor(
    readonly palette: Palette,
    readonly classifier: ShapeClassifier,
  ) {}

  /** Fits the shape classifier on procedural images and their ground truth. */
  static fit(palette: Palette, images: readonly RgbImage[], truths: readonly (readonly TruthObject[])[]): Judge {
    const samples: { features: readonly number[]; label: string }[] = [];
    images.forEach((img, i) => {
      const { objects } = segment(img, palette);
      matchTruth(objects, truths[i]).forEach((o, j) => {
        if (o) samples.push({ features: o.features, label: truths[i][j].shape });
      });
    });
    return new Judge(palette, new ShapeClassifier(samples));
  }

  analyse(image: RgbImage): Analysis {
    const a = segment(image, this.palette);
    for (const o of a.objects) o.shape = this.classifier.classify(o.features);
    return a;
  }
}
