import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../engine/errors.ts';
import { createSession, executionProviders, providerUnavailableReason } from '../../engine/runtime.ts';
import { fixture } from './helpers.ts';

const unetPath = join(fixture('tiny-sd'), 'unet', 'model.onnx');
// A one-node graph using the com.microsoft contrib op BiasSplitGelu, as in onnxruntime's GPU-optimized SD UNets.
// Made by test/fixtures/onnx/make_onnx_fixtures.py.
const gpuOnlyModel = join(import.meta.dirname, '..', 'fixtures', 'onnx', 'bias-split-gelu.onnx');

function rejectsWith(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

test('the provider table is frozen and maps each device', () => {
  assert.ok(Object.isFrozen(executionProviders));
  assert.deepEqual(executionProviders.cpu(), ['cpu']);
  assert.deepEqual(executionProviders.cuda(1), [{ name: 'cuda', deviceId: 1 }]);
  assert.deepEqual(executionProviders.webgpu(), ['webgpu']);
});

test('reads input and output metadata with symbolic dimensions by name', async () => {
  const session = await createSession(unetPath);
  assert.equal(session.device, 'cpu');
  assert.deepEqual(session.inputs.map((i) => [i.name, i.type]), [
    ['sample', 'float32'],
    ['timestep', 'int64'],
    ['encoder_hidden_states', 'float32'],
  ]);
  assert.deepEqual(session.input('timestep')?.shape, ['batch']);
  assert.deepEqual(session.input('encoder_hidden_states')?.shape, ['batch', 'sequence', 32]);
  assert.deepEqual(session.output('out_sample')?.shape, ['batch', 4, 'height', 'width']);
  await session.release();
});

test('run takes and returns plain typed arrays (external weights.pb resolved by path)', async () => {
  const session = await createSession(unetPath);
  const out = await session.run({
    sample: { type: 'float32', data: new Float32Array(2 * 4 * 8 * 8).fill(0.5), dims: [2, 4, 8, 8] },
    timestep: { type: 'int64', data: BigInt64Array.from([500n, 500n]), dims: [2] },
    encoder_hidden_states: { type: 'float32', data: new Float32Array(2 * 77 * 32), dims: [2, 77, 32] },
  });
  assert.ok(out.out_sample.data instanceof Float32Array);
  assert.deepEqual(out.out_sample.dims, [2, 4, 8, 8]);
  assert.ok(session.runMs > 0);
  await session.release();
});

test('cuda without the provider libraries fails with how to get them', async () => {
  // This machine has no CUDA provider (npm skips its download), which is the situation the message is for.
  assert.match(providerUnavailableReason('cuda') ?? '', /npm run setup:cuda/);
  await assert.rejects(
    createSession(unetPath, { device: 'cuda' }),
    rejectsWith('sd_engine_provider', /CUDA execution provider is not installed: .*libonnxruntime_providers_cuda\.so.*npm run setup:cuda/),
  );
});

test('fallbackToCpu opens the session on the CPU instead', async () => {
  const session = await createSession(unetPath, { device: 'cuda', fallbackToCpu: true });
  assert.equal(session.device, 'cpu');
  await session.release();
});

test('an unknown device lists the supported ones', async () => {
  await assert.rejects(createSession(unetPath, { device: 'tpu' as never }), rejectsWith('sd_engine_provider', /Unsupported device: `tpu`.*`cpu`, `cuda`, `webgpu`/));
});

test('a missing model file names the file', async () => {
  await assert.rejects(createSession('/nonexistent/unet/model.onnx'), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'sd_engine_model_load');
    assert.equal(error.file, '/nonexistent/unet/model.onnx');
    return true;
  });
});

test('a GPU-optimized graph with contrib ops fails on CPU with a clear explanation', async () => {
  await assert.rejects(createSession(gpuOnlyModel), rejectsWith('sd_engine_model_load', /`BiasSplitGelu`.*optimized by onnxruntime for GPU.*plain \(unoptimized\) export/));
});
