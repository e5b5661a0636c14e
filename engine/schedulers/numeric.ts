// numpy and torch number semantics the schedulers reproduce (diffusers 58eb52c0803e): float32 rounding, numpy's
// half-to-even round, linspace/arange and interp, so timesteps and sigmas match diffusers bit for bit.

/**
 * torch does scheduler scalars (ᾱ, σ and what is derived from them) as 0-dim float32 tensors, rounding after
 * every operation; the schedulers round the same way with f32 so that long runs keep diffusers' numbers.
 */
export const f32 = Math.fround;

/**
 * torch.linspace(start, end, steps, dtype=float32) as torch ≥ 2.1's scalar CPU kernel computes it: a float
 * step, the first half counted up from start and the second half down from end, in float arithmetic.
 * (torch 1.13's vectorised kernel differs in the last bit of some betas; diffusers' golden numbers sit
 * closest to this form.)
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? s + f32(step * i) : e - f32(step * (steps - i - 1));
  return out;
}

/** numpy's round (half to even), used by every `.round()` in the schedulers. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, num) in float64 (endpoint exact). */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) for float steps: start + i*delta, with numpy's delta = (start+step) - start. */
export function npArange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const out: number[] = [];
  for (let i = 0; i < len; i++) out.push(i === 0 ? start : start + i * delta);
  return out;
}

/** np.interp(x, arange(fp.length), fp). */
export function interpOnIndex(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0];
  if (x >= last) return fp[last];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  return (fp[j + 1] - fp[j]) * (x - j) + fp[j];
}
