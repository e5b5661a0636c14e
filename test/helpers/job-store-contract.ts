// One body of store round trips for every backend (SQLite file, Redis server): `open()` returns a new JobStore on
// the same underlying data each call, so a second call stands for a restarted process.
import assert from 'node:assert/strict';
import type { JobStore } from '../../src/core/job-store.ts';
import type { JobRecord } from '../../src/core/types.ts';

export function job(id: string, seq: number, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    seq,
    platform: 'discord',
    guildId: '123',
    channelId: '456',
    ownerId: '789',
    ownerName: 'Ana',
    kind: 'upscale',
    params: {
      prompt: 'a fox',
      negativePrompt: 'snow',
      width: 128,
      height: 96,
      numInferenceSteps: 20,
      guidanceScale: 7.5,
      seed: 4294967295,
      numImagesPerPrompt: 1,
      scheduler: 'EulerAncestralDiscreteScheduler',
      strength: 0.3,
      initImage: { jobId: 'parent', index: 2 },
      aspectRatio: '4:3',
      sampler: 'euler_a',
    },
    parent: { jobId: 'parent', action: 'U2' },
    priority: 1,
    status: 'queued',
    createdAt: 1700000000000,
    message: { platform: 'discord', channelId: '456', messageId: '999', data: { token: 'tok', expiresAt: 1, ephemeral: false, none: null } },
    attempts: 0,
    completions: 0,
    ...extra,
  };
}

/** Jobs, images, settings, the pending order and the sequence survive closing one store and opening another. */
export async function roundTripAcrossRestart(open: () => JobStore): Promise<void> {
  const first = open();
  assert.equal(await first.nextSeq(), 1);
  assert.equal(await first.nextSeq(), 2);
  const ids = [await first.newJobId(), await first.newJobId()];
  for (const id of ids) assert.match(id, /^[0-9a-hjkmnp-tv-z]{6}$/);
  await first.createJob(job('aaaaaa', 5));
  await first.createJob(job('bbbbbb', 3));
  await first.createJob(job('cccccc', 4));
  await first.updateJob('aaaaaa', (j) => ({ ...j, status: 'running', attempts: 1 }));
  await first.updateJob('cccccc', (j) => ({ ...j, status: 'done', completions: 1, seeds: [7] }));
  const png = new Uint8Array([137, 80, 78, 71, 0, 255, 1]);
  await first.putImages('cccccc', [png, new Uint8Array([1])]);
  await first.setUserSettings('discord', '789', { aspectRatio: '3:2', numInferenceSteps: 12 });
  await first.setGuildSettings('discord', '123', { bannedWords: ['x'], guidanceScale: 4 });
  await first.setMsPerUnit(123.5);
  await first.close();

  const second = open();
  assert.deepEqual(await second.getJob('bbbbbb'), job('bbbbbb', 3));
  assert.deepEqual((await second.pendingJobs()).map((j) => [j.id, j.status]), [['bbbbbb', 'queued'], ['aaaaaa', 'running']]);
  assert.deepEqual(await second.getImage('cccccc', 1), png);
  assert.deepEqual(await second.getImage('cccccc', 2), new Uint8Array([1]));
  assert.equal(await second.getImage('cccccc', 3), undefined);
  assert.deepEqual(await second.userSettings('discord', '789'), { aspectRatio: '3:2', numInferenceSteps: 12 });
  assert.deepEqual(await second.guildSettings('discord', '123'), { bannedWords: ['x'], guidanceScale: 4 });
  assert.deepEqual(await second.userSettings('slack', '789'), {});
  assert.equal(await second.msPerUnit(), 123.5);
  assert.equal(await second.nextSeq(), 3, 'the sequence continues after a restart');
  assert.equal((await second.getJob('cccccc'))?.completions, 1);
  await second.close();
}

/** Within one process, concurrent read-modify-writes and sequence draws are serialised (none lost, none repeated). */
export async function concurrentUpdatesAreSerialised(store: JobStore): Promise<void> {
  await store.createJob(job('dddddd', 1));
  await Promise.all(Array.from({ length: 25 }, () => store.updateJob('dddddd', (j) => ({ ...j, attempts: j.attempts + 1 }))));
  assert.equal((await store.getJob('dddddd'))?.attempts, 25);
  // Concurrent creates and finishes must not drop each other's pending-index edits.
  const ids = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(5, '0')}`);
  await Promise.all(ids.map((id, i) => store.createJob(job(id, 100 + i))));
  await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id) => store.updateJob(id, (j) => ({ ...j, status: 'done' }))));
  assert.deepEqual(
    (await store.pendingJobs()).map((j) => j.id),
    ['dddddd', ...ids.filter((_, i) => i % 2 === 1)],
  );
  const seqs = await Promise.all(Array.from({ length: 20 }, () => store.nextSeq()));
  assert.equal(new Set(seqs).size, 20);
  assert.equal(await store.updateJob('missing', (j) => j), undefined);
  await store.close();
}

/** Retention on this backend: an expired finished job goes with its images; a younger one and a queued one stay. */
export async function pruneRoundTrip(open: (now: () => number) => JobStore): Promise<void> {
  const day = 86_400_000;
  const t0 = Date.UTC(2026, 2, 1, 12);
  let t = t0;
  const store = open(() => t);
  await store.createJob(job('prune1', 1));
  await store.createJob(job('keep01', 2));
  await store.createJob(job('queue1', 3, { createdAt: t0 - 90 * day }));
  await store.updateJob('prune1', (j) => ({ ...j, status: 'done', finishedAt: t0 }));
  await store.updateJob('keep01', (j) => ({ ...j, status: 'failed', finishedAt: t0 + 5 * day }));
  await store.putImages('prune1', [new Uint8Array([1]), new Uint8Array([2])]);
  await store.putImages('prune1:grid', [new Uint8Array([3])]);
  t = t0 + 31 * day;
  assert.equal(await store.pruneFinished(30 * day), 1);
  assert.equal(await store.getJob('prune1'), undefined);
  assert.equal(await store.getImage('prune1', 2), undefined);
  assert.equal(await store.getImage('prune1:grid', 1), undefined);
  assert.equal((await store.getJob('keep01'))?.status, 'failed');
  assert.deepEqual((await store.pendingJobs()).map((j) => j.id), ['queue1']);
  await store.close();
}
