// The `webgpu` device for real. CI installs Mesa's lavapipe (a software Vulkan driver, see .ci/run), so onnxruntime's
// WebGPU provider (Dawn on Vulkan) runs here on the CPU; a machine without a usable Vulkan device checks instead the
// error that says what is missing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineError } from '../../engine/errors.ts';
import { StableDiffusionPipeline } from '../../engine/pipeline.ts';
import { HeldTensor, createSession } from '../../engine/runtime.ts';
import type { GenerateOptions, RgbImage } from '../../engine/types.ts';
import { fixture } from './helpers.ts';

const textEncoderPath = join(fixture('tiny-sd'), 'text_encoder', 'model.onnx');
const root = join(import.meta.dirname, '..', '..');

let gpu: StableDiffusionPipeline | undefined;
let unavailable: EngineError | undefined;
before(async () => {
  try {
    gpu = await StableDiffusionPipeline.load(fixture('tiny-sd'), { device: 'webgpu' });
  } catch (error) {
    if (!(error instanceof EngineError) || error.code !== 'sd_engine_provider') throw error;
    unavailable = error;
  }
});
after(() => gpu?.release());

function maxDiff(a: RgbImage, b: RgbImage): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
  return max;
}

test('webgpu either runs or says exactly what is missing', () => {
  if (unavailable) {
    assert.match(unavailable.message, /`webgpu` execution provider (could not start|cannot start).*Vulkan.*apt-get install.*device: 'cpu'/s);
    return;
  }
  assert.equal(gpu!.info.device, 'webgpu');
  assert.equal(gpu!.info.deviceFallback, undefined);
});

test('webgpu images match the CPU within 1/255 (text embeddings kept in GPU memory between steps)', async () => {
  if (unavailable) return assert.ok(unavailable.message.length > 0);
  assert.ok(gpu!.textEncoder.keepsOnDevice, 'the text encoder leaves last_hidden_state in GPU memory');
  const cpu = await StableDiffusionPipeline.load(fixture('tiny-sd'), { intraOpNumThreads: 1 });
  try {
    const options: GenerateOptions = { prompt: 'a red circle', negativePrompt: 'blue', seed: 3, numInferenceSteps: 3, numImagesPerPrompt: 2, guidanceScale: 7.5, scheduler: 'EulerDiscreteScheduler' };
    const [a, b] = [await gpu!.generate(options), await cpu.generate(options)];
    a.images.forEach((img, i) => assert.ok(maxDiff(img, b.images[i]) <= 1, `image ${i}: max difference ${maxDiff(img, b.images[i])}`));
    // And a batch of two requests, whose embeddings are encoded per image straight into GPU memory.
    const second: GenerateOptions = { ...options, prompt: 'a green star', seed: 9, numImagesPerPrompt: 1 };
    const [batched] = await gpu!.generateBatch([second]);
    const alone = await cpu.generate(second);
    assert.equal(batched.status, 'fulfilled');
    if (batched.status === 'fulfilled') assert.ok(maxDiff(batched.value.images[0], alone.images[0]) <= 1);
  } finally {
    await cpu.release();
  }
});

test('fp16 I/O on webgpu: fp16 embeddings stay in GPU memory; images close to the CPU (where onnxruntime runs most fp16 ops in fp32)', async () => {
  if (unavailable) return assert.ok(unavailable.message.length > 0);
  const [g, c] = [await StableDiffusionPipeline.load(fixture('tiny-sd-fp16'), { device: 'webgpu' }), await StableDiffusionPipeline.load(fixture('tiny-sd-fp16'), { intraOpNumThreads: 1 })];
  try {
    assert.ok(g.textEncoder.keepsOnDevice && g.textEncoder.hidden.type === 'float16');
    const options: GenerateOptions = { prompt: 'a red circle', negativePrompt: 'blue', seed: 3, numInferenceSteps: 3, numImagesPerPrompt: 2, scheduler: 'EulerDiscreteScheduler' };
    const [a, b] = [await g.generate(options), await c.generate(options)];
    let sum = 0;
    let count = 0;
    a.images.forEach((img, i) => img.data.forEach((v, j) => ((sum += Math.abs(v - b.images[i].data[j])), count++)));
    // Measured 1.6/255 on lavapipe: half-precision rounding differs between the providers, not the pipeline.
    assert.ok(sum / count < 4, `mean difference ${sum / count} of 255`);
    assert.ok(a.images[0].data.some((v, j) => v !== a.images[1].data[j]), 'the two images differ');
  } finally {
    await g.release();
    await c.release();
  }
});

