import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchGenerator, randn } from '../../engine/random.ts';

function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-4, label = ''): void {
  assert.ok(actual.length >= expected.length, `${label}: got ${actual.length} values, expected ≥ ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${label}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

test('MT19937 seeding matches the standard generator (first u32 outputs, seed 0)', () => {
  const g = new TorchGenerator(0);
  assert.deepEqual([g.nextUint32(), g.nextUint32(), g.nextUint32()], [2357136044, 2546248239, 3071714933]);
});

test('seed 0, [1,1,4,4]: the 16-value block path', () => {
  assertClose(
    randn(0, [1, 1, 4, 4]),
    [-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473],
    1e-4,
    'seed0 4x4',
  );
});

test('seed 0, [2,3] and [8]: the scalar normal_distribution<double> path', () => {
  const six = [1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986];
  assertClose(randn(0, [2, 3]), six, 1e-4, 'seed0 2x3');
  const eight = randn(0, [8]);
  assert.equal(eight.length, 8);
  assertClose(eight, [...six, 0.4033, 0.838], 1e-4, 'seed0 8');
});

test('seed 0, [10,4] rows 4..8: the tail of 40 values is redrawn as a 16-block', () => {
  const x = randn(0, [10, 4]);
  assert.equal(x.length, 40);
  assertClose(
    x.subarray(16),
    [-1.3527, -1.6959, 0.5667, 0.7935, 0.5988, -1.5551, -0.3414, 1.853, -0.2159, -0.7425, 0.5627, 0.2596, -0.174, -0.6787, 0.9383, 0.4889, 1.2032, 0.0845, -1.2001],
    1e-4,
    'seed0 10x4',
  );
});

test('seed 42, [16] and [1,4,64,64] first 8', () => {
  const g = new TorchGenerator(42);
  assertClose(
    g.randn([16]),
    [1.9269, 1.4873, 0.9007, -2.1055, 0.6784, -1.2345, -0.0431, -1.6047, -0.7521, 1.6487, -0.3925, -1.4036, -0.7279, -0.5594, -0.7688, 0.7624],
    1e-4,
    'seed42 16',
  );
  const latents = randn(42, [1, 4, 64, 64]);
  assert.equal(latents.length, 16384);
  assertClose(latents, [1.9269, 1.4873, 0.9007, -2.1055, 0.6784, -1.2345, -0.0431, -1.6047], 1e-4, 'seed42 latents');
});

test('seed 0, [1,4,64,64] first 8', () => {
  assertClose(randn(0, [1, 4, 64, 64]), [-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152], 1e-4, 'seed0 latents');
});

test('successive calls continue the stream, including the cached double normal (torch 1.13 values)', () => {
  const g = new TorchGenerator(1);
  assertClose(g.randn([17]).subarray(14), [-0.79807, -0.131623, -0.79844], 1e-4, '17 tail');
  // 3 values draw two pairs and cache the fourth; the next call starts from the cache.
  assertClose(g.randn([3]), [-0.235515, 0.301859, -0.277004], 1e-4, 'first 3');
  assertClose(g.randn([3]), [0.477076, -0.110313, 0.291344], 1e-4, 'second 3');
  assertClose(g.randn([16]), [-1.215007, 0.731167, 1.171805, -0.927392], 1e-4, 'then 16');
});

test('the largest seed works and latents keep flowing after a small draw', () => {
  const g = new TorchGenerator(4294967295);
  assertClose(g.randn([4]), [1.219763, -0.392979, 1.023075, -0.373421], 1e-4, 'seed max 4');
  assertClose(g.randn([1, 4, 64, 64]).subarray(16380), [0.495398, -0.92305, -0.904871, -1.076211], 1e-4, 'seed max latents tail');
});

test('fillRandn on a slice equals a separate randn of that size', () => {
  const buf = new Float32Array(40);
  new TorchGenerator(7).fillRandn(buf, 8, 24);
  assert.deepEqual(Array.from(buf.subarray(8, 32)), Array.from(randn(7, [24])));
  assert.ok(buf.subarray(0, 8).every((v) => v === 0) && buf.subarray(32).every((v) => v === 0));
});

test('invalid seeds and shapes throw coded RangeErrors that name the bad value', () => {
  for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => new TorchGenerator(bad), (e: unknown) => e instanceof RangeError && /seed/.test(e.message) && (e as { code?: string }).code === 'sd_engine_invalid_input');
  }
  assert.throws(() => randn(0, [2, -1]), RangeError);
  assert.equal(randn(0, [0]).length, 0);
});
