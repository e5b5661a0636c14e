// A worker-thread crash mid-job, seen through the playground: the running job fails with a message that says what
// happened, the engine starts a new worker, and the queue goes on with the next job.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStream, post, startPlayground, tab } from './helpers.ts';
import type { SseEvent } from './helpers.ts';

test('a killed engine worker fails the running job clearly, restarts, and the queued job completes', async () => {
  const app = await startPlayground();
  const me = tab(31);
  const stream = await openStream(app.url, me.tabId, me.guildId);
  try {
    await stream.next((e) => e.event === 'hello');
    // Once the survivor waits behind the running doomed job, the engine's debug hook makes the worker throw between
    // two steps, as a native crash would end the thread (hooked at the engine's progress, so the crash lands mid-job).
    // The survivor is posted only when the doomed job runs: the two posts are handled concurrently after their acks.
    let armed = false;
    app.engine.onStep = (options) => {
      if (options.prompt !== 'doomed' || !armed) return;
      app.engine.onStep = undefined;
      (app.engine.inner as unknown as { crashWorkerForTest(): void }).crashWorkerForTest();
    };
    const isMessage = (title: string, state: string) => (e: SseEvent) =>
      e.event === 'message' && e.data.title === title && e.data.state === state;
    await post(app.url, { ...me, text: '/imagine doomed --steps 150 --seed 1' });
    await stream.next(isMessage('doomed', 'running'));
    await post(app.url, { ...me, text: '/imagine survivor --steps 10 --seed 2' });
    await stream.next(isMessage('survivor', 'queued'));
    armed = true;

    const failed = await stream.next((e) => e.event === 'message' && e.data.title === 'doomed' && !['queued', 'running'].includes(String(e.data.state)));
    assert.equal(failed.data.state, 'failed');
    assert.match(String(failed.data.status), /engine crashed .* restarted; press 🔄 to try again/);
    assert.deepEqual((failed.data.buttons as { label: string }[][]).flat().map((b) => b.label), ['🔄']);
    const stored = await app.core.store.getJob(String(failed.data.jobId));
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.error?.code, 'sd_engine');

    const next = await stream.next((e) => e.event === 'message' && e.data.title === 'survivor' && (e.data.state === 'done' || e.data.state === 'failed'));
    assert.equal(next.data.state, 'done', `the queued job should run on the restarted worker: ${next.data.status}`);
    const metrics = await app.metrics.text();
    assert.match(metrics, /^imagine_engine_failures_total\{code="sd_engine"\} 1$/m);
    assert.match(metrics, /^imagine_jobs_total\{platform="web",status="failed"\} 1$/m);
  } finally {
    stream.close();
    await app.close();
  }
});
