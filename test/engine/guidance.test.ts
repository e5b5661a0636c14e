import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineGuidance, guidanceScaleEmbedding } from '../../engine/guidance.ts';

test('classifier-free guidance combines uncond (first half) and text (second half)', () => {
  const out = combineGuidance(Float32Array.from([1, 2, /* text */ 3, 6]), 7.5);
  assert.deepEqual([...out], [1 + 7.5 * 2, 2 + 7.5 * 4]);
});

// Reference: diffusers LatentConsistencyModelPipeline.get_guidance_scale_embedding in torch 1.13 (float32).
test('LCM guidance embedding matches diffusers for w = guidance − 1', () => {
  const even = guidanceScaleEmbedding(8.5, 8, 1);
  const expected = [-0.8512359261512756, 0.5626711249351501, -0.4352330267429352, 0.6816387176513672, -0.5247832536697388, -0.8266808390617371, -0.9003178477287292, 0.731688916683197];
  even.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-4, `dim 8 [${i}]: ${v} vs ${expected[i]}`));
  const odd = guidanceScaleEmbedding(2, 5, 2);
  const expectedOdd = [0.8268795609474182, 0.0998334065079689, 0.5623790621757507, 0.9950041770935059, 0];
  assert.equal(odd.length, 10);
  odd.forEach((v, i) => assert.ok(Math.abs(v - expectedOdd[i % 5]) < 1e-5, `dim 5 [${i}]: ${v}`));
});
