import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../engine/errors.ts';
import { guidanceScaleEmbedding } from '../../engine/guidance.ts';
import { TextEncoder, Unet, VaeDecoder, VaeEncoder } from '../../engine/models.ts';
import { TorchGenerator } from '../../engine/random.ts';
import { createSession } from '../../engine/runtime.ts';
import { fixture } from './helpers.ts';

const open = (variant: string, part: string) => createSession(join(fixture(variant), part, 'model.onnx'));
const latents = (batch: number, seed = 0) => ({ data: new TorchGenerator(seed).randn([batch, 4, 8, 8]), dims: [batch, 4, 8, 8] });
const embeds = (batch: number, length: number) => ({ data: new TorchGenerator(7).randn([batch, length, 32]), dims: [batch, length, 32] });
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('text encoder: int32 and int64 input_ids, fp32 and fp16 outputs all come back as fp32 [batch, length, hidden]', async () => {
  const expected = { 'tiny-sd': 'int32', 'tiny-sd-optimum': 'int64', 'tiny-sd-fp16': 'int32' } as const;
  for (const [variant, type] of Object.entries(expected)) {
    const encoder = new TextEncoder(await open(variant, 'text_encoder'));
    assert.equal(encoder.ids.type, type, variant);
    const ids = [594, 5, 6, 595]; // the fixtures' tiny vocabulary: BOS 594, EOS 595
    const out = await encoder.encode([ids, [...ids].reverse()]);
    assert.ok(out.data instanceof Float32Array);
    assert.deepEqual(out.dims, [2, 4, 32], variant);
    assert.ok(out.data.every(Number.isFinite), variant);
    // Different ids give different embeddings: the ids really reached the model.
    assert.ok(maxAbsDiff(out.data.subarray(0, 128), out.data.subarray(128)) > 1e-3, variant);
  }
});

test('unet: each timestep flavour (int64 [batch], float scalar, float16 [1], float [1], int64 [steps]) runs a batch', async () => {
  const flavours = {
    'tiny-sd': ['int64', ['batch']],
    'tiny-sd-optimum': ['float32', []],
    'tiny-sd-fp16': ['float16', [1]],
    'tiny-sd-float-timestep': ['float32', [1]],
    'tiny-lcm': ['int64', ['steps']],
  } as const;
  for (const [variant, [type, shape]] of Object.entries(flavours)) {
    const unet = new Unet(await open(variant, 'unet'));
    assert.equal(unet.timestep.type, type, variant);
    assert.deepEqual(unet.timestep.shape, shape, variant);
    const cond = unet.timestepCond ? { data: guidanceScaleEmbedding(8.5, 32, 2), dims: [2, 32] } : undefined;
    const out = await unet.predict({ sample: latents(2), timestep: 500, encoderHiddenStates: embeds(2, 8), timestepCond: cond });
    assert.ok(out.data instanceof Float32Array, variant);
    assert.deepEqual(out.dims, [2, 4, 8, 8], variant);
    assert.ok(out.data.every(Number.isFinite), variant);
  }
});

test('unet: an integer timestep truncates fractional (Euler) timesteps as numpy does; a float one keeps them', async () => {
  const intUnet = new Unet(await open('tiny-sd', 'unet'));
  const floatUnet = new Unet(await open('tiny-sd-float-timestep', 'unet'));
  const run = (unet: Unet, t: number) => unet.predict({ sample: latents(1), timestep: t, encoderHiddenStates: embeds(1, 8) });
  assert.deepEqual((await run(intUnet, 946.9)).data, (await run(intUnet, 946)).data);
  assert.ok(maxAbsDiff((await run(floatUnet, 946.9)).data, (await run(floatUnet, 946)).data) > 0);
});

test('unet: the timestep reaches the model (different t, different prediction)', async () => {
  const unet = new Unet(await open('tiny-sd-optimum', 'unet'));
  const a = await unet.predict({ sample: latents(1), timestep: 999, encoderHiddenStates: embeds(1, 8) });
  const b = await unet.predict({ sample: latents(1), timestep: 1, encoderHiddenStates: embeds(1, 8) });
  assert.ok(maxAbsDiff(a.data, b.data) > 1e-3);
});

test('unet: fp16 I/O goes in as fp16 bits and comes back as sane fp32 values', async () => {
  const unet = new Unet(await open('tiny-sd-fp16', 'unet'));
  assert.equal(unet.sample.type, 'float16');
  const out = await unet.predict({ sample: latents(1), timestep: 500, encoderHiddenStates: embeds(1, 8) });
  // This UNet adds its input to its output (fixture README), so the output tracks the sample closely.
  assert.ok(maxAbsDiff(out.data, latents(1).data) < 2, 'fp16 output decoded to sane fp32 values');
  assert.ok(out.data.some((v) => v !== 0));
});

