// The core on the real engine (worker thread, onnxruntime) end to end: /imagine with flags → previews → grid →
// U1 (img2img 2×) → its own image, and a cancel mid-run. Uses the embedded default model when it is present,
// otherwise the tiny random-weight fixture (same code paths, noise images).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { commands, handleButton, isEphemeralAction } from '../../../commands/index.ts';
import { defaultConfig } from '../../../config/defaults.ts';
import { createEngine, defaultModelDir } from '../../../engine/index.ts';
import { createCore } from '../../../src/core/create-core.ts';
import { decodePng } from '../../../src/core/images.ts';
import { openJobStore } from '../../../src/core/job-store.ts';
import { actor, memoryLog, RecordingReply, RecordingSurface } from '../../helpers/core-harness.ts';

const fixture = resolve(import.meta.dirname, '../../fixtures/models/tiny-sd');
const modelDir = existsSync(join(defaultModelDir, 'model_index.json')) ? defaultModelDir : fixture;

test(`real engine (${modelDir.split('/').slice(-2).join('/')}): /imagine → previews → grid → U1 → cancel`, { timeout: 120_000 }, async () => {
  assert.ok(existsSync(join(modelDir, 'model_index.json')), `no model at ${modelDir}`);
  const engine = await createEngine({ modelDir, intraOpNumThreads: 1 });
  const store = openJobStore({ dataDir: mkdtempSync(join(tmpdir(), 'real-engine-')) });
  const { log } = memoryLog();
  const core = createCore({ config: defaultConfig, engine, store, log, commands, buttons: { handle: handleButton, isEphemeral: isEphemeralAction } });
  const surface = new RecordingSurface('web', 0);
  core.bot.attachSurface(surface);
  await core.start();
  const settle = async (jobId: string) => {
    for (let i = 0; i < 2000; i++) {
      const job = await store.getJob(jobId);
      if (job && ['done', 'failed', 'cancelled'].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await core.hub.settled(jobId);
  };
  try {
    const { width, height } = engine.info;
    const ana = actor('ana');
    const reply = new RecordingReply(surface);
    await core.bot.dispatch({ type: 'command', actor: ana, name: 'imagine', options: { prompt: 'a red circle on blue --ar 2:1 --steps 6 --seed 7 --n 4' } }, reply);
    assert.deepEqual(reply.calls, ['ack:public', 'post'], reply.lastText);
    const jobId = surface.messages.get(reply.refs[0].messageId!)!.views[0].job.jobId;
    await settle(jobId);
    const views = surface.messageOf(jobId)!.views;
    const previews = views.filter((v) => v.state === 'running' && v.preview);
    assert.ok(previews.length >= 2, `${previews.length} previews`);
    const done = views.at(-1)!;
    assert.equal(done.state, 'done', done.status);
    if (done.state !== 'done') return;
    const job = (await store.getJob(jobId))!;
    assert.equal(job.params.width / job.params.height, 2);
    const grid = await decodePng(done.image.png);
    assert.deepEqual([grid.width, grid.height], [2 * job.params.width, 2 * job.params.height]);
    assert.deepEqual(done.seeds, [7, 8, 9, 10]);
    assert.ok(grid.data.some((v) => v !== grid.data[0]), 'the grid is not blank');

    const upReply = new RecordingReply(surface);
    await core.bot.dispatch({ type: 'button', actor: ana, customId: done.buttons[0][0].id }, upReply);
    assert.deepEqual(upReply.calls, ['ack:public', 'post'], upReply.lastText);
    const upId = surface.messages.get(upReply.refs[0].messageId!)!.views[0].job.jobId;
    await settle(upId);
    const up = surface.messageOf(upId)!.views.at(-1)!;
    assert.equal(up.state, 'done', up.status);
    if (up.state !== 'done') return;
    const upImage = await decodePng(up.image.png);
    assert.deepEqual([upImage.width, upImage.height], [2 * job.params.width, 2 * job.params.height]);
    assert.deepEqual(up.buttons[0].map((b) => b.label), ['Vary (Strong)', 'Vary (Subtle)', 'Upscale 2×', '🔄']);

    const slow = new RecordingReply(surface);
    await core.bot.dispatch({ type: 'command', actor: ana, name: 'imagine', options: { prompt: 'a long one --steps 150 --n 4' } }, slow);
    const slowId = surface.messages.get(slow.refs[0].messageId!)!.views[0].job.jobId;
    core.bot.on('jobProgress', (j, step) => {
      if (j.id === slowId && step === 2) void core.bot.dispatch({ type: 'button', actor: ana, customId: `ib:${slowId}:x` }, new RecordingReply(surface));
    });
    await settle(slowId);
    const cancelled = (await store.getJob(slowId))!;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(surface.messageOf(slowId)!.views.at(-1)!.state, 'cancelled');
    assert.equal(width > 0 && height > 0, true);
  } finally {
    await core.close();
    await engine.close();
  }
});
