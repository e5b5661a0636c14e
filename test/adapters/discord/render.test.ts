import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CONTENT, escapeMarkdown, renderButtons, renderMessage, renderProgress } from '../../../src/adapters/discord/render.ts';
import { doneButtons } from '../../../src/core/button-id.ts';
import { validateBody } from '../../fakes/discord/schemas.ts';
import { card, views } from './scripted-core.ts';

const image = { png: new Uint8Array([1]), width: 1, height: 1, filename: 'x.png' };

test('done grid: U1–U4 + 🔄 then V1–V4, styles and ids as given, spec-valid', () => {
  const rows = renderButtons(doneButtons('k3f9qz', 4, false));
  assert.deepEqual(rows.map((r) => r.components.length), [5, 4]);
  assert.deepEqual(rows[0].components[4], { type: 2, custom_id: 'ib:k3f9qz:rr', style: 2, emoji: { name: '🔄' } });
  assert.deepEqual(rows[1].components[0], { type: 2, custom_id: 'ib:k3f9qz:v1', style: 2, label: 'V1' });
  const upscaled = renderButtons(doneButtons('k3f9qz', 1, true));
  assert.deepEqual(upscaled[0].components.map((b) => ('label' in b ? b.label : b.emoji?.name)), ['Vary (Strong)', 'Vary (Subtle)', 'Upscale 2×', '🔄']);
  assert.deepEqual(validateBody('PATCH /webhooks/:app/:token/messages/:message', { content: 'x', components: rows }), []);
});

test('Discord limits are enforced with teaching errors: 5 buttons a row, 5 rows, custom_id ≤ 100', () => {
  const b = (id: string) => ({ id, label: 'B', style: 'secondary' as const });
  assert.throws(() => renderButtons([[b('1'), b('2'), b('3'), b('4'), b('5'), b('6')]]), /at most 5 buttons in a row, got 6/);
  assert.throws(() => renderButtons(Array(6).fill([b('1')])), /at most 5 button rows, got 6/);
  assert.throws(() => renderButtons([[b('x'.repeat(101))]]), /1 to 100 characters, got 101/);
  assert.equal(renderButtons([[b('x'.repeat(100))]])[0].components[0].custom_id.length, 100);
});

test('content stays within 2000 characters and keeps the status and job id when the prompt is huge', () => {
  const job = card('k3f9qz', '42', 'fox '.repeat(1500));
  const { content } = renderProgress({ ...views.queued(job, 3), title: job.prompt });
  assert.ok(content.length <= MAX_CONTENT, `${content.length}`);
  assert.match(content, /… - <@42> \(Queued: #3, about 10 s\) `k3f9qz`$/);
  assert.ok(renderMessage({ text: 'y'.repeat(5000) }).content.length <= MAX_CONTENT);
});

test('prompts cannot inject markdown or break the header line', () => {
  assert.equal(escapeMarkdown('a *bold* _x_ `code` ~~s~~ ||sp||\nline'), 'a \\*bold\\* \\_x\\_ \\`code\\` \\~\\~s\\~\\~ \\|\\|sp\\|\\| line');
});

test('which views carry an image and buttons', () => {
  const job = card('k3f9qz', '42');
  assert.equal(renderProgress(views.running(job, 1, 4)).image, undefined);
  assert.equal(renderProgress(views.running(job, 1, 4, image)).image, image);
  const done = renderProgress(views.done(job, image));
  assert.equal(done.image, image);
  assert.equal(done.components.length, 2);
  assert.deepEqual(renderProgress(views.queued(job, 1), '⚠️ note').content.split('\n')[1], '⚠️ note');
  assert.equal(renderProgress(views.done(job, image), '⚠️ note').content.includes('note'), false, 'notes only while in progress');
});
