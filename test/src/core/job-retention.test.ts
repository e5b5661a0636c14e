import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { startJobRetention } from '../../../src/core/job-retention.ts';
import { openJobStore, sqlitePath } from '../../../src/core/job-store.ts';
import { actor, harness, memoryLog } from '../../helpers/core-harness.ts';
import { job } from '../../helpers/job-store-contract.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10, 12); // noon, so "30 days" cuts through the middle of a day bucket

function clock(start: number) {
  const c = { t: start, now: () => c.t };
  return c;
}

async function finish(store: ReturnType<typeof openJobStore>, id: string, status: 'done' | 'failed' | 'cancelled', at: number) {
  await store.updateJob(id, (j) => ({ ...j, status, finishedAt: at }));
}

test('finished jobs past the retention are deleted with their images and grid; unfinished and younger ones stay', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'retention-'));
  const c = clock(T0);
  const store = openJobStore({ dataDir, now: c.now });
  for (const [i, id] of ['olddne', 'oldfld', 'oldcnc', 'latedy', 'newdne', 'queued', 'runnin'].entries()) {
    await store.createJob(job(id, i + 1, { createdAt: T0 - DAY }));
  }
  await finish(store, 'olddne', 'done', T0);
  await finish(store, 'oldfld', 'failed', T0 + 1000);
  await finish(store, 'oldcnc', 'cancelled', T0 + 2000);
  await finish(store, 'latedy', 'done', T0 + 6 * 3_600_000); // same UTC day, 6 h later
  await finish(store, 'newdne', 'done', T0 + 20 * DAY);
  await store.updateJob('runnin', (j) => ({ ...j, status: 'running' }));
  const png = new Uint8Array([137, 80, 78, 71]);
  for (const id of ['olddne', 'latedy']) {
    await store.putImages(id, [png, png, png, png]);
    await store.putImages(`${id}:grid`, [png]);
  }

  c.t = T0 + 30 * DAY + 3_600_000; // 30 days and 1 h after T0: the first three are past, `latedy` is not
  assert.equal(await store.pruneFinished(30 * DAY), 3);
  for (const id of ['olddne', 'oldfld', 'oldcnc']) assert.equal(await store.getJob(id), undefined, id);
  for (const i of [1, 2, 3, 4]) assert.equal(await store.getImage('olddne', i), undefined);
  assert.equal(await store.getImage('olddne:grid', 1), undefined);
  assert.deepEqual(await store.getImage('latedy', 4), png);
  assert.deepEqual(await store.getImage('latedy:grid', 1), png);
  assert.equal((await store.getJob('newdne'))?.status, 'done');
  assert.deepEqual((await store.pendingJobs()).map((j) => j.id), ['queued', 'runnin']);
  await store.close();

  // A restarted process on the same file picks up where the last prune stopped.
  c.t = T0 + 31 * DAY;
  const again = openJobStore({ dataDir, now: c.now });
  assert.equal(await again.pruneFinished(30 * DAY), 1);
  assert.equal(await again.getJob('latedy'), undefined);
  assert.equal(await again.getImage('latedy', 1), undefined);
  assert.equal(await again.pruneFinished(30 * DAY), 0);
  c.t = T0 + 51 * DAY;
  assert.equal(await again.pruneFinished(30 * DAY), 1, 'the job finished on day 20 goes on day 50');
  assert.deepEqual((await again.pendingJobs()).map((j) => j.id), ['queued', 'runnin'], 'unfinished jobs are never pruned');
  await again.close();
});

test('jobs finished before the retention index existed are found once and pruned', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'retention-legacy-'));
  // Written the way the previous version stored them: records and images only, no day index.
  const legacy = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${sqlitePath(dataDir)}` }), namespace: 'imagine-bot' });
  await legacy.set('job:legacy', job('legacy', 1, { status: 'done', createdAt: T0 - DAY, finishedAt: T0 }));
  await legacy.set('job:legnof', job('legnof', 2, { status: 'failed', createdAt: T0 })); // no finishedAt: its creation counts
  await legacy.set('job:legnew', job('legnew', 3, { status: 'done', createdAt: T0 + 25 * DAY, finishedAt: T0 + 25 * DAY }));
  await legacy.set('image:legacy:1', Buffer.from([1, 2]).toString('base64'));
  await legacy.disconnect();

  const store = openJobStore({ dataDir, now: () => T0 + 40 * DAY });
  assert.equal(await store.pruneFinished(30 * DAY), 2);
  assert.equal(await store.getJob('legacy'), undefined);
  assert.equal(await store.getJob('legnof'), undefined);
  assert.equal(await store.getImage('legacy', 1), undefined);
  assert.equal((await store.getJob('legnew'))?.status, 'done');
  await store.close();
});

test('the pruner runs at start and on its interval; 0 days keeps everything', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'retention-timer-'));
  const c = clock(T0);
  const store = openJobStore({ dataDir, now: c.now });
  await store.createJob(job('first1', 1));
  await store.createJob(job('second', 2));
  await finish(store, 'first1', 'done', T0);
  await finish(store, 'second', 'done', T0 + 2 * DAY);
  c.t = T0 + 3 * DAY;

  const off = startJobRetention({ store, retentionDays: 0, log: memoryLog().log });
  assert.equal(await off.pruneNow(), 0);
  await off.stop();
  assert.ok(await store.getJob('first1'), 'JOB_RETENTION_DAYS=0 keeps jobs forever');

  const { log, lines } = memoryLog();
  const pruner = startJobRetention({ store, retentionDays: 2, log, intervalMs: 20 });
  await pruner.pruneNow(); // joins the prune started at start
  assert.equal(await store.getJob('first1'), undefined);
  assert.ok(await store.getJob('second'));
  c.t = T0 + 5 * DAY;
  for (let i = 0; i < 200 && (await store.getJob('second')); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await store.getJob('second'), undefined, 'the interval prunes without being asked');
  await pruner.stop();
  assert.ok(lines.some((l) => /deleted finished jobs past the retention/.test(JSON.stringify(l))));
  await store.close();
});

test('a button on a pruned job answers privately that it was deleted and how to get a new one', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'retention-button-'));
  const first = await harness({ dataDir, config: { jobRetentionDays: 30 } });
  const { jobId } = await first.imagine(actor('ana'), 'a red fox --steps 2 --n 1');
  assert.ok(jobId);
  await first.settle(jobId);
  await first.close();

  const later = openJobStore({ dataDir, now: () => Date.now() + 31 * DAY });
  assert.equal(await later.pruneFinished(30 * DAY), 1);
  await later.close();

  const second = await harness({ dataDir, config: { jobRetentionDays: 30 } });
  try {
    const { reply } = await second.press(actor('ana'), `ib:${jobId}:u1`);
    assert.equal(reply.calls.at(-1), 'ephemeral');
    assert.equal(reply.lastText, `Job \`${jobId}\` no longer exists: finished jobs are deleted after 30 days. Run /imagine again.`);
    assert.equal(second.engine.calls.length, 0);
  } finally {
    await second.close();
  }
});
