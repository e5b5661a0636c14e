import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { float16ToFloat32, float32ToFloat16 } from '../../engine/fp16.ts';

const toHalf = (x: number): number => float32ToFloat16(Float32Array.of(x))[0];
const toFloat = (h: number): number => float16ToFloat32(Uint16Array.of(h))[0];
const isHalfNaN = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('float32ToFloat16', () => {
  test('known bit patterns', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [0, 0x0000],
      [-0, 0x8000],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [x, h] of cases) assert.equal(toHalf(x), h, `${x} → 0x${h.toString(16)}`);
  });

  test('overflow: 65519.99 rounds down to 65504, 65520 and beyond become Infinity', () => {
    assert.equal(toHalf(65519.99), 0x7bff);
    assert.equal(toHalf(65520), 0x7c00);
    assert.equal(toHalf(-65520), 0xfc00);
    assert.equal(toHalf(1e6), 0x7c00);
    assert.equal(toHalf(3.4e38), 0x7c00);
  });

  test('subnormal edges around 6.1e-5 and 6e-8', () => {
    assert.equal(toHalf(2 ** -14), 0x0400); // 6.103515625e-5, the smallest normal
    assert.equal(toHalf(6.1e-5), 0x03ff); // 6.1e-5 / 2^-24 = 1023.4 → largest subnormal
    assert.equal(toHalf((1023 / 1024) * 2 ** -14), 0x03ff);
    assert.equal(toHalf(1023.5 * 2 ** -24), 0x0400); // tie → even carries into the exponent
    assert.equal(toHalf(2 ** -24), 0x0001); // 5.96e-8, the smallest subnormal
    assert.equal(toHalf(-(2 ** -24)), 0x8001);
    assert.equal(toHalf(2 ** -25), 0x0000); // exactly half the smallest subnormal: tie → even (0)
    assert.equal(toHalf(2 ** -25 * 1.000001), 0x0001);
    assert.equal(toHalf(3 * 2 ** -25), 0x0002); // 1.5 units: tie → even (2)
    assert.equal(toHalf(1e-10), 0x0000);
    assert.equal(toHalf(-1e-10), 0x8000);
  });

  test('round to nearest, ties to even', () => {
    assert.equal(toHalf(1 + 2 ** -11), 0x3c00); // halfway between 0x3c00 and 0x3c01 → even
    assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02); // halfway between 0x3c01 and 0x3c02 → even
    assert.equal(toHalf(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above halfway
    assert.equal(toHalf(2049), 0x6800); // 2048 and 2050 are neighbours; 2049 ties to 2048
    assert.equal(toHalf(2051), 0x6802); // ties to 2052
    assert.equal(toHalf(2 - 2 ** -12), 0x4000); // mantissa carry bumps the exponent
  });

  test('NaN stays NaN', () => {
    assert.ok(isHalfNaN(toHalf(NaN)));
    const payload = new Float32Array(new Uint32Array([0x7f800001, 0xffc00000]).buffer);
    for (const h of float32ToFloat16(payload)) assert.ok(isHalfNaN(h), h.toString(16));
  });

  test('works on a subarray view', () => {
    const big = Float32Array.of(7, 1, -2, 7);
    assert.deepEqual([...float32ToFloat16(big.subarray(1, 3))], [0x3c00, 0xc000]);
  });

  test('every result is the nearest half (pseudo-random float32 bit patterns)', () => {
    let state = 12345;
    const bits = new Uint32Array(20000);
    for (let i = 0; i < bits.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      // Exponents 100..141 cover zero-rounding, subnormal and normal halves.
      bits[i] = (state & 0x807fffff) | ((100 + (state % 42)) << 23);
    }
    const xs = new Float32Array(bits.buffer);
    const hs = float32ToFloat16(xs);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const h = hs[i];
      const value = toFloat(h);
      const magnitude = h & 0x7fff;
      const neighbours = [magnitude - 1, magnitude + 1].filter((m) => m >= 0 && m < 0x7c00);
      for (const n of neighbours) {
        const other = toFloat(n | (h & 0x8000));
        const d = Math.abs(x - value);
        const dOther = Math.abs(x - other);
        assert.ok(d < dOther || (d === dOther && (magnitude & 1) === 0), `${x} → 0x${h.toString(16)}`);
      }
    }
  });
});

describe('float16ToFloat32', () => {
  test('known values', () => {
    assert.equal(toFloat(0x3c00), 1);
    assert.equal(toFloat(0xc000), -2);
    assert.equal(toFloat(0x7bff), 65504);
    assert.equal(toFloat(0x0400), 2 ** -14);
    assert.equal(toFloat(0x03ff), (1023 / 1024) * 2 ** -14);
    assert.equal(toFloat(0x0001), 2 ** -24);
    assert.equal(toFloat(0x2e66), Math.fround(0.0999755859375));
    assert.equal(toFloat(0x7c00), Infinity);
    assert.equal(toFloat(0xfc00), -Infinity);
    assert.ok(Object.is(toFloat(0x8000), -0));
    assert.ok(Number.isNaN(toFloat(0x7e00)));
    assert.ok(Number.isNaN(toFloat(0xfc01)));
  });

  test('all 65536 patterns round-trip exactly (NaNs stay NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = float16ToFloat32(all);
    const back = float32ToFloat16(floats);
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      if (isHalfNaN(h)) {
        nans++;
        assert.ok(Number.isNaN(floats[h]), `0x${h.toString(16)} decodes to NaN`);
        assert.ok(isHalfNaN(back[h]), `0x${h.toString(16)} stays NaN`);
      } else if (back[h] !== h) {
        assert.fail(`0x${h.toString(16)} → ${floats[h]} → 0x${back[h].toString(16)}`);
      }
    }
    assert.equal(nans, 2 * 1023);
  });
});