test('unet (LCM): timestep_cond is required, sized from the input, and changes the prediction', async () => {
  const unet = new Unet(await open('tiny-lcm', 'unet'));
  assert.equal(unet.timestepCondDim, 32);
  const base = { sample: latents(1), timestep: 999, encoderHiddenStates: embeds(1, 8) };
  await assert.rejects(unet.predict(base), (e: unknown) => e instanceof EngineError && /timestep_cond/.test(e.message));
  const low = await unet.predict({ ...base, timestepCond: { data: guidanceScaleEmbedding(1.5, 32, 1), dims: [1, 32] } });
  const high = await unet.predict({ ...base, timestepCond: { data: guidanceScaleEmbedding(8.5, 32, 1), dims: [1, 32] } });
  assert.ok(maxAbsDiff(low.data, high.data) > 1e-4);
});

test('vae decoder: [b, 4, h, w] → [b, 3, 8h, 8w] in [-1, 1], one image per run, fp16 too', async () => {
  for (const variant of ['tiny-sd', 'tiny-sd-fp16']) {
    const session = await open(variant, 'vae_decoder');
    const decoder = new VaeDecoder(session);
    const runsBefore = session.runMs;
    const out = await decoder.decode(latents(3));
    assert.ok(session.runMs > runsBefore);
    assert.deepEqual(out.dims, [3, 3, 64, 64], variant);
    assert.ok(out.data.every((v) => v >= -1 && v <= 1), variant);
    // Batch decoding equals decoding each image alone.
    const second = await decoder.decode({ data: latents(3).data.subarray(256, 512), dims: [1, 4, 8, 8] });
    assert.deepEqual(out.data.subarray(3 * 64 * 64, 2 * 3 * 64 * 64), second.data, variant);
  }
});

test('vae decoder: NaN/inf pixels (the SD 2.x / SDXL fp16 VAE overflow) fail with the fp32-VAE fix, not a black image', async () => {
  // Latents beyond fp16's range (65504) overflow the fp16 decoder, as SD 2.x/SDXL activations do inside theirs.
  const huge = { data: new Float32Array(4 * 8 * 8).map((_, i) => (i % 3 ? 1e5 : -1e5)), dims: [1, 4, 8, 8] };
  const fp16 = new VaeDecoder(await open('tiny-sd-fp16', 'vae_decoder'));
  await assert.rejects(fp16.decode(huge), (e: unknown) => {
    assert.ok(e instanceof EngineError && e.code === 'sd_engine_inference');
    assert.match(e.message, /vae_decoder.*NaN or infinite pixels \(12288 of 12288 values\): the fp16 VAE overflowed.*fp32 vae_decoder.*sdxl-vae-fp16-fix/);
    return true;
  });
  // The same latents decode to finite pixels in fp32.
  const fp32 = new VaeDecoder(await open('tiny-sd', 'vae_decoder'));
  assert.ok((await fp32.decode(huge)).data.every(Number.isFinite));
});

const image = { data: new TorchGenerator(3).randn([1, 3, 64, 64]).map((v) => Math.tanh(v)), dims: [1, 3, 64, 64] };

test('vae encoder: latent_sample output is used as is, one copy per image', async () => {
  const encoder = new VaeEncoder(await open('tiny-sd', 'vae_encoder'));
  assert.equal(encoder.returnsParameters, false);
  const out = await encoder.encode(image, [new TorchGenerator(1), new TorchGenerator(2)]);
  assert.deepEqual(out.dims, [2, 4, 8, 8]);
  assert.deepEqual(out.data.subarray(0, 256), out.data.subarray(256));
});

test('vae encoder: latent_parameters (mean ‖ logvar) are sampled with each image\'s torch generator, or give the mean', async () => {
  const encoder = new VaeEncoder(await open('tiny-sd-optimum', 'vae_encoder'));
  assert.equal(encoder.returnsParameters, true);
  const a = await encoder.encode(image, [new TorchGenerator(1), new TorchGenerator(2)]);
  assert.deepEqual(a.dims, [2, 4, 8, 8]);
  const again = await encoder.encode(image, [new TorchGenerator(1)]);
  assert.deepEqual(again.data, a.data.subarray(0, 256), 'the same seed gives the same sample');
  assert.notDeepEqual(a.data.subarray(0, 256), a.data.subarray(256), 'different seeds give different samples');
  const mode = await encoder.encode(image, [new TorchGenerator(1)], true);
  // sample = mean + std·randn(seed): with the generator's own draws, the noise is recoverable up to std > 0.
  const noise = new TorchGenerator(1).randn([1, 4, 8, 8]);
  for (let i = 0; i < 256; i++) {
    const delta = again.data[i] - mode.data[i];
    assert.ok(delta === 0 || Math.sign(delta) === Math.sign(noise[i]), `element ${i}: sample − mean follows the torch noise`);
  }
});
