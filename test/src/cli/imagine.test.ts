import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { decodeImage } from '../../../engine/index.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');
const model = join(root, 'test', 'fixtures', 'models', 'tiny-sd');
const dir = mkdtempSync(join(tmpdir(), 'imagine-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function imagine(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'imagine.ts'), ...args], { cwd: root, encoding: 'utf8' });
}

test('writes a PNG grid for --n 4 and shows a progress bar on stderr', async () => {
  const out = join(dir, 'grid.png');
  const run = imagine('a red circle', '--model', model, '--seed', '3', '--steps', '5', '--sampler', 'euler_a', '--n', '4', '--out', out);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /\[#+\] 5\/5/);
  assert.match(run.stderr, /seed 3, 4, 5, 6/);
  const png = readFileSync(out);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const img = await decodeImage(png);
  assert.deepEqual([img.width, img.height], [128, 128]);
});

test('img2img from a PNG with --image and --strength', async () => {
  const init = join(dir, 'init.png');
  assert.equal(imagine('a square', '--model', model, '--seed', '1', '--steps', '3', '--out', init).status, 0);
  const out = join(dir, 'variation.png');
  const run = imagine('a square', '--model', model, '--image', init, '--strength', '0.5', '--steps', '4', '--width', '64', '--height', '64', '--out', out);
  assert.equal(run.status, 0, run.stderr);
  // strength 0.5 of 4 PNDM steps: diffusers skips the first 2 of its 5 UNet evaluations [751, 501, 501, 251, 1].
  assert.match(run.stderr, /\] 3\/3/);
  const img = await decodeImage(readFileSync(out));
  assert.deepEqual([img.width, img.height], [64, 64]);
});

test('bad options exit non-zero with a teaching message', () => {
  const sampler = imagine('x', '--model', model, '--sampler', 'foo');
  assert.equal(sampler.status, 2);
  assert.match(sampler.stderr, /Unknown --sampler `foo`.*euler_a/);
  const width = imagine('x', '--model', model, '--width', '33');
  assert.equal(width.status, 1);
  assert.match(width.stderr, /sd_engine_invalid_input.*multiple of 16 for this model.*got `33`; try 32 or 48/);
});
