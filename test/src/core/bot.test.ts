import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../../../engine/index.ts';
import { decodePng } from '../../../src/core/images.ts';
import { actor, harness } from '../../helpers/core-harness.ts';

test('/imagine: acknowledge first, queued → running → done grid with U1–U4 🔄 / V1–V4', async () => {
  const h = await harness({ engine: { stepMs: 2 } });
  try {
    const ana = actor('ana', 'g1', { userName: 'Ana' });
    const { reply, jobId } = await h.imagine(ana, 'a red fox in the snow --ar 2:1 --seed 42 --steps 5 --no trees');
    assert.deepEqual(reply.calls, ['ack:public', 'post']);
    await h.settle(jobId!);
    const views = h.surface.messageOf(jobId!)!.views;
    assert.equal(views[0].state, 'queued');
    assert.deepEqual(views[0].state === 'queued' && views[0].buttons?.map((r) => r.map((b) => [b.label, b.id])), [[['Cancel', `ib:${jobId}:x`]]]);
    assert.ok(views.some((v) => v.state === 'running' && v.preview !== undefined), 'a running view with a preview');
    const done = views.at(-1)!;
    assert.equal(done.state, 'done');
    if (done.state !== 'done') return;
    assert.deepEqual(done.seeds, [42, 43, 44, 45]);
    assert.deepEqual(done.buttons.map((r) => r.map((b) => b.label)), [['U1', 'U2', 'U3', 'U4', '🔄'], ['V1', 'V2', 'V3', 'V4']]);
    assert.match(done.job.flags, /--ar 2:1 --seed 42 --no trees --steps 5 --guidance 1 --n 4/);
    // 2:1 on a 64×64 model → 96×48 per image (multiples of 16), so the grid is 192×96.
    const grid = await decodePng(done.image.png);
    assert.deepEqual([grid.width, grid.height, done.image.width, done.image.height], [256, 128, 256, 128]);
    const call = h.engine.calls[0];
    assert.deepEqual(
      [call.prompt, call.negativePrompt, call.width, call.height, call.numInferenceSteps, call.seed, call.numImagesPerPrompt],
      ['a red fox in the snow', 'trees', 128, 64, 5, 42, 4],
    );
    const stored = await h.store.getJob(jobId!);
    assert.equal(stored?.status, 'done');
    assert.equal(stored?.completions, 1);
    assert.deepEqual(stored?.message, h.surface.messageOf(jobId!)!.ref);
  } finally {
    await h.close();
  }
});

test('bad flags and banned words answer ephemerally with the reason; nothing is queued', async () => {
  const h = await harness({ config: { bannedWords: ['gore'] } });
  try {
    const ana = actor('ana');
    const bad = await h.imagine(ana, 'a fox --steps 500');
    assert.deepEqual(bad.reply.calls, ['ack:public', 'ephemeral']);
    assert.equal(bad.reply.lastText, 'Expected `--steps` to be an integer from 1 to 150, got `500` (string)');
    assert.equal(bad.reply.ephemerals[0].tone, 'error');
    const unknown = await h.imagine(ana, 'a fox --chaos 5');
    assert.match(unknown.reply.lastText!, /Unknown flag `--chaos`/);
    const banned = await h.imagine(ana, 'lots of GORE please');
    assert.match(banned.reply.lastText!, /not allowed here \("gore"\)/);
    assert.ok(h.lines.some((l) => l.msg === 'prompt rejected: banned word' && l.word === 'gore' && l.user === 'ana'));
    assert.equal(h.engine.calls.length, 0);
    assert.equal(h.surface.messages.size, 0);
  } finally {
    await h.close();
  }
});

