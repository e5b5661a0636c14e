import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairDispatcher, type JobRunner } from '../../../src/core/dispatcher.ts';
import { BotError } from '../../../src/core/errors.ts';
import type { JobRecord } from '../../../src/core/types.ts';
import { actor, harness } from '../../helpers/core-harness.ts';

let seq = 0;
function job(id: string, guildId: string, ownerId = `u-${id}`, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    seq: ++seq,
    platform: 'web',
    guildId,
    channelId: 'c',
    ownerId,
    kind: 'imagine',
    params: { prompt: id, negativePrompt: '', width: 512, height: 512, numInferenceSteps: 10, guidanceScale: 7, seed: 1, numImagesPerPrompt: 1 },
    priority: 0,
    status: 'queued',
    createdAt: 0,
    attempts: 0,
    completions: 0,
    ...extra,
  };
}

/** A runner whose jobs finish when the test says so. */
function manualRunner() {
  const started: string[] = [];
  const finish = new Map<string, (status?: 'done') => void>();
  const signals = new Map<string, AbortSignal>();
  const run: JobRunner = (j, signal) =>
    new Promise((resolve) => {
      started.push(j.id);
      signals.set(j.id, signal);
      finish.set(j.id, () => resolve('done'));
      signal.addEventListener('abort', () => resolve('cancelled'));
    });
  return { run, started, finish: (id: string) => finish.get(id)!(), signals };
}

const tick = () => new Promise((r) => setTimeout(r, 1));
const limits = { maxPerUser: 1000, maxPerGuild: 1000, maxTotal: 10_000, jobTimeoutMs: 60_000 };

test('one engine slot, fed fairly: B\'s single job starts right after A\'s running one', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits });
  for (let i = 0; i < 100; i++) await d.enqueue(job(`a${i}`, 'A'));
  await d.enqueue(job('b0', 'B'));
  assert.deepEqual(r.started, ['a0']);
  assert.equal((await d.position('b0'))?.position, 1);
  assert.equal((await d.position('a1'))?.position, 2);
  assert.deepEqual(await d.depth(), { running: 1, queued: 100, byGuild: { 'web:A': 99, 'web:B': 1 } });
  r.finish('a0');
  await tick();
  assert.deepEqual(r.started, ['a0', 'b0']);
  r.finish('b0');
  await tick();
  assert.deepEqual(r.started, ['a0', 'b0', 'a1']);
});

test('limits per user, per guild and in total reject with a clear message', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, maxPerUser: 3, maxPerGuild: 5, maxTotal: 8, jobTimeoutMs: 60_000 });
  for (let i = 0; i < 3; i++) await d.enqueue(job(`x${i}`, 'G', 'ana'));
  await assert.rejects(d.enqueue(job('x3', 'G', 'ana')), (e: unknown) => {
    assert.ok(e instanceof BotError);
    assert.equal(e.code, 'bot_limit_user');
    assert.equal(e.userMessage, 'You already have 3 jobs queued or running (the limit is 3). Wait for one to finish, or cancel one with /cancel.');
    return true;
  });
  await d.enqueue(job('y0', 'G', 'bob'));
  await d.enqueue(job('y1', 'G', 'bob'));
  await assert.rejects(d.enqueue(job('y2', 'G', 'cy')), (e: unknown) => e instanceof BotError && e.code === 'bot_limit_guild' && /This server already has 5 jobs/.test(e.userMessage));
  for (let i = 0; i < 3; i++) await d.enqueue(job(`z${i}`, `H${i}`));
  await assert.rejects(d.enqueue(job('z9', 'H9')), (e: unknown) => e instanceof BotError && e.code === 'bot_queue_full' && /at capacity \(8 jobs/.test(e.userMessage));
  // Finishing the running job frees its owner's slot.
  r.finish('x0');
  await tick();
  await d.enqueue(job('x4', 'G2', 'ana'));
});

