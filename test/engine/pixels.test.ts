import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planarToRgb, rgbToPlanar } from '../../engine/pixels.ts';

test('planar [-1, 1] → RGB bytes: clamp, ×255, round half to even like numpy, interleave', () => {
  // Three pixels; planes R, G, B.
  const planar = Float32Array.from([-2, -1, -0.999, /* G */ 0, 0.5, 1, /* B */ 1.5, 0.00196, 0.5 / 127.5 - 1]);
  const img = planarToRgb(planar, 1, 3, -1, 1);
  assert.deepEqual([img.width, img.height], [3, 1]);
  // 127.5 → 128 and 0.5 → 0 (ties to even), 191.25 → 191, 127.75 → 128.
  assert.deepEqual([...img.data], [0, 128, 255, 0, 191, 128, 0, 255, 0]);
});

test('planarToRgb reads the image at `offset` in a batch', () => {
  const batch = new Float32Array(2 * 3 * 4);
  batch.fill(1, 12); // the second image is white
  assert.deepEqual([...planarToRgb(batch, 2, 2, -1, 1, 12).data], new Array(12).fill(255));
  assert.deepEqual([...planarToRgb(batch, 2, 2, -1, 1, 0).data], new Array(12).fill(128));
});

test('RGB bytes → planar [-1, 1] and back is lossless', () => {
  const data = Uint8Array.from({ length: 4 * 5 * 3 }, (_, i) => (i * 37) % 256);
  const planar = rgbToPlanar({ width: 4, height: 5, data });
  assert.equal(planar[0], Math.fround((data[0] / 255) * 2 - 1));
  assert.equal(planar[20], Math.fround((data[1] / 255) * 2 - 1), 'green plane starts after width × height values');
  assert.deepEqual(planarToRgb(planar, 5, 4, -1, 1).data, data);
});