test('guild banned words (set by an admin) apply to that guild only; non-admins cannot set them', async () => {
  const h = await harness();
  try {
    const refused = await h.command(actor('bob', 'g1'), 'settings', { scope: 'guild', banned_words: 'cats' });
    assert.match(refused.lastText!, /Only server admins/);
    const saved = await h.command(actor('root', 'g1', { isAdmin: true }), 'settings', { scope: 'guild', banned_words: 'Cats, dogs', steps: '3' });
    assert.match(saved.lastText!, /Saved/);
    assert.match((await h.imagine(actor('bob', 'g1'), 'two cats')).reply.lastText!, /not allowed/);
    const other = await h.imagine(actor('bob', 'g2'), 'two cats');
    assert.ok(other.jobId);
    // The guild default steps (3) applies in g1 unless the user sets their own.
    const inG1 = await h.imagine(actor('bob', 'g1'), 'a bird');
    await h.command(actor('bob', 'g1'), 'settings', { steps: '2', ar: '3:2' });
    const mine = await h.imagine(actor('bob', 'g1'), 'a bird');
    await h.settle(other.jobId!, inG1.jobId!, mine.jobId!);
    assert.equal((await h.store.getJob(inG1.jobId!))!.params.numInferenceSteps, 3);
    const params = (await h.store.getJob(mine.jobId!))!.params;
    assert.deepEqual([params.numInferenceSteps, params.aspectRatio, params.width, params.height], [2, '3:2', 96, 64]);
  } finally {
    await h.close();
  }
});

test('buttons: U2 upscales image 2 at 2× low strength; V1, 🔄 and Vary make new grids; lineage is kept', async () => {
  const h = await harness();
  try {
    const ana = actor('ana');
    const { jobId } = await h.imagine(ana, 'a lighthouse --seed 100 --steps 4');
    await h.settle(jobId!);
    const done = h.surface.messageOf(jobId!)!.views.at(-1)!;
    assert.equal(done.state, 'done');
    if (done.state !== 'done') return;
    const id = (label: string) => done.buttons.flat().find((b) => b.label === label)!.id;

    const up = await h.press(actor('bob'), id('U2'));
    assert.deepEqual(up.reply.calls, ['ack:public', 'post']);
    await h.settle(up.jobId!);
    const upJob = (await h.store.getJob(up.jobId!))!;
    assert.equal(upJob.kind, 'upscale');
    assert.equal(upJob.ownerId, 'bob');
    assert.deepEqual(upJob.parent, { jobId, action: 'U2' });
    assert.deepEqual([upJob.params.width, upJob.params.height, upJob.params.seed, upJob.params.strength, upJob.params.numImagesPerPrompt], [128, 128, 101, 0.3, 1]);
    const upCall = h.engine.calls.at(-1)!;
    assert.equal(upCall.image?.width, 128);
    const upDone = h.surface.messageOf(up.jobId!)!.views.at(-1)!;
    assert.equal(upDone.state, 'done');
    if (upDone.state !== 'done') return;
    assert.deepEqual(upDone.buttons.flat().map((b) => b.label), ['Vary (Strong)', 'Vary (Subtle)', 'Upscale 2×', '🔄']);
    assert.equal(upDone.image.width, 128);

    const v1 = await h.press(ana, id('V1'));
    const rr = await h.press(ana, id('🔄'));
    const vary = await h.press(ana, upDone.buttons.flat().find((b) => b.label === 'Vary (Strong)')!.id);
    await h.settle(v1.jobId!, rr.jobId!, vary.jobId!);
    const v1Job = (await h.store.getJob(v1.jobId!))!;
    assert.deepEqual([v1Job.kind, v1Job.params.strength, v1Job.params.initImage, v1Job.params.numImagesPerPrompt, v1Job.params.width], ['variation', 0.6, { jobId, index: 1 }, 4, 64]);
    assert.notEqual(v1Job.params.seed, 100);
    const rrJob = (await h.store.getJob(rr.jobId!))!;
    assert.deepEqual([rrJob.kind, rrJob.params.prompt, rrJob.params.numInferenceSteps, rrJob.params.strength], ['reroll', 'a lighthouse', 4, undefined]);
    const varyJob = (await h.store.getJob(vary.jobId!))!;
    assert.deepEqual([varyJob.kind, varyJob.params.strength, varyJob.params.initImage, varyJob.params.width], ['vary-strong', 0.75, { jobId: up.jobId, index: 1 }, 128]);
  } finally {
    await h.close();
  }
});

