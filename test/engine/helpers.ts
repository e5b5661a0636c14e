// Shared test helpers for the engine: fixture paths and throwaway copies of fixture folders to break.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineError } from '../../engine/errors.ts';
import type { RgbImage } from '../../engine/types.ts';

export const fixturesDir = resolve(import.meta.dirname, '..', 'fixtures', 'models');
export const fixture = (name: string) => join(fixturesDir, name);
export const variants = ['tiny-sd', 'tiny-sd-optimum', 'tiny-sd-fp16', 'tiny-lcm', 'tiny-sd-float-timestep'] as const;

/** Copies a fixture to a temp dir; `dispose()` removes it. */
export function copyFixture(name: string): { dir: string; dispose: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'imagine-engine-'));
  const dir = join(root, name);
  cpSync(fixture(name), dir, { recursive: true });
  return { dir, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

export function sameImage(a: RgbImage, b: RgbImage): boolean {
  return a.width === b.width && a.height === b.height && Buffer.from(a.data).equals(Buffer.from(b.data));
}

export function meanAbsDiff(a: RgbImage, b: RgbImage): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

/** A deterministic colourful test image. */
export function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / (width - 1);
      data[o + 1] = (y * 255) / (height - 1);
      data[o + 2] = ((x + y) * 127) / (width + height);
    }
  }
  return { width, height, data };
}

/** For assert.rejects/throws: an EngineError with this code (and a message matching `pattern`). */
export function isCode(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}
