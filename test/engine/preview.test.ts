import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sd15LatentRgbFactors } from '../../engine/model-folder.ts';
import { LinearPreviewer, TaesdPreviewer, latentToRgb } from '../../engine/preview.ts';
import { TorchGenerator } from '../../engine/random.ts';
import { createSession } from '../../engine/runtime.ts';
import { fixture } from './helpers.ts';

test('linear preview: one latent cell → one pixel, ComfyUI factors, clamp, (+1)·127.5', () => {
  // 2×1 latents, 4 channels: pixel 0 is channel 0 only, pixel 1 saturates every channel.
  const x0 = Float32Array.from([1, 10, 0, 0, 0, 0, 0, 0]);
  const img = latentToRgb(x0, 4, 1, 2, sd15LatentRgbFactors, [0, 0, 0]);
  assert.equal(img.width, 2);
  assert.equal(img.height, 1);
  // (0.3512 + 1)·127.5 = 172.28, (0.2297 + 1)·127.5 = 156.79, (0.3227 + 1)·127.5 = 168.64
  assert.deepEqual([...img.data.subarray(0, 3)], [172, 157, 169]);
  assert.deepEqual([...img.data.subarray(3)], [255, 255, 255]);
  const biased = latentToRgb(new Float32Array(4), 4, 1, 1, sd15LatentRgbFactors, [-1, 0, 0.5]);
  assert.deepEqual([...biased.data], [0, 128, 191]);
});

test('linear previewer uses only the first image of the batch', async () => {
  const x0 = new TorchGenerator(0).randn([2, 4, 8, 8]);
  const previewer = new LinearPreviewer(sd15LatentRgbFactors, [0, 0, 0]);
  const batch = await previewer.preview({ data: x0, dims: [2, 4, 8, 8] });
  const first = await previewer.preview({ data: x0.slice(0, 256), dims: [1, 4, 8, 8] });
  assert.deepEqual(batch, first);
  assert.equal(batch.data.length, 8 * 8 * 3);
});

test('TAESD previewer decodes unet-space latents to full-size RGB', async () => {
  const previewer = new TaesdPreviewer(await createSession(join(fixture('tiny-sd'), 'taesd_decoder', 'model.onnx')));
  const img = await previewer.preview({ data: new TorchGenerator(0).randn([1, 4, 8, 8]), dims: [1, 4, 8, 8] });
  assert.equal(img.width, 64);
  assert.equal(img.height, 64);
  assert.equal(img.data.length, 64 * 64 * 3);
  assert.ok(new Set(img.data).size > 20, 'a varied image, not a constant');
});
