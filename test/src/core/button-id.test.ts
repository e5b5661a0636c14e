import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { doneButtons, encodeButtonId, parseButtonId } from '../../../src/core/button-id.ts';
import { BotError } from '../../../src/core/errors.ts';
import type { ButtonAction } from '../../../src/core/types.ts';

const actions: ButtonAction[] = [
  ...[1, 2, 3, 4].flatMap((index) => [{ type: 'upscale', index } as const, { type: 'variation', index } as const]),
  { type: 'reroll' },
  { type: 'vary', strength: 'strong' },
  { type: 'vary', strength: 'subtle' },
  { type: 'upscale-again' },
  { type: 'cancel' },
];

test('every action round-trips through a short id', () => {
  for (const action of actions) {
    const id = encodeButtonId('k3f9qz', action);
    assert.ok(id.length <= 100);
    assert.deepEqual(parseButtonId(id), { jobId: 'k3f9qz', action });
  }
  assert.equal(encodeButtonId('k3f9qz', { type: 'upscale', index: 2 }), 'ib:k3f9qz:u2');
});

test('forged or garbled ids are rejected with a clear, coded error', () => {
  for (const bad of ['', 'ib:k3f9qz', 'ib:k3f9qz:u5', 'ib:k3f9qz:u0', 'ib:K3F9QZ:u1', 'ib:k3f9qz:u1:extra', 'xx:k3f9qz:u1', 'ib:k3f9q:u1', 'ib:k3f9qi:u1', `ib:${'a'.repeat(200)}:u1`, 'ib:k3f9qz:rr ']) {
    assert.throws(
      () => parseButtonId(bad),
      (e: unknown) => e instanceof BotError && e.code === 'bot_bad_button' && /nothing was done/.test(e.userMessage),
      bad,
    );
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (s) => {
      try {
        const { jobId } = parseButtonId(s);
        assert.ok(s.includes(jobId));
      } catch (e) {
        assert.ok(e instanceof BotError && e.code === 'bot_bad_button');
      }
    }),
  );
});

test('grid buttons: U1–U4 + 🔄 then V1–V4, at most 5 a row; upscaled images get Vary/Upscale', () => {
  const grid = doneButtons('k3f9qz', 4, false);
  assert.deepEqual(grid.map((row) => row.map((b) => b.label)), [['U1', 'U2', 'U3', 'U4', '🔄'], ['V1', 'V2', 'V3', 'V4']]);
  const single = doneButtons('k3f9qz', 1, true);
  assert.deepEqual(single.map((row) => row.map((b) => b.label)), [['Vary (Strong)', 'Vary (Subtle)', 'Upscale 2×', '🔄']]);
  for (const row of [...grid, ...single]) assert.ok(row.length <= 5);
});
