// Cross-job batching in the dispatcher: compatible jobs that come next in the fair order start together (the engine
// side, withJobBatching, turns their generate calls into one UNet batch). Fair order is unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairDispatcher, type JobRunner } from '../../../src/core/dispatcher.ts';
import type { JobRecord } from '../../../src/core/types.ts';

let seq = 0;
function job(id: string, guildId: string, size = 512): JobRecord {
  return {
    id,
    seq: ++seq,
    platform: 'web',
    guildId,
    channelId: 'c',
    ownerId: `u-${id}`,
    kind: 'imagine',
    params: { prompt: id, negativePrompt: '', width: size, height: size, numInferenceSteps: 10, guidanceScale: 7, seed: 1, numImagesPerPrompt: 1 },
    priority: 0,
    status: 'queued',
    createdAt: 0,
    attempts: 0,
    completions: 0,
  };
}

function manualRunner() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const run: JobRunner = (j, signal) =>
    new Promise((resolve) => {
      started.push(j.id);
      finish.set(j.id, () => resolve('done'));
      signal.addEventListener('abort', () => resolve('cancelled'));
    });
  return { run, started, finish: (id: string) => finish.get(id)!() };
}

const tick = () => new Promise((r) => setTimeout(r, 1));
const limits = { maxPerUser: 1000, maxPerGuild: 1000, maxTotal: 10_000, jobTimeoutMs: 60_000 };
const key = (j: JobRecord) => `${j.params.width}x${j.params.height}/${j.params.numInferenceSteps}`;

/** Queues `jobs` behind a running blocker job, then lets them start: they see the whole queue at once. */
async function queued(d: FairDispatcher, r: ReturnType<typeof manualRunner>, jobs: JobRecord[]): Promise<void> {
  await d.enqueue(job('blocker', 'Z', 64));
  for (const j of jobs) await d.enqueue(j);
  assert.deepEqual(r.started, ['blocker']);
  r.finish('blocker');
  await tick();
}

test('compatible jobs next in the fair order start together, up to the max; the order stays the fair one', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits, batch: { max: 3, key } });
  // Fair order alternates guilds: a0 b0 a1 b1 a2 (b2 is 256², a different key) a3.
  await queued(d, r, [job('a0', 'A'), job('a1', 'A'), job('a2', 'A'), job('a3', 'A'), job('b0', 'B'), job('b1', 'B'), job('b2', 'B', 256)]);
  assert.deepEqual(r.started, ['blocker', 'a0', 'b0', 'a1']);
  assert.deepEqual(await d.depth(), { running: 3, queued: 4, byGuild: { 'web:A': 2, 'web:B': 2 } });
  // Nothing new starts until the whole batch is done.
  r.finish('a0');
  r.finish('b0');
  await tick();
  assert.equal(r.started.length, 4);
  r.finish('a1');
  await tick();
  // Next: b1, a2 share the key; b2 (256²) does not, so the batch stops there rather than skip ahead of it.
  assert.deepEqual(r.started.slice(4), ['b1', 'a2']);
  r.finish('b1');
  r.finish('a2');
  await tick();
  assert.deepEqual(r.started.slice(6), ['b2']);
  r.finish('b2');
  await tick();
  assert.deepEqual(r.started.slice(7), ['a3']);
});

test('the start order with batching equals the order without it', async () => {
  const mixed = () => [
    ...Array.from({ length: 6 }, (_, i) => job(`a${i}`, 'A', i % 3 === 2 ? 256 : 512)),
    ...Array.from({ length: 4 }, (_, i) => job(`b${i}`, 'B')),
    ...Array.from({ length: 3 }, (_, i) => job(`c${i}`, 'C', 256)),
  ];
  const orders: string[][] = [];
  for (const batch of [undefined, { max: 4, key }]) {
    const r = manualRunner();
    const d = new FairDispatcher({ run: r.run, ...limits, ...(batch ? { batch } : {}) });
    await queued(d, r, mixed());
    while (r.started.length < 14) {
      for (const id of r.started) if (id !== 'blocker') r.finish(id);
      await tick();
    }
    orders.push(r.started);
  }
  assert.deepEqual(orders[1], orders[0]);
});

test('without a batch option, or a job without a key, jobs run one at a time', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits, batch: { max: 4, key: (j) => (j.params.width === 512 ? undefined : key(j)) } });
  await queued(d, r, [job('a0', 'A'), job('a1', 'A')]);
  assert.deepEqual(r.started, ['blocker', 'a0']);
  r.finish('a0');
  await tick();
  assert.deepEqual(r.started, ['blocker', 'a0', 'a1']);
});

test('a batch shares its time among its jobs in the ETA average (each ran for 1/n of it)', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits, batch: { max: 3, key } });
  await d.enqueue(job('blocker', 'Z', 64));
  for (const id of ['a0', 'b0', 'c0']) await d.enqueue(job(id, id.toUpperCase()));
  const startedAt = performance.now();
  r.finish('blocker');
  await tick();
  assert.deepEqual(r.started.slice(1), ['a0', 'b0', 'c0']);
  const before = d.msPerUnit!;
  await new Promise((resolve) => setTimeout(resolve, 90));
  r.finish('a0');
  await tick();
  const elapsed = performance.now() - startedAt;
  // First measured job of the batch: 10 steps of one 512² image = 10 units, over a third of the batch's time.
  const sample = (d.msPerUnit! - 0.7 * before) / 0.3;
  assert.ok(sample >= 90 / 3 / 10 - 0.01 && sample <= elapsed / 3 / 10 + 0.01, `ms per unit ${sample}, batch took ${elapsed} ms`);
});