test('a webgpu session returns outputs named in deviceOutputs as GPU tensors that feed later runs', async () => {
  if (unavailable) return assert.ok(unavailable.message.length > 0);
  const unetPath = join(fixture('tiny-sd'), 'unet', 'model.onnx');
  const [text, unet] = [await createSession(textEncoderPath, { device: 'webgpu', deviceOutputs: ['last_hidden_state'] }), await createSession(unetPath, { device: 'webgpu' })];
  const [cpuText, cpuUnet] = [await createSession(textEncoderPath), await createSession(unetPath)];
  try {
    const ids = { type: 'int32' as const, data: Int32Array.from({ length: 2 * 77 }, (_, i) => (i % 77 < 4 ? 20 + i : 595)), dims: [2, 77] };
    const out = await text.runHeld({ input_ids: ids });
    const held = out.last_hidden_state;
    assert.ok(held instanceof HeldTensor && held.location === 'gpu-buffer');
    assert.deepEqual(held.dims, [2, 77, 32]);
    assert.ok(!(out.pooler_output instanceof HeldTensor), 'other outputs come back to the CPU');
    // onnxruntime-node cannot read a WebGPU tensor back: a clear error instead of its abort.
    assert.throws(() => held.read(), (e: unknown) => e instanceof EngineError && /cannot copy a WebGPU tensor back/.test(e.message));
    await assert.rejects(text.run({ input_ids: ids }), /cannot copy a WebGPU tensor back/);
    const rest = {
      sample: { type: 'float32' as const, data: Float32Array.from({ length: 2 * 4 * 8 * 8 }, (_, i) => Math.sin(i)), dims: [2, 4, 8, 8] },
      timestep: { type: 'int64' as const, data: BigInt64Array.from([500n, 500n]), dims: [2] },
    };
    const fromGpu = (await unet.run({ ...rest, encoder_hidden_states: held })).out_sample.data as Float32Array;
    const embeds = (await cpuText.run({ input_ids: ids })).last_hidden_state;
    const fromCpu = (await cpuUnet.run({ ...rest, encoder_hidden_states: embeds })).out_sample.data as Float32Array;
    fromCpu.forEach((v, i) => assert.ok(Math.abs(v - fromGpu[i]) < 1e-3, `value ${i}: ${fromGpu[i]} vs ${v}`));
    held.dispose();
  } finally {
    for (const s of [text, unet, cpuText, cpuUnet]) await s.release();
  }
});

test('a graph-optimised export (com.microsoft BiasSplitGelu, refused on CPU) runs on webgpu with the fused maths', async () => {
  if (unavailable) return assert.ok(unavailable.message.length > 0);
  const session = await createSession(join(import.meta.dirname, '..', 'fixtures', 'onnx', 'bias-split-gelu.onnx'), { device: 'webgpu' });
  try {
    const x = Float32Array.from({ length: 4 * 8 }, (_, i) => Math.sin(i) * 2);
    const y = (await session.run({ x: { type: 'float32', data: x, dims: [1, 4, 8] } })).y.data as Float32Array;
    // y = left · gelu(right), the halves of each row (bias 0); gelu with erf, via its tanh form within 1e-3.
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const expected = x[r * 8 + c] * gelu(x[r * 8 + 4 + c]);
        assert.ok(Math.abs(y[r * 4 + c] - expected) < 2e-3, `y[${r},${c}] = ${y[r * 4 + c]}, expected ${expected}`);
      }
    }
  } finally {
    await session.release();
  }
});

test('without a Vulkan driver, webgpu fails with the missing part and how to install it; fallbackToCpu runs on the CPU with a warning', () => {
  // A child process, because Vulkan reads its driver list once per process.
  const script = `
    import { StableDiffusionPipeline } from './engine/pipeline.ts';
    const out = {};
    try { await StableDiffusionPipeline.load(${JSON.stringify(fixture('tiny-sd'))}, { device: 'webgpu' }); out.loaded = true; }
    catch (e) { out.code = e.code; out.message = e.message; }
    const p = await StableDiffusionPipeline.load(${JSON.stringify(fixture('tiny-sd'))}, { device: 'webgpu', fallbackToCpu: true });
    out.fallbackDevice = p.info.device; out.fallback = p.info.deviceFallback;
    out.images = (await p.generate({ prompt: 'x', seed: 1, numInferenceSteps: 2 })).images.length;
    await p.release();
    console.log(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(out.code, 'sd_engine_provider');
  assert.match(String(out.message), /`webgpu` execution provider (could not start|cannot start)/);
  assert.match(String(out.message), /No Vulkan device is usable by WebGPU|libvulkan\.so\.1 is not installed|No Vulkan driver/);
  assert.match(String(out.message), /apt-get install .*mesa-vulkan-drivers/);
  assert.equal(out.fallbackDevice, 'cpu');
  assert.match(String(out.fallback), /instead of `webgpu` \(fallbackToCpu is set\)/);
  assert.equal(out.images, 1);
});
