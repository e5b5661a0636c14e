// Scenarios from the Discord issue, each with the real discord.js client, the real core and commands, and the real
// engine (tiny model: milliseconds a step), against the fake Discord.
import { test, after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { InteractionState } from '../../fakes/discord/state.ts';
import type { RecordedRequest } from '../../fakes/discord/recorder.ts';
import { startBot, type Bot } from './real-core.ts';

let bot: Bot;

before(async () => {
  // Edits at most every 50 ms (production: 1 s) so that short test jobs still show several previews.
  bot = await startBot({ minEditIntervalMs: 50 });
});
after(() => bot.close());
afterEach(() => bot.gate.open()); // a failed test must not leave the engine held

/** The job id a job message shows: `id` while in progress, `· job id` once done. */
const JOB = /`([0-9a-hjkmnp-tv-z]{6,12})`|· job ([0-9a-hjkmnp-tv-z]{6,12})\)/;
const text = (id: string | undefined) => (id ? (bot.fake.message(id)?.content ?? '') : '');

async function until<T>(fn: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The job message an interaction produced: its message id and the job id shown in it. */
async function jobOf(it: InteractionState): Promise<{ messageId: string; jobId: string }> {
  return until(() => {
    const m = it.originalMessageId && JOB.exec(text(it.originalMessageId));
    return m ? { messageId: it.originalMessageId!, jobId: m[1] ?? m[2] } : undefined;
  }, 'a job message');
}

const isDone = (messageId: string) => until(() => /\(Done in [^)]*\)/.test(text(messageId)) && bot.fake.message(messageId)!, `done in ${messageId}`);

/** Button label (or emoji) → custom_id on a message. */
function buttons(messageId: string): Record<string, string> {
  const rows = (bot.fake.message(messageId)?.components ?? []) as unknown as { components: { custom_id: string; label?: string; emoji?: { name: string } }[] }[];
  return Object.fromEntries(rows.flatMap((r) => r.components.map((b) => [b.label ?? b.emoji!.name, b.custom_id])));
}

/** The private answer to an interaction: the ephemeral @original, or the ephemeral follow-up after a public defer. */
function privateAnswer(it: InteractionState): Promise<string> {
  return until(() => {
    const original = it.originalMessageId ? bot.fake.state.messages.get(it.originalMessageId) : undefined;
    if (original?.ephemeral && original.message.content) return original.message.content;
    const followUp = bot.fake.requests((r) => r.route === 'POST /webhooks/:app/:token' && r.path.includes(it.ctx.token) && r.status === 200)[0];
    const body = followUp?.response as { content: string; flags: number } | undefined;
    return body && body.flags & 64 ? body.content : undefined;
  }, 'a private answer');
}

const editsOf = (messageId: string) =>
  bot.fake.requests((r) => r.method === 'PATCH' && r.status === 200 && (r.response as { id?: string } | undefined)?.id === messageId);

/** A job that holds the engine (it stays "running" behind the engine gate) until `release()`. */
async function blocker(user = 'dave', guildId?: string) {
  // Earlier tests' jobs must not be the ones held.
  let idle = false;
  await until(() => {
    void bot.core.dispatcher.depth().then((d) => (idle = d.running === 0 && d.queued === 0));
    return idle;
  }, 'an idle queue');
  bot.gate.closed = true;
  const it = bot.fake.sendCommand('imagine', { prompt: 'blocker --steps 4' }, { user: bot.fake.user(user), ...(guildId ? { guildId } : {}) });
  const job = await jobOf(it);
  let running = false;
  await until(() => {
    void bot.core.store.getJob(job.jobId).then((j) => (running = j?.status === 'running'));
    return running;
  }, 'the blocker to run');
  return { ...job, release: () => bot.gate.open() };
}

