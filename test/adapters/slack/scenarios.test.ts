// End to end in Slack: the real Bolt app (through the Slack adapter) on the fake Slack, the real core with its SQLite
// job store, and the real engine on a model. Each scenario is what a user would do in a workspace.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../../../engine/index.ts';
import { pngSize } from '../../fakes/slack/web-api.ts';
import type { FakeMessage } from '../../fakes/slack/state.ts';
import { actionIds, imageFileId, signingSecret } from './harness.ts';
import { finalMessage, imagine, jobIdOf, startEngine, startWorld, statusOf, type World } from './world.ts';

let engine: Engine;
before(async () => {
  engine = await startEngine();
});
after(() => engine.close());

const CH = 'C0000000A';

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Presses a button on a message and returns the id of the job it started. */
async function press(w: World, message: FakeMessage, actionId: string, userId = 'U0000ALICE'): Promise<string> {
  const before = new Set(w.h.fake.channelMessages(message.channel).map((m) => m.ts));
  const ack = await w.h.fake.deliver(w.h.fake.blockActions({ channel: message.channel, ts: message.ts, actionId, userId }));
  assert.ok(ack, `${actionId} acked`);
  const child = await w.h.fake.waitFor(() => w.h.fake.channelMessages(message.channel).find((m) => !before.has(m.ts)), 10_000, `the job of ${actionId}`);
  return jobIdOf(child)!;
}

function fileOf(w: World, message: FakeMessage): { bytes: Buffer; width: number; height: number } {
  const file = w.h.fake.files.get(imageFileId(message.blocks)!)!;
  return { bytes: file.bytes!, ...pngSize(file.bytes)! };
}

