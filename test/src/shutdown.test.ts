// Graceful shutdown on a core with recording fakes: the adapters stay up until the final view of the job that just
// finished has reached its message, but no longer than the grace time.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { Health } from '../../src/core/health.ts';
import type { Adapter, ProgressState, ProgressView } from '../../src/core/types.ts';
import { shutdown } from '../../src/shutdown.ts';
import { actor, harness, memoryLog } from '../helpers/core-harness.ts';

/** The harness with a surface whose final edits take `finalEditMs` (a slow grid upload), and an adapter that
 *  records the job's last delivered state when it is stopped. */
async function slowFinalHarness(finalEditMs: number) {
  // Aborted at the end, so an upload that "never ends" does not keep the test process alive.
  const hang = new AbortController();
  const h = await harness({ engine: { stepMs: 20 } });
  const edit = h.surface.editJobMessage.bind(h.surface);
  h.surface.editJobMessage = async (ref, view: ProgressView) => {
    if (view.state === 'done') await delay(finalEditMs, undefined, { signal: hang.signal });
    return edit(ref, view);
  };
  const stoppedWith: (ProgressState | undefined)[] = [];
  let jobId = '';
  const adapter: Adapter = {
    name: 'recording',
    start: async () => {},
    stop: async () => {
      stoppedWith.push(h.surface.messageOf(jobId)?.views.at(-1)?.state);
      h.core.bot.detachSurface('web');
    },
  };
  const started = await h.imagine(actor('ana'), 'a fox --steps 5 --n 1');
  jobId = started.jobId!;
  while ((await h.store.getJob(jobId))?.status !== 'running') await delay(5);
  return { h, adapter, jobId, stoppedWith, hang };
}

test('shutdown waits for the final view of the job it drained before stopping the adapters', async () => {
  const { h, adapter, jobId, stoppedWith } = await slowFinalHarness(300);
  const { log, lines } = memoryLog();
  const result = await shutdown({ log, health: new Health(), graceMs: 5_000, core: h.core, engine: h.engine, adapters: [adapter] });
  assert.deepEqual(result, { drained: true, requeued: [] });
  assert.deepEqual(stoppedWith, ['done'], 'the grid reached the message before the adapter stopped');
  assert.equal(h.surface.messageOf(jobId)!.views.filter((v) => v.state === 'done').length, 1);
  assert.ok(!lines.some((l) => /final job view was not delivered/.test(String(l.msg))));
});

test('a final view that cannot be delivered holds shutdown only for the grace time', async () => {
  const { h, adapter, stoppedWith, hang } = await slowFinalHarness(60_000);
  try {
    const { log, lines } = memoryLog();
    const t0 = Date.now();
    const result = await shutdown({ log, health: new Health(), graceMs: 1_500, core: h.core, engine: h.engine, adapters: [adapter] });
    const ms = Date.now() - t0;
    assert.equal(result.drained, true);
    assert.ok(ms >= 1_000 && ms < 3_000, `bounded by the grace time, took ${ms} ms`);
    assert.deepEqual(stoppedWith, ['running']);
    assert.ok(lines.some((l) => l.level === 40 && /final job view was not delivered/.test(String(l.msg))));
  } finally {
    hang.abort();
  }
});