test('/imagine: acknowledged first, previews while running, ends as the 2×2 grid with U1–U4 🔄 / V1–V4', async () => {
  // Long enough for several previews: the core skips previews that barely changed unless the message was quiet.
  const it = bot.fake.sendCommand('imagine', { prompt: 'a red fox --steps 150', seed: 7 });
  const { messageId, jobId } = await jobOf(it);
  const final = await isDone(messageId);

  const mine = bot.fake.requests((r) => r.path.includes(it.ctx.token));
  assert.deepEqual(mine[0].body, { type: 5, data: { flags: 0 } }, 'the first call is the public defer');
  assert.ok(mine[0].at - it.createdAt < 1000, `ack after ${mine[0].at - it.createdAt} ms`);

  const edits = editsOf(messageId);
  const previews = edits.filter((r) => /Step [1-9]\d*\/\d+/.test((r.body as { content: string }).content) && r.files.length === 1);
  assert.ok(previews.length >= 2, `${previews.length} preview edits with an image`);
  for (let n = 1; n < edits.length; n++) assert.ok(edits[n].at - edits[n - 1].at >= 50, 'edits paced by minEditIntervalMs');

  assert.match(final.content, new RegExp(`^\\*\\*a red fox\\*\\* --seed 7 --steps 150 .* - <@${it.ctx.user.id}> \\(Done in \\d+ s · job ${jobId}\\)$`));
  const grid = await sharp(bot.fake.attachmentBytes(final.attachments[0].url)!).metadata();
  assert.deepEqual([grid.format, grid.width, grid.height], ['png', 128, 128]);
  const b = buttons(messageId);
  assert.deepEqual(Object.keys(b), ['U1', 'U2', 'U3', 'U4', '🔄', 'V1', 'V2', 'V3', 'V4']);
  assert.equal(b.U1, `ib:${jobId}:u1`);
  assert.deepEqual(bot.fake.schemaErrors(), []);
  const exposition = await bot.metrics.text();
  assert.match(exposition, /imagine_ack_latency_seconds_count\{platform="discord"\} [1-9]/, 'acks are recorded in the metrics');
});

test('/imagine in a DM works the same', async () => {
  const it = bot.fake.sendCommand('imagine', { prompt: 'a blue bird --n 1' }, { guildId: null, user: bot.fake.user('erin') });
  const { messageId } = await jobOf(it);
  const final = await isDone(messageId);
  assert.equal(final.attachments.length, 1);
  assert.deepEqual(Object.keys(buttons(messageId)), ['U1', '🔄', 'V1']);
});

test('every button kind starts its own job with its own message: U, V, 🔄, then Vary (Strong/Subtle) and Upscale 2×', async () => {
  const it = bot.fake.sendCommand('imagine', { prompt: 'a green hill' });
  const parent = await jobOf(it);
  await isDone(parent.messageId);
  const grid = buttons(parent.messageId);

  const press = async (messageId: string, label: string, customId: string) => {
    const p = bot.fake.sendButton(messageId, customId, { user: bot.fake.user('bob') });
    const child = await jobOf(p);
    assert.notEqual(child.messageId, messageId, `${label} posts a new message`);
    assert.deepEqual(bot.fake.requests((r) => r.path.includes(p.ctx.token))[0].body, { type: 5, data: { flags: 0 } });
    return child;
  };
  const [u1, v2, rr] = await Promise.all([press(parent.messageId, 'U1', grid.U1), press(parent.messageId, 'V2', grid.V2), press(parent.messageId, '🔄', grid['🔄'])]);
  await Promise.all([u1, v2, rr].map((c) => isDone(c.messageId)));
  assert.match(text(u1.messageId), new RegExp(`\\(Done in \\d+ s \\(U1 of ${parent.jobId}\\)`));
  assert.match(text(v2.messageId), new RegExp(`\\(Done in \\d+ s \\(V2 of ${parent.jobId}\\)`));
  assert.match(text(rr.messageId), new RegExp(`\\(Done in \\d+ s \\(🔄 of ${parent.jobId}\\)`));
  assert.deepEqual(Object.keys(buttons(v2.messageId)).slice(0, 5), ['U1', 'U2', 'U3', 'U4', '🔄'], 'a variation is a grid again');

  const up = buttons(u1.messageId);
  assert.deepEqual(Object.keys(up), ['Vary (Strong)', 'Vary (Subtle)', 'Upscale 2×', '🔄']);
  const upscaled = await sharp(bot.fake.attachmentBytes(bot.fake.message(u1.messageId)!.attachments[0].url)!).metadata();
  const kids = await Promise.all([
    press(u1.messageId, 'Vary (Strong)', up['Vary (Strong)']),
    press(u1.messageId, 'Vary (Subtle)', up['Vary (Subtle)']),
    press(u1.messageId, 'Upscale 2×', up['Upscale 2×']),
  ]);
  const finals = await Promise.all(kids.map((k) => isDone(k.messageId)));
  assert.match(finals[0].content, /\(Vary \(Strong\) of [0-9a-z]+\)/);
  assert.match(finals[1].content, /\(Vary \(Subtle\) of [0-9a-z]+\)/);
  assert.match(finals[2].content, /\(Upscale 2× of [0-9a-z]+\)/);
  const bigger = await sharp(bot.fake.attachmentBytes(finals[2].attachments[0].url)!).metadata();
  assert.equal(bigger.width, upscaled.width! * 2, 'Upscale 2× doubles the upscaled image');
  assert.deepEqual(bot.fake.schemaErrors(), []);
});

