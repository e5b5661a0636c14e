// Views → Block Kit: Slack's limits, escaping of user text, and the shape every scenario relies on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeMrkdwn, renderButtons, renderMessage, renderProgress } from '../../../src/adapters/slack/render.ts';
import { doneButtons } from '../../../src/core/button-id.ts';
import type { ProgressView } from '../../../src/core/types.ts';
import { validateArgs } from '../../fakes/slack/schemas.ts';
import { card } from './scripted-core.ts';

const png = { png: new Uint8Array([1]), width: 8, height: 8, filename: 'x.png' };
const valid = (blocks: unknown[]) => validateArgs('chat.postMessage', { channel: 'C0000000A', text: 't', blocks });

test('user text cannot inject mentions or links: &, <, > are escaped', () => {
  assert.equal(escapeMrkdwn('<!channel> & <https://x|y>'), '&lt;!channel&gt; &amp; &lt;https://x|y&gt;');
  const m = renderProgress({ job: card('k3f9qz', 'U1', '<!here> fox'), title: '<!here> fox', status: 'Queued: #1', state: 'queued', position: 1, etaMs: undefined });
  assert.doesNotMatch(JSON.stringify(m), /<!here>/, 'neither in the blocks nor in the notification text');
  assert.doesNotMatch(renderMessage({ text: 'you asked for <!channel>' }).text, /<!channel>/);
  assert.match(JSON.stringify(m.blocks), /<@U1>/, 'the owner mention is ours and stays a mention');
});

test('a done view: the grid as a slack_file image, U1–U4 + 🔄 and V1–V4, valid Block Kit', () => {
  const view: ProgressView = { job: card('k3f9qz', 'U1'), title: 'a red fox', status: 'Done in 2 s', state: 'done', image: png, imageCount: 4, seeds: [1, 2, 3, 4], warnings: ['prompt truncated'], buttons: doneButtons('k3f9qz', 4, false), durationMs: 2000 };
  const m = renderProgress(view, { image: 'F0GRID' });
  assert.deepEqual(
    m.blocks.map((b) => b.type),
    ['section', 'context', 'image', 'context', 'actions', 'actions'],
  );
  assert.deepEqual(m.blocks[2], { type: 'image', slack_file: { id: 'F0GRID' }, alt_text: 'a red fox' });
  const labels = m.blocks.filter((b) => b.type === 'actions').map((b) => (b as { elements: { text: { text: string } }[] }).elements.map((e) => e.text.text));
  assert.deepEqual(labels, [
    ['U1', 'U2', 'U3', 'U4', '🔄'],
    ['V1', 'V2', 'V3', 'V4'],
  ]);
  assert.equal(m.text, 'a red fox — Done in 2 s');
  assert.deepEqual(valid(m.blocks).errors, []);
});

test('a running view shows the uploaded preview only when there is one', () => {
  const running = (preview?: string) =>
    renderProgress({ job: card('k3f9qz', 'U1'), title: 'fox', status: 'Step 3/20', state: 'running', step: 3, totalSteps: 20, etaMs: 1000, preview: png }, { preview });
  assert.equal(running().blocks.some((b) => b.type === 'image'), false);
  assert.deepEqual(running('F0PREV').blocks.at(-1), { type: 'image', slack_file: { id: 'F0PREV' }, alt_text: 'preview: fox' });
});

test('messages: long text splits into sections of at most 3000 characters, fields 10 per section', () => {
  const text = Array.from({ length: 120 }, (_, i) => `line ${i} `.repeat(8)).join('\n');
  const fields = Array.from({ length: 13 }, (_, i) => ({ name: `f${i}`, value: 'v'.repeat(10) }));
  const m = renderMessage({ text, fields, tone: 'error', buttons: doneButtons('k3f9qz', 4, false) });
  const sections = m.blocks.filter((b) => b.type === 'section' && 'text' in b) as { text: { text: string } }[];
  assert.ok(sections.length >= 3 && sections.every((s) => s.text.text.length <= 3000));
  assert.ok(sections[0].text.text.startsWith('⚠️ line 0'));
  assert.equal(sections.map((s) => s.text.text).join('\n'), `⚠️ ${text}`, 'nothing lost between sections');
  const fieldBlocks = m.blocks.filter((b) => 'fields' in b && !('text' in b)) as { fields: unknown[] }[];
  assert.deepEqual(fieldBlocks.map((b) => b.fields.length), [10, 3]);
  assert.deepEqual(valid(m.blocks).errors, []);
});

test('buttons outside Slack limits are refused loudly instead of being sent', () => {
  assert.throws(() => renderButtons([[{ id: 'x'.repeat(256), label: 'U1', style: 'secondary' }]]), /button id of 1 to 255 characters, got 256/);
  assert.throws(() => renderButtons([Array.from({ length: 26 }, (_, i) => ({ id: `b${i}`, label: 'x', style: 'secondary' as const }))]), /at most 25 buttons/);
  const [long] = renderButtons([[{ id: 'a', label: 'L'.repeat(90), style: 'danger' }]]) as { elements: { text: { text: string }; style?: string }[] }[];
  assert.equal(long.elements[0].text.text.length, 75);
  assert.equal(long.elements[0].style, 'danger');
});
