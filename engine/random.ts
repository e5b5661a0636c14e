// torch's CPU generator (MT19937) and torch.randn's float32 normal sampling, bit for bit where it matters:
// the same seed gives the same latents as diffusers on CPU. Paths follow aten's normal_kernel:
// ≥16 contiguous floats use the 16-block Box-Muller fill, fewer use normal_distribution<double>.
import { EngineErrorCode } from './errors.ts';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_PI = 2 * Math.PI;
const MAX_SEED = 0xffffffff;

function invalid(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: EngineErrorCode.InvalidInput });
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw invalid(`Expected \`seed\` to be an integer from 0 to ${MAX_SEED}, got \`${String(seed)}\` (${typeof seed})`);
  }
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw invalid(`Expected \`shape\` to hold non-negative integers, got \`[${shape.join(', ')}]\``);
    }
    n *= d;
  }
  return n;
}

export class TorchGenerator {
  readonly #state = new Uint32Array(N);
  #index = N;
  /** normal_distribution<double> caches its second Box-Muller value, as torch's generator does. */
  #nextDoubleNormal: number | undefined;
  readonly #seed: number;

  /** Same as `torch.Generator().manual_seed(seed)`. */
  constructor(seed: number) {
    checkSeed(seed);
    this.#seed = seed;
    const mt = this.#state;
    mt[0] = seed >>> 0;
    for (let j = 1; j < N; j++) {
      const prev = mt[j - 1] ^ (mt[j - 1] >>> 30);
      // 1812433253 * prev + j mod 2^32, split to stay exact in doubles.
      mt[j] = ((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + j;
    }
    this.#index = N;
  }

  get initialSeed(): number {
    return this.#seed;
  }

  #twist(): void {
    const mt = this.#state;
    for (let k = 0; k < N; k++) {
      const y = (mt[k] & UPPER_MASK) | (mt[(k + 1) % N] & LOWER_MASK);
      mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.#index = 0;
  }

  /** Next raw 32-bit output (torch `generator->random()`). */
  nextUint32(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** uniform_real_distribution<float>: 24 random bits. */
  #uniformFloat(): number {
    return (this.nextUint32() & 0xffffff) * 2 ** -24;
  }

  /** uniform_real_distribution<double>: the low 53 bits of random64() = (first << 32) | second. */
  #uniformDouble(): number {
    const hi = this.nextUint32() & 0x1fffff;
    const lo = this.nextUint32();
    return (hi * 2 ** 32 + lo) * 2 ** -53;
  }

  #normalDouble(): number {
    if (this.#nextDoubleNormal !== undefined) {
      const cached = this.#nextDoubleNormal;
      this.#nextDoubleNormal = undefined;
      return cached;
    }
    const u1 = this.#uniformDouble();
    const u2 = this.#uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = TWO_PI * u1;
    this.#nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `torch.randn(shape, generator=this)` for float32. */
  randn(shape: readonly number[]): Float32Array {
    const out = new Float32Array(numelOf(shape));
    this.fillRandn(out);
    return out;
  }

  /** Fills `target` (or its [offset, offset+length) slice) as one contiguous randn of that many elements. */
  fillRandn(target: Float32Array, offset = 0, length = target.length - offset): void {
    const data = target.subarray(offset, offset + length);
    const n = data.length;
    if (n < 16) {
      for (let i = 0; i < n; i++) data[i] = this.#normalDouble();
      return;
    }
    for (let i = 0; i < n; i++) data[i] = this.#uniformFloat();
    for (let i = 0; i < n - 15; i += 16) boxMuller16(data, i);
    if (n % 16 !== 0) {
      // torch redraws the last 16 slots rather than drawing a partial block.
      const start = n - 16;
      for (let i = 0; i < 16; i++) data[start + i] = this.#uniformFloat();
      boxMuller16(data, start);
    }
  }
}

const f = Math.fround;

/** aten normal_fill_16 in float arithmetic: pairs (j, j+8) of uniforms become a cos/sin pair. */
function boxMuller16(data: Float32Array, at: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f(1 - data[at + j]);
    const u2 = data[at + j + 8];
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI * u2);
    data[at + j] = f(radius * f(Math.cos(theta)));
    data[at + j + 8] = f(radius * f(Math.sin(theta)));
  }
}

/** `torch.randn(shape, generator=torch.Generator().manual_seed(seed))` as float32. */
export function randn(seed: number, shape: readonly number[]): Float32Array {
  return new TorchGenerator(seed).randn(shape);
}