test('three users in two guilds queue at once: fair order across guilds and the positions shown match it', async () => {
  const g1 = bot.fake.defaultGuildId;
  const g2 = '222222222222222222';
  const block = await blocker('dave', '333333333333333333');
  const sent = [
    bot.fake.sendCommand('imagine', { prompt: 'alice one' }, { user: bot.fake.user('alice'), guildId: g1 }),
    bot.fake.sendCommand('imagine', { prompt: 'alice two' }, { user: bot.fake.user('alice'), guildId: g1 }),
    bot.fake.sendCommand('imagine', { prompt: 'bob one' }, { user: bot.fake.user('bob'), guildId: g1 }),
    bot.fake.sendCommand('imagine', { prompt: 'carol one' }, { user: bot.fake.user('carol'), guildId: g2 }),
  ];
  const jobs = await Promise.all(sent.map(jobOf));
  // Positions settle once all four are queued (live updates are coalesced).
  const positions = await until(() => {
    const ps = jobs.map((j) => (/Queued: next up/.test(text(j.messageId)) ? 1 : Number(/Queued: #(\d+)/.exec(text(j.messageId))?.[1])));
    return [...ps].sort().join() === '1,2,3,4' && ps;
  }, 'positions 1–4 on the queued messages', 5000).catch((e: Error) => {
    throw new Error(`${e.message}; blocker: ${text(block.messageId)}; messages: ${jobs.map((j) => text(j.messageId)).join(' | ')}`);
  });
  block.release();
  // Carol is alone in her guild: she asked last but is not queued behind guild 1's three jobs.
  assert.ok(positions[3] <= 2, `carol's position ${positions[3]} (positions ${positions})`);

  await Promise.all(jobs.map((j) => isDone(j.messageId)));
  const started = await Promise.all(jobs.map(async (j) => (await bot.core.store.getJob(j.jobId))!.startedAt!));
  const startOrder = jobs.map((_, n) => n).sort((a, b) => started[a] - started[b]);
  assert.deepEqual(startOrder.map((n) => positions[n]), [1, 2, 3, 4], 'jobs started in the order their positions said');
});

test('cancel: a stranger is refused, the owner cancels; the job message says so', async () => {
  const block = await blocker();
  const it = bot.fake.sendCommand('imagine', { prompt: 'to be cancelled' }, { user: bot.fake.user('alice') });
  const { messageId, jobId } = await jobOf(it);
  const stranger = bot.fake.sendCommand('cancel', { job: jobId }, { user: bot.fake.user('mallory') });
  assert.deepEqual(bot.fake.requests((r) => r.path.includes(stranger.ctx.token))[0]?.body ?? (await bot.fake.waitFor((r) => r.path.includes(stranger.ctx.token))).body, { type: 5, data: { flags: 64 } });
  assert.match(await privateAnswer(stranger), /only|owner|admin|not yours|your own/i);
  assert.match(text(messageId), /Queued/);
  const owner = bot.fake.sendCommand('cancel', { job: jobId }, { user: bot.fake.user('alice') });
  assert.match(await privateAnswer(owner), new RegExp(`Cancelled \`${jobId}\``));
  await until(() => /Cancelled/.test(text(messageId)), 'the job message to show the cancel');
  assert.deepEqual(bot.fake.message(messageId)!.attachments, []);
  block.release();
});

test('bad flags: a private, teaching error; the public "thinking" message is removed and nothing is queued', async () => {
  const before = bot.fake.state.messages.size;
  const it = bot.fake.sendCommand('imagine', { prompt: 'a fox --steps abc' });
  const answer = await privateAnswer(it);
  assert.match(answer, /Expected `--steps` to be an integer from 1 to \d+, got `abc`/);
  assert.equal(bot.fake.message(it.originalMessageId!), undefined, 'the loading message was deleted');
  const unknown = bot.fake.sendCommand('imagine', { prompt: 'a fox', ar: '9:1' });
  assert.match(await privateAnswer(unknown), /--ar/);
  assert.equal(bot.fake.state.messages.size, before + 2, 'only the two private answers remain');
});

test('token expiry: a job still queued after 14 minutes continues through channel edits with the bot token', async () => {
  const block = await blocker();
  const it = bot.fake.sendCommand('imagine', { prompt: 'patient fox' });
  const { messageId } = await jobOf(it);
  bot.fake.clock.advance(14 * 60 * 1000 + 30_000);
  block.release();
  const final = await isDone(messageId);
  bot.fake.clock.offsetMs = 0;
  const channelEdits = bot.fake.requests((r) => r.route === 'PATCH /channels/:channel/messages/:message' && r.params.message === messageId);
  assert.ok(channelEdits.length >= 1, 'edited through the channel');
  assert.ok(channelEdits.every((r) => r.status === 200 && r.headers.authorization === `Bot ${bot.fake.token}`));
  assert.equal(bot.fake.requests((r) => r.status === 401).length, 0, 'no expired-token calls');
  assert.equal(final.attachments.length, 1);
  assert.equal(Object.keys(buttons(messageId)).length, 9);
});

test('429 and 5xx injected while a job runs: retry_after obeyed, 5xx retried, the grid still arrives', async () => {
  const limitedBefore = bot.fake.rateLimited;
  let target = '';
  const onTarget = (r: RecordedRequest) => r.method === 'PATCH' && target !== '' && r.path.includes(target);
  const it = bot.fake.sendCommand('imagine', { prompt: 'stormy sea --steps 60' });
  target = it.ctx.token;
  bot.fake.inject({ status: 429, retryAfter: 0.25, match: onTarget });
  bot.fake.inject({ status: 502, times: 2, match: onTarget });
  const { messageId } = await jobOf(it);
  const final = await isDone(messageId);
  const calls = bot.fake.requests(onTarget);
  assert.deepEqual(calls.slice(0, 4).map((r) => r.status), [429, 502, 502, 200]);
  assert.ok(calls[1].at - calls[0].at >= 240, 'waited retry_after');
  assert.ok(calls[3].at - calls[2].at >= 200, 'backed off before the second retry');
  assert.equal(bot.fake.rateLimited - limitedBefore, 1);
  const hits = /imagine_rate_limit_hits_total\{platform="discord"\} (\d+)/.exec(await bot.metrics.text());
  assert.equal(Number(hits?.[1]), bot.fake.rateLimited, 'every 429 is counted in the metrics');
  assert.equal(final.attachments.length, 1);
});

test('a restart between the grid and a button press: the old message\'s U2 still works', async () => {
  const it = bot.fake.sendCommand('imagine', { prompt: 'before restart' });
  const parent = await jobOf(it);
  await isDone(parent.messageId);
  const u2 = buttons(parent.messageId).U2;
  await bot.restart();
  const p = bot.fake.sendButton(parent.messageId, u2);
  const child = await jobOf(p);
  const final = await isDone(child.messageId);
  assert.match(final.content, new RegExp(`\\(Done in \\d+ s \\(U2 of ${parent.jobId}\\)`));
  assert.deepEqual(bot.fake.schemaErrors(), []);
});

test('private commands: /show with the grid and its buttons, /queue with a position, /settings saved, /help', async () => {
  const it = bot.fake.sendCommand('imagine', { prompt: 'show me --n 4' });
  const job = await jobOf(it);
  await isDone(job.messageId);
  const show = bot.fake.sendCommand('show', { job: job.jobId });
  const shown = await until(() => {
    const m = show.originalMessageId ? bot.fake.state.messages.get(show.originalMessageId) : undefined;
    return m?.message.content ? m : undefined;
  }, 'the /show answer');
  assert.equal(shown.ephemeral, true);
  assert.match(shown.message.content, /\*\*Prompt:\*\* show me/);
  assert.equal(shown.message.attachments.length, 1, 'the grid comes along');
  assert.deepEqual(Object.keys(buttons(shown.message.id)).slice(0, 5), ['U1', 'U2', 'U3', 'U4', '🔄']);

  const block = await blocker('frank');
  const queued = bot.fake.sendCommand('imagine', { prompt: 'waiting' }, { user: bot.fake.user('gina') });
  const waiting = await jobOf(queued);
  const position = await privateAnswer(bot.fake.sendCommand('queue', {}, { user: bot.fake.user('gina') }));
  assert.match(position, new RegExp(`^1 running, 1 queued .*\\nYour jobs:\\n\`${waiting.jobId}\` waiting: #1 in line \\(0 ahead: 0 from this server, 0 yours\\)`));
  block.release();

  assert.match(await privateAnswer(bot.fake.sendCommand('settings', { steps: '6' }, { user: bot.fake.user('gina') })), /Saved|saved/);
  const help = await privateAnswer(bot.fake.sendCommand('help', {}));
  assert.match(help, /Example: \/imagine a lighthouse/);
  assert.match(help, /^\/settings: .*\n\/show: .*\n\/queue: .*\n\/cancel: /m, 'Discord names commands as registered');
  assert.doesNotMatch(help, /imagine-/);
  assert.deepEqual(bot.fake.schemaErrors(), []);
});

test('missing channel permissions: said up front, and explained in the message when the token runs out', async () => {
  const channelId = '444444444444444444';
  bot.fake.setChannelAccess(channelId, 'missing-access');
  try {
    const block = await blocker();
    const it = bot.fake.sendCommand('imagine', { prompt: 'locked room' }, { channelId, appPermissions: String(1n << 10n) });
    const { messageId, jobId } = await jobOf(it);
    assert.match(text(messageId), /I'm missing \*\*Send Messages\*\*, \*\*Attach Files\*\*, \*\*Read Message History\*\* in this channel/);
    bot.fake.clock.advance(14 * 60 * 1000 + 30_000);
    block.release();
    await until(() => /I can't keep this message updated/.test(text(messageId)), 'the explanation');
    assert.match(text(messageId), new RegExp(`/show ${jobId}`));
    assert.ok(bot.fake.requests((r) => r.params.channel === channelId).every((r) => r.status === 403), 'the channel itself refused the bot');
  } finally {
    bot.fake.clock.offsetMs = 0;
    bot.fake.setChannelAccess(channelId, 'ok');
  }
});

test('a job message that cannot be posted: the job is cancelled, not run unseen, and the user is told privately', async () => {
  let target = '';
  const onOriginal = (r: RecordedRequest) => r.method === 'PATCH' && target !== '' && r.path.includes(target) && r.path.endsWith('/messages/@original');
  const it = bot.fake.sendCommand('imagine', { prompt: 'nobody sees this --steps 60' });
  target = it.ctx.token;
  bot.fake.inject({ status: 400, match: onOriginal });
  const answer = await privateAnswer(it);
  const jobId = /Job `(\w+)` was cancelled/.exec(answer)?.[1];
  assert.ok(jobId, answer);
  assert.match(answer, /^⚠️ I could not post your job's message in this channel\./);
  const job = await bot.core.store.getJob(jobId);
  assert.deepEqual([job?.status, job?.error?.code], ['failed', 'bot_no_message']);
  assert.deepEqual(await bot.core.dispatcher.position(jobId), undefined, 'not queued or running');
});
