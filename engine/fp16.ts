// IEEE 754 half-precision conversion for fp16 ONNX tensors (onnxruntime-node exchanges float16 as Uint16Array and
// Node 20 has no Float16Array). Matches numpy's astype(float16): round to nearest, ties to even.

/** float32 → float16 bits: round-to-nearest-even, subnormals, overflow to ±Infinity, NaN stays NaN. */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBits(bits[i]);
  return out;
}

/** float16 bits → float32 (exact: every half value is a float32). */
export function float16ToFloat32(src: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
  return out;
}

function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // ±Inf; NaN kept quiet
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // ≥ 2^16 overflows
  if (e <= 0) {
    // Subnormal half: value / 2^-24, rounded. Below 2^-25 everything rounds to zero.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let result = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (result & 1) === 1)) result++;
    return sign | result; // a carry to 0x400 is the smallest normal, as it should be
  }
  let result = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and from 0x7bff up to 0x7c00 = Infinity (65520 and above).
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1) === 1)) result++;
  return sign | result;
}

let table: Uint32Array | undefined;

function halfToFloatTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // ±0 and subnormals: mant · 2^-24 is exact in float32.
      f[0] = mant * 2 ** -24;
      table[h] = (sign | u[0]) >>> 0;
    } else if (exp === 0x1f) table[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    else table[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  }
  return table;
}