test('cancel removes a queued job, aborts a running one, and touches nothing else', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits });
  await d.enqueue(job('a', 'G'));
  await d.enqueue(job('b', 'G'));
  await d.enqueue(job('c', 'G'));
  assert.equal(await d.cancel('b', 'ana'), 'removed');
  assert.equal(await d.cancel('a', 'ana'), 'aborted');
  const reason = r.signals.get('a')!.reason;
  assert.ok(reason instanceof BotError && reason.code === 'bot_cancelled');
  assert.equal(await d.cancel('nope', 'ana'), 'missing');
  await tick();
  assert.deepEqual(r.started, ['a', 'c']);
  assert.equal(r.signals.get('c')!.aborted, false);
});

test('a job past its time limit is aborted with bot_timeout and the queue goes on', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits, jobTimeoutMs: 30 });
  await d.enqueue(job('slow', 'G'));
  await d.enqueue(job('next', 'G'));
  await new Promise((resolve) => setTimeout(resolve, 80));
  const reason = r.signals.get('slow')!.reason;
  assert.ok(reason instanceof BotError && reason.code === 'bot_timeout', String(reason));
  assert.match(reason.userMessage, /longer than the limit of 0 s/);
  assert.deepEqual(r.started, ['slow', 'next']);
});

test('ETA: unknown until a job was measured, then the moving average times the work ahead', async () => {
  const r = manualRunner();
  const d = new FairDispatcher({ run: r.run, ...limits });
  await d.enqueue(job('a', 'G'));
  await d.enqueue(job('b', 'G'));
  await d.enqueue(job('c', 'G', 'u', { params: { ...job('x', 'G').params, numInferenceSteps: 20 } }));
  assert.equal((await d.position('b'))?.etaMs, undefined);
  await new Promise((resolve) => setTimeout(resolve, 40));
  r.finish('a');
  await tick();
  const perUnit = d.msPerUnit!;
  assert.ok(perUnit >= 3.5 && perUnit < 100, `${perUnit} ms per step`); // ~40 ms over 10 steps (more on a busy machine)
  const c = (await d.position('c'))!;
  assert.equal(c.position, 1);
  // b is running (10 units, partly done); c is 20 units.
  assert.ok(c.etaMs! > perUnit * 20 && c.etaMs! <= perUnit * 30 + 1, `${c.etaMs}`);
  assert.deepEqual(c.ahead, []);
});

test('through the core: only the owner or an admin of that guild may cancel; a stranger is refused', async () => {
  const h = await harness({ engine: { stepMs: 15 } });
  try {
    const ana = actor('ana', 'g1');
    const running = await h.imagine(ana, 'one --steps 40');
    const queued = await h.imagine(ana, 'two --steps 3');
    const stranger = await h.press(actor('eve', 'g1'), `ib:${queued.jobId}:x`);
    assert.match(stranger.reply.lastText!, /Only the person who started/);
    const foreignAdmin = await h.command(actor('root', 'g2', { isAdmin: true }), 'cancel', { job: queued.jobId! });
    assert.match(foreignAdmin.lastText!, /Only the person who started/);
    const own = await h.command(ana, 'cancel', { job: queued.jobId! });
    assert.equal(own.lastText, `Cancelled \`${queued.jobId}\`; it was still queued.`);
    const admin = await h.press(actor('root', 'g1', { isAdmin: true }), `ib:${running.jobId}:x`);
    assert.equal(admin.reply.lastText, `Stopping \`${running.jobId}\` at its next step.`);
    await h.settle(running.jobId!, queued.jobId!);
    const a = (await h.store.getJob(running.jobId!))!;
    const b = (await h.store.getJob(queued.jobId!))!;
    assert.deepEqual([a.status, a.cancelledBy, b.status, b.cancelledBy], ['cancelled', 'root', 'cancelled', 'ana']);
    assert.equal(h.surface.messageOf(running.jobId!)!.views.at(-1)!.status, 'Cancelled by an admin');
    assert.equal(h.surface.messageOf(queued.jobId!)!.views.at(-1)!.state, 'cancelled');
    assert.equal(h.engine.calls.length, 1, 'the cancelled queued job never ran');
    const again = await h.command(ana, 'cancel', { job: queued.jobId! });
    assert.match(again.lastText!, /already cancelled/);
    const nothing = await h.command(ana, 'cancel');
    assert.equal(nothing.lastText, 'You have no queued or running jobs to cancel.');
  } finally {
    await h.close();
  }
});

