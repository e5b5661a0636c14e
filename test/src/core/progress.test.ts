import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeImage } from '../../../src/core/fake-engine.ts';
import { signature } from '../../../src/core/images.ts';
import { type PendingUpdate, ProgressHub, Throttle } from '../../../src/core/progress.ts';
import type { JobRecord, MessageRef, ProgressView } from '../../../src/core/types.ts';
import { queuedView, runningView } from '../../../src/core/views.ts';
import { RecordingReply, RecordingSurface } from '../../helpers/core-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder(minIntervalMs: number, sendMs = 0) {
  const sent: { label: string; at: number }[] = [];
  const t0 = performance.now();
  const throttle = new Throttle({
    minIntervalMs: () => minIntervalMs,
    send: async (u) => {
      const at = performance.now() - t0;
      const view = await u.build();
      sent.push({ label: view.status, at });
      if (sendMs) await sleep(sendMs);
    },
  });
  const update = (label: string, final = false, sig?: Float32Array): PendingUpdate => ({
    final,
    ...(sig && { signature: sig }),
    build: async () => ({ status: label }) as ProgressView,
  });
  return { throttle, sent, update };
}

test('latest wins within the interval; edits are spaced by the minimum interval', async () => {
  const { throttle, sent, update } = recorder(60);
  throttle.push(update('s1'));
  for (let i = 2; i <= 10; i++) throttle.push(update(`s${i}`));
  await sleep(100);
  throttle.push(update('s11'));
  throttle.push(update('s12'));
  await sleep(100);
  assert.deepEqual(sent.map((s) => s.label), ['s1', 's10', 's12']);
  for (let i = 1; i < sent.length; i++) assert.ok(sent[i].at - sent[i - 1].at >= 55, `gap ${sent[i].at - sent[i - 1].at}`);
  assert.equal(throttle.sent, 3);
});

test('the final state is always delivered, right away, after an edit in flight, and nothing follows it', async () => {
  const { throttle, sent, update } = recorder(1000, 30);
  throttle.push(update('s1'));
  throttle.push(update('s2'));
  throttle.push(update('done', true));
  throttle.push(update('late running'));
  await throttle.done;
  assert.deepEqual(sent.map((s) => s.label), ['s1', 'done']);
  assert.ok(sent[1].at < 600, 'the final state did not wait for the 1 s interval');
  throttle.push(update('after'));
  await sleep(20);
  assert.equal(sent.length, 2);
});

test('a preview that barely changed is skipped unless the message has been quiet for a while', async () => {
  const { throttle, sent, update } = recorder(50);
  const a = signature(fakeImage(1, 32, 32));
  const nearlyA = a.map((v) => v + 0.5);
  const b = signature(fakeImage(2, 32, 32));
  throttle.push(update('a', false, a));
  await sleep(60);
  throttle.push(update('nearly a', false, nearlyA));
  await sleep(60);
  throttle.push(update('b', false, b));
  await sleep(250); // > 4 intervals of quiet
  throttle.push(update('nearly b', false, b));
  await sleep(60);
  assert.deepEqual(sent.map((s) => s.label), ['a', 'b', 'nearly b']);
  assert.equal(throttle.skipped, 1);
});

test('a failed final edit is retried once', async () => {
  let calls = 0;
  const throttle = new Throttle({
    minIntervalMs: () => 0,
    send: async () => {
      calls++;
      if (calls === 1) throw new Error('429');
    },
  });
  throttle.push({ final: true, build: async () => ({}) as ProgressView });
  await throttle.done;
  assert.equal(calls, 2);
});

const job = { id: 'abcdef', seq: 1, platform: 'web', guildId: 'g', channelId: 'c9', ownerId: 'u', kind: 'imagine', params: { prompt: 'p', negativePrompt: '', width: 8, height: 8, numInferenceSteps: 4, guidanceScale: 1, seed: 1, numImagesPerPrompt: 1 }, priority: 0, status: 'queued', createdAt: 0, attempts: 0, completions: 0 } satisfies JobRecord;

test('hub: updates pushed before the first post wait for it (one message, no duplicate); refs are saved', async () => {
  const saved: MessageRef[] = [];
  const hub = new ProgressHub({ saveRef: async (_id, ref) => void saved.push(ref) });
  const surface = new RecordingSurface('web', 0);
  hub.attach(surface);
  hub.expect(job);
  hub.push(job, { final: false, build: async () => runningView(job, 1, 4, undefined) });
  await sleep(10);
  assert.equal(surface.messages.size, 0, 'nothing posted before the interaction reply');
  await hub.post(job, queuedView(job, 1, undefined), new RecordingReply(surface, 'c9'));
  await sleep(10);
  assert.equal(surface.messages.size, 1);
  assert.deepEqual([...surface.messages.values()][0].views.map((v) => v.state), ['queued', 'running']);
  assert.equal(saved.length, 1);
});

test('hub: with no surface yet (adapter still starting), updates wait; a job without a message gets one posted', async () => {
  const saved: MessageRef[] = [];
  const hub = new ProgressHub({ saveRef: async (_id, ref) => void saved.push(ref) });
  hub.push(job, { final: true, build: async () => queuedView(job, 3, undefined) });
  await sleep(30);
  const surface = new RecordingSurface('web', 0);
  hub.attach(surface);
  await hub.settled(job.id);
  assert.equal(surface.messages.size, 1);
  assert.equal([...surface.messages.values()][0].ref.channelId, 'c9');
  assert.deepEqual(saved, [[...surface.messages.values()][0].ref]);
});