test('garbled or forged button ids do nothing and say so', async () => {
  const h = await harness();
  try {
    for (const id of ['ib:zzzzzz:u1', 'ib:k3f9qz:u9', 'rm -rf /', 'ib:k3f9qz:rr']) {
      const { reply } = await h.press(actor('ana'), id);
      // Well-formed ids are acknowledged as their action would be; garbage privately. Either way: one private error.
      assert.deepEqual(reply.calls, [/^ib:[a-z0-9]{6}:(u1|rr)$/.test(id) ? 'ack:public' : 'ack:ephemeral', 'ephemeral']);
      assert.match(reply.lastText!, /not one of mine|no longer exists/);
    }
    assert.equal(h.engine.calls.length, 0);
  } finally {
    await h.close();
  }
});

test('/show, /queue and /help answer ephemerally with the job, position and flags', async () => {
  const h = await harness({ engine: { stepMs: 20 } });
  try {
    const ana = actor('ana');
    const first = await h.imagine(ana, 'first --steps 25');
    const second = await h.imagine(ana, 'second --steps 3');
    const queue = await h.command(ana, 'queue');
    assert.deepEqual(queue.calls, ['ack:ephemeral', 'ephemeral']);
    assert.match(queue.lastText!, /1 running, 1 queued/);
    assert.match(queue.lastText!, new RegExp(`\`${second.jobId}\` second: #1 in line \\(0 ahead`));
    await h.settle(first.jobId!, second.jobId!);
    const show = await h.command(actor('bob'), 'show', { job: first.jobId! });
    assert.equal(show.ephemerals[0].text, `Job \`${first.jobId}\``);
    assert.ok(show.ephemerals[0].image && show.ephemerals[0].buttons?.length === 2);
    assert.match(show.ephemerals[0].fields!.find((f) => f.name === 'Parameters')!.value, /--steps 25/);
    const missing = await h.command(ana, 'show', { job: 'zzzzzz' });
    assert.match(missing.lastText!, /No job `zzzzzz` here/);
    const otherGuild = await h.command(actor('eve', 'g9'), 'show', { job: first.jobId! });
    assert.match(otherGuild.lastText!, /No job/);
    const help = await h.command(ana, 'help');
    assert.match(help.lastText!, /--ar W:H/);
    assert.match(help.lastText!, /\/imagine:/);
  } finally {
    await h.close();
  }
});

test('running views keep showing the latest preview between previews; engine input errors reach the user', async () => {
  const h = await harness({
    previewEvery: 3,
    engine: { stepMs: 10, failWith: (o) => (o.prompt === 'refuse me' ? new EngineError('sd_engine_invalid_input', 'Expected `width` to be a multiple of 64, got `80`.') : undefined) },
  });
  try {
    const { jobId } = await h.imagine(actor('ana'), 'a fox --steps 7');
    await h.settle(jobId!);
    const running = h.surface.messageOf(jobId!)!.views.filter((v) => v.state === 'running');
    const steps = running.map((v) => (v.state === 'running' ? [v.step, v.preview !== undefined] : []));
    // Previews come at steps 3 and 6; every later view shows the latest one.
    assert.ok(steps.length >= 5, JSON.stringify(steps));
    for (const [step, hasPreview] of steps) assert.equal(hasPreview, (step as number) >= 3, `step ${step}`);

    const refused = await h.imagine(actor('ana'), 'refuse me');
    await h.settle(refused.jobId!);
    const last = h.surface.messageOf(refused.jobId!)!.views.at(-1)!;
    assert.equal(last.state, 'failed');
    assert.equal(last.status, 'Failed: The image engine refused these parameters: Expected `width` to be a multiple of 64, got `80`.');
  } finally {
    await h.close();
  }
});