describe('Slack end to end (Socket Mode, real core and engine)', () => {
  let w: World;
  let grid: FakeMessage;
  before(async () => {
    w = await startWorld(engine, { fake: { admins: ['U0000ADMIN'] } });
  });
  after(() => w.close());

  test('/imagine: queued → progress with previews → the 2×2 grid with U1–U4, 🔄, V1–V4', async () => {
    const id = await imagine(w, 'a red circle on blue --steps 150 --seed 42', { userId: 'U0000ALICE' });
    grid = await finalMessage(w, CH, id);
    assert.match(statusOf(grid), /^Done in/);
    assert.match(grid.history[0].text!, /Queued/);
    const withPreview = grid.history.filter((v) => /Step \d+\/\d+/.test(v.text ?? '') && imageFileId(v.blocks));
    assert.ok(withPreview.length >= 1, `a preview was shown (${grid.history.map((v) => v.text).join(' | ')})`);
    const { width, height } = fileOf(w, grid);
    const { width: w1, height: h1 } = engine.info;
    assert.deepEqual([width, height], [2 * w1, 2 * h1], `four ${w1}×${h1} images in a grid`);
    assert.deepEqual(actionIds(grid.blocks), [
      [`ib:${id}:u1`, `ib:${id}:u2`, `ib:${id}:u3`, `ib:${id}:u4`, `ib:${id}:rr`],
      [`ib:${id}:v1`, `ib:${id}:v2`, `ib:${id}:v3`, `ib:${id}:v4`],
    ]);
    // Edits kept Slack's pace: never two chat.updates of this message closer than the interval.
    const updates = w.h.fake.callsTo('chat.update').filter((c) => c.args.ts === grid.ts);
    const gaps = updates.slice(1).map((u, i) => u.at - updates[i].at);
    assert.ok(gaps.every((g) => g >= 90), `gaps ${gaps}`);
    assert.deepEqual(w.h.fake.failures, []);
    assert.deepEqual(
      w.h.fake.calls.filter((c) => c.schemaErrors.length > 0),
      [],
    );
  });

  test('every button kind starts its job: U2 → upscale (Vary/Upscale/🔄), V1 → variations, 🔄 → reroll', async () => {
    const gridId = jobIdOf(grid)!;
    const upscaleId = await press(w, grid, `ib:${gridId}:u2`);
    const upscaled = await finalMessage(w, CH, upscaleId);
    assert.match(statusOf(upscaled), /^Done in .*\(U2 of/);
    assert.deepEqual([fileOf(w, upscaled).width, fileOf(w, upscaled).height], [2 * engine.info.width, 2 * engine.info.height], 'image 2 at twice its size');
    assert.deepEqual(actionIds(upscaled.blocks), [[`ib:${upscaleId}:vs`, `ib:${upscaleId}:vt`, `ib:${upscaleId}:up`, `ib:${upscaleId}:rr`]]);

    const variationId = await press(w, grid, `ib:${gridId}:v1`);
    const reroll = await press(w, grid, `ib:${gridId}:rr`);
    // Other users press the rest: one user may have at most 3 jobs queued or running.
    const strong = await press(w, upscaled, `ib:${upscaleId}:vs`, 'U0000BOB01');
    const subtle = await press(w, upscaled, `ib:${upscaleId}:vt`, 'U0000ANN01');
    const again = await press(w, upscaled, `ib:${upscaleId}:up`, 'U0000CAROL');
    const kinds: [string, string][] = [
      [variationId, 'V1'],
      [reroll, '🔄'],
      [strong, 'Vary \\(Strong\\)'],
      [subtle, 'Vary \\(Subtle\\)'],
      [again, 'Upscale 2×'],
    ];
    for (const [id, label] of kinds) {
      const m = await finalMessage(w, CH, id);
      assert.match(statusOf(m), new RegExp(`^Done in .*\\(${label} of`), `${label}: ${statusOf(m)}`);
      assert.ok(imageFileId(m.blocks), `${label} shows its image`);
    }
    assert.deepEqual(w.h.fake.failures, []);
  });

  test('two workspaces queuing at once are served in fair order', async () => {
    const A = { teamId: 'T0000000A', channelId: CH };
    const B = { teamId: 'T0000000B', channelId: 'C0000000B' };
    // a1 holds the engine (gated) until the others have arrived, whatever the machine's load.
    w.engine.hold();
    const startedBefore = w.engine.started;
    assert.ok(await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'fair a1 --steps 4', userId: 'U0000ALICE', ...A })));
    await w.h.fake.waitFor(() => w.engine.started === startedBefore + 1, 10_000, 'a1 to start');
    const acks = await Promise.all([
      w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'fair a2 --steps 4', userId: 'U0000ALICE', ...A })),
      w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'fair a3 --steps 4', userId: 'U0000ANN01', ...A })),
      w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'fair b1 --steps 4', userId: 'U0000BOB01', ...B })),
    ]);
    assert.ok(acks.every(Boolean));
    await until(async () => (await w.core.bot.services.jobs.depth()).queued === 3, 'three jobs queued');
    w.engine.release();
    const find = (prompt: string) =>
      w.h.fake.waitFor(() => w.h.fake.messages.find((m) => !m.ephemeralTo && m.text?.startsWith(prompt) && jobIdOf(m)), 10_000, prompt);
    const ids: Record<string, string> = {};
    for (const p of ['fair a1', 'fair a2', 'fair a3', 'fair b1']) ids[p] = jobIdOf(await find(p))!;
    for (const [p, id] of Object.entries(ids)) await finalMessage(w, p === 'fair b1' ? 'C0000000B' : CH, id);
    const started: Record<string, number> = {};
    for (const [p, id] of Object.entries(ids)) started[p] = (await w.core.store.getJob(id))!.startedAt!;
    const order = Object.keys(started).sort((x, y) => started[x] - started[y]);
    assert.equal(order[0], 'fair a1');
    assert.equal(order[1], 'fair b1', `workspace B's only job goes before A's second and third: ${order}`);
    assert.equal((await w.core.store.getJob(ids['fair b1']))!.guildId, 'T0000000B');
  });

  test('cancel: a stranger is refused, the owner cancels, an admin cancels, the messages say so', async () => {
    // The first job holds the engine (gated), so the second surely waits in the queue meanwhile.
    w.engine.hold();
    const blocker = await imagine(w, 'cancel blocker --steps 4', { userId: 'U0000ALICE' });
    const victim = await imagine(w, 'cancel victim --steps 4', { userId: 'U0000ALICE' });
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine-cancel', text: victim, userId: 'U0000MALLO' }));
    await w.h.fake.waitFor(() => w.h.fake.ephemeralsFor('U0000MALLO').length === 1, 5000, 'the refusal');
    assert.match(w.h.fake.ephemeralsFor('U0000MALLO')[0].text!, /⚠️/);
    assert.equal((await w.core.store.getJob(victim))!.status, 'queued');

    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine-cancel', text: victim, userId: 'U0000ALICE' }));
    const cancelled = await finalMessage(w, CH, victim);
    assert.match(statusOf(cancelled), /^Cancelled/);
    await w.h.fake.waitFor(() => /Cancelled `/.test(w.h.fake.ephemeralsFor('U0000ALICE').at(-1)?.text ?? ''), 5000, 'the confirmation');
    assert.equal((await w.core.store.getJob(victim))!.status, 'cancelled');
    // A workspace admin (users.info is_admin) may stop someone else's running job.
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine-cancel', text: blocker, userId: 'U0000ADMIN' }));
    await w.h.fake.waitFor(() => w.h.fake.ephemeralsFor('U0000ADMIN').length === 1, 5000, 'the admin confirmation');
    w.engine.release();
    assert.match(statusOf(await finalMessage(w, CH, blocker)), /^Cancelled by an admin/);
  });

  test('bad flags are answered privately and start nothing', async () => {
    const channelBefore = w.h.fake.channelMessages(CH).length;
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'a cat --steps abc', userId: 'U0000FLAGS' }));
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'a cat --wat 3', userId: 'U0000FLAGS' }));
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine-settings', text: 'steps=abc', userId: 'U0000FLAGS' }));
    await w.h.fake.waitFor(() => w.h.fake.ephemeralsFor('U0000FLAGS').length === 3, 5000, 'three errors');
    const texts = w.h.fake.ephemeralsFor('U0000FLAGS').map((m) => m.text!);
    assert.match(texts[0], /--steps.*abc/);
    assert.match(texts[1], /--wat/);
    assert.match(texts[2], /steps/);
    assert.equal(w.h.fake.channelMessages(CH).length, channelBefore);
  });

  test('/imagine-help names the commands as Slack registers them (/imagine-settings, /imagine-cancel)', async () => {
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine-help', text: '', userId: 'U0000HELPS' }));
    await w.h.fake.waitFor(() => w.h.fake.ephemeralsFor('U0000HELPS').length === 1, 5000, 'the help');
    const help = w.h.fake.ephemeralsFor('U0000HELPS')[0].text!;
    assert.match(help, /Example: \/imagine a lighthouse/);
    assert.match(help, /^\/imagine-settings: .*\n\/imagine-show: .*\n\/imagine-queue: .*\n\/imagine-cancel: /m);
    assert.doesNotMatch(help, /(^|\s)\/(settings|show|queue|cancel|help)\b/);
  });

  test('in a channel the bot cannot post to, the user is told privately how to fix it', async () => {
    await w.h.fake.deliver(w.h.fake.slashCommand({ command: '/imagine', text: 'locked out --steps 4', userId: 'U0000GUEST', channelId: 'C0LOCKED1' }));
    await w.h.fake.waitFor(() => w.h.fake.ephemeralsFor('U0000GUEST').length > 0, 5000, 'the explanation');
    // One answer, from the core: the adapter's how-to plus the job's cancellation (it does not run unseen).
    assert.match(w.h.fake.ephemeralsFor('U0000GUEST')[0].text!, /\/invite @imagine-bot.*Job `\w+` was cancelled/s);
    assert.equal(w.h.fake.ephemeralsFor('U0000GUEST').length, 1);
    assert.equal(w.h.fake.callsTo('chat.postMessage').at(-1)?.response?.error, 'channel_not_found');
  });

  test('429 and 5xx injected on the way are waited out and retried; the grid still arrives', async () => {
    w.h.fake.inject('chat.postMessage', { status: 500 });
    w.h.fake.inject('chat.update', { status: 429, retryAfter: 1 });
    w.h.fake.inject('files.completeUploadExternal', { status: 503 });
    const id = await imagine(w, 'resilient --steps 20', { userId: 'U0000ALICE' });
    const m = await finalMessage(w, CH, id);
    assert.ok(imageFileId(m.blocks));
    const statuses = (method: string) => w.h.fake.callsTo(method).map((c) => c.status);
    assert.ok(statuses('chat.postMessage').includes(500) && statuses('chat.update').includes(429) && statuses('files.completeUploadExternal').includes(503));
    assert.deepEqual(w.h.fake.failures, []);
  });

  test('after a restart between the grid and a button press, the old buttons still work', async () => {
    const id = await imagine(w, 'before restart --steps 10', { userId: 'U0000ALICE' });
    const m = await finalMessage(w, CH, id);
    const connections = w.h.fake.socketMode.connections;
    await w.restart();
    assert.equal(w.h.fake.socketMode.connections, connections + 1, 'a new process connected');
    const child = await press(w, m, `ib:${id}:v3`);
    assert.match(statusOf(await finalMessage(w, CH, child)), new RegExp(`^Done in .*\\(V3 of ${id}\\)`));
  });
});

describe('Slack across a restart with work in the queue', () => {
  let w: World;
  before(async () => {
    w = await startWorld(engine);
  });
  after(() => w.close());

  test('the running job finishes before the stop, the queued one runs after the start and finishes in its own message', async () => {
    w.engine.hold();
    const running = await imagine(w, 'restart running --steps 4', { userId: 'U0000ALICE' });
    const queued = await imagine(w, 'restart queued --steps 4', { userId: 'U0000BOB01' });
    const queuedTs = w.h.fake.channelMessages(CH).find((m) => jobIdOf(m) === queued)!.ts;
    // The drained job's grid must reach Slack before the adapter stops (src/shutdown.ts does not wait for it yet).
    const restarting = w.restart([running]);
    w.engine.release();
    await restarting;
    assert.match(statusOf(await finalMessage(w, CH, running)), /^Done/);
    const after = await finalMessage(w, CH, queued);
    assert.equal(after.ts, queuedTs, 'the new process edited the message the old one posted');
    assert.match(statusOf(after), /^Done/);
    assert.ok(imageFileId(after.blocks));
    assert.equal(w.h.fake.channelMessages(CH).length, 2);
    assert.deepEqual(w.h.fake.failures, []);
  });
});

describe('Slack end to end in HTTP mode', () => {
  let w: World;
  before(async () => {
    w = await startWorld(engine, { mode: 'http' });
  });
  after(() => w.close());

  test('a good signature runs the job; bad and stale signatures get 401 and start nothing', async () => {
    const url = w.h.adapter.eventsUrl!;
    const bad = await w.h.fake.deliverHttp(url, signingSecret, w.h.fake.slashCommand({ command: '/imagine', text: 'forged --steps 4' }), { signWith: 'guess' });
    const stale = await w.h.fake.deliverHttp(url, signingSecret, w.h.fake.slashCommand({ command: '/imagine', text: 'replayed --steps 4' }), {
      timestampSec: Math.floor(Date.now() / 1000) - 10 * 60,
    });
    assert.deepEqual([bad.status, stale.status], [401, 401]);
    const good = await w.h.fake.deliverHttp(url, signingSecret, w.h.fake.slashCommand({ command: '/imagine', text: 'signed --steps 4' }));
    assert.equal(good.status, 200);
    assert.ok(good.latencyMs < 3000);
    const message = await w.h.fake.waitFor(() => w.h.fake.channelMessages(CH)[0], 10_000, 'the job message');
    const done = await finalMessage(w, CH, jobIdOf(message)!);
    assert.ok(imageFileId(done.blocks));
    assert.deepEqual(
      w.h.fake.channelMessages(CH).map((m) => m.text?.split(' — ')[0]),
      ['signed --steps 4'.replace(' --steps 4', '')],
      'only the signed command produced a job',
    );
    const ack = await w.h.fake.deliverHttp(url, signingSecret, w.h.fake.blockActions({ channel: CH, ts: done.ts, actionId: `ib:${jobIdOf(done)}:u1` }));
    assert.equal(ack.status, 200);
    await w.h.fake.waitFor(() => w.h.fake.channelMessages(CH).length === 2, 10_000, 'the upscale job');
    assert.deepEqual(w.h.fake.failures, []);
  });
});