test('through the core: the time limit fails the job with a message that says why', async () => {
  const h = await harness({ engine: { stepMs: 20 }, config: { jobTimeoutMs: 60 } });
  try {
    const { jobId } = await h.imagine(actor('ana'), 'slow --steps 50');
    await h.settle(jobId!);
    const stored = (await h.store.getJob(jobId!))!;
    assert.equal(stored.status, 'failed');
    assert.equal(stored.error?.code, 'bot_timeout');
    const last = h.surface.messageOf(jobId!)!.views.at(-1)!;
    assert.equal(last.state, 'failed');
    assert.match(last.status, /took longer than the limit/);
    assert.deepEqual(last.state === 'failed' && last.buttons.map((r) => r.map((b) => b.id)), [[`ib:${jobId}:rr`]]);
  } finally {
    await h.close();
  }
});

test('through the core: follow-ups (U/V/🔄) go before new prompts in a guild; config and guild role boosts apply', async () => {
  const h = await harness({ engine: { stepMs: 5 }, config: { queueRolePriority: { vip: 5 }, queueMaxPerUser: 10 } });
  try {
    const ana = actor('ana', 'g1');
    const first = await h.imagine(ana, 'seed job --steps 2');
    await h.settle(first.jobId!);
    const done = h.surface.messageOf(first.jobId!)!.views.at(-1)!;
    assert.equal(done.state, 'done');
    if (done.state !== 'done') return;
    const saved = await h.command(actor('root', 'g1', { isAdmin: true }), 'settings', { scope: 'guild', role_boost: 'mods=3' });
    assert.match(saved.lastText!, /Saved/);
    const blocker = await h.imagine(ana, 'blocker --steps 80');
    const p1 = await h.imagine(ana, 'plain one --steps 2');
    const p2 = await h.imagine(ana, 'plain two --steps 2');
    const up = await h.press(ana, done.buttons[0][0].id);
    const vip = await h.imagine(actor('vic', 'g1', { roles: ['vip'] }), 'vip --steps 2');
    const mod = await h.imagine(actor('mo', 'g1', { roles: ['mods', 'other'] }), 'mod --steps 2');
    const ids = [blocker, p1, p2, up, vip, mod].map((x) => x.jobId!);
    await h.settle(...ids);
    const started = await Promise.all(ids.map(async (id) => (await h.store.getJob(id))!.startedAt!));
    const order = ids.slice().sort((a, b) => started[ids.indexOf(a)] - started[ids.indexOf(b)]);
    assert.deepEqual(order, [blocker.jobId, vip.jobId, mod.jobId, up.jobId, p1.jobId, p2.jobId]);
  } finally {
    await h.close();
  }
});

test('through the core: the job-time average survives a restart, so ETAs are known at once', async () => {
  const first = await harness({ engine: { stepMs: 5 } });
  const { jobId } = await first.imagine(actor('ana'), 'measure me --steps 4');
  await first.settle(jobId!);
  const measured = first.core.dispatcher.msPerUnit!;
  assert.ok(measured > 0);
  await first.close();
  const second = await harness({ dataDir: first.dataDir, engine: { stepMs: 5 } });
  try {
    assert.equal(second.core.dispatcher.msPerUnit, measured);
    const a = await second.imagine(actor('bob'), 'one --steps 40');
    const b = await second.imagine(actor('bob'), 'two --steps 4');
    const at = await second.core.dispatcher.position(b.jobId!);
    assert.equal(at?.position, 1);
    assert.ok(at?.etaMs !== undefined && at.etaMs > 0);
    await second.settle(a.jobId!, b.jobId!);
  } finally {
    await second.close();
  }
});
