// The Discord adapter end to end: real discord.js client ↔ fake Discord, with a scripted core so each test controls
// exactly what the core says. (Scenarios with the real core and engine are in scenarios.test.ts.)
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { MessageRef, Reply } from '../../../src/core/types.ts';
import type { RecordedRequest } from '../../fakes/discord/recorder.ts';
import { PERMISSION_NOTE_PREFIX } from '../../../src/adapters/discord/handler.ts';
import { createDiscordAdapter } from '../../../src/adapters/discord/index.ts';
import { ScriptedCore, card, views } from './scripted-core.ts';
import { noisyPng, solidPng, startHarness, type Harness } from './harness.ts';

let h: Harness;
const core = new ScriptedCore();

before(async () => {
  h = await startHarness(core, { minEditIntervalMs: 150 });
});
after(() => h.close());

const forToken = (token: string) => (r: RecordedRequest) => r.path.includes(token);
const patchesOf = (messageId: string) => h.fake.requests((r) => r.method === 'PATCH' && r.status === 200 && (r.response as { id?: string })?.id === messageId);

/** Resolves with the Reply the core gets for the next input. */
function nextReply(): Promise<{ reply: Reply; input: Parameters<ScriptedCore['onDispatch']>[0] }> {
  return new Promise((resolve) => {
    core.onDispatch = async (input, reply) => resolve({ input, reply });
  });
}

test('registers the neutral commands globally at start, spec-valid, required options first', () => {
  const put = h.fake.requests({ route: 'PUT /applications/:app/commands' });
  assert.equal(put.length, 1);
  assert.equal(put[0].status, 200);
  assert.deepEqual(put[0].schemaErrors, []);
  const body = put[0].body as { name: string; options: { name: string; type: number; required: boolean }[] }[];
  assert.deepEqual(body.map((c) => c.name).sort(), ['cancel', 'help', 'imagine', 'queue', 'settings', 'show']);
  const imagine = body.find((c) => c.name === 'imagine')!;
  assert.equal(imagine.options[0].name, 'prompt');
  assert.equal(imagine.options[0].required, true);
  assert.deepEqual(Object.fromEntries(imagine.options.map((o) => [o.name, o.type])), { prompt: 3, ar: 3, seed: 4, no: 3, steps: 4, guidance: 10, sampler: 3, n: 4 });
});

test('/imagine: public defer first, then queued → running with previews (throttled, latest wins) → 2×2 grid with buttons', async () => {
  const got = nextReply();
  const it = h.fake.sendCommand('imagine', { prompt: 'a red fox --ar 3:2', seed: 7 });
  const { input, reply } = await got;
  assert.deepEqual(input, {
    type: 'command',
    name: 'imagine',
    options: { prompt: 'a red fox --ar 3:2', seed: 7 },
    actor: { platform: 'discord', guildId: h.fake.defaultGuildId, channelId: h.fake.defaultChannelId, userId: h.fake.user('alice').id, userName: 'alice', isAdmin: false, roles: [] },
  });
  const ack = await h.fake.waitFor(forToken(it.ctx.token));
  assert.equal(ack.route, 'POST /interactions/:interaction/:token/callback');
  assert.deepEqual(ack.body, { type: 5, data: { flags: 0 } });
  assert.ok(ack.at - it.createdAt < 1000, `acknowledged after ${ack.at - it.createdAt} ms`);

  const job = card('k3f9qz', h.fake.user('alice').id, 'a red fox');
  const ref = await reply.postJobMessage(views.queued(job, 2));
  assert.equal(ref.platform, 'discord');
  assert.equal(ref.messageId, it.originalMessageId);
  assert.match(h.fake.message(ref.messageId!)!.content, /\*\*a red fox\*\* --seed 1 --steps 4 - <@\d+> \(Queued: #2, about 10 s\)/);

  const previews = await Promise.all(['#100', '#200', '#300', '#400', '#500', '#600'].map((c) => solidPng(c, 16, 'preview.png')));
  const surface = core.surface!;
  // Steps reported in two bursts of three: within a burst only the latest is sent.
  for (const burst of [previews.slice(0, 3), previews.slice(3)]) {
    const base = previews.indexOf(burst[0]);
    const results = await Promise.all(burst.map((p, n) => surface.editJobMessage(ref, views.running(job, base + n + 1, 6, p))));
    assert.deepEqual(results, [undefined, undefined, undefined]);
  }
  const grid = await solidPng('#0a0', 64, 'grid.png');
  await surface.editJobMessage(ref, views.done(job, grid));

  const edits = patchesOf(ref.messageId!);
  const withImage = edits.filter((r) => r.files.length === 1 && r.files[0].contentType === 'image/png');
  assert.ok(withImage.length >= 3, `${withImage.length} edits with an image`);
  assert.ok(edits.length < 1 + 6 + 1, `coalesced to ${edits.length} edits`);
  for (let n = 1; n < edits.length; n++) assert.ok(edits[n].at - edits[n - 1].at >= 140, 'edits at least minEditIntervalMs apart');
  const runningEdits = edits.filter((r) => /Step \d\/6/.test((r.body as { content: string }).content));
  assert.deepEqual(runningEdits.map((r) => /Step (\d)/.exec((r.body as { content: string }).content)![1]), ['3', '6'], 'latest progress wins');
  assert.ok(runningEdits.every((r) => r.files.length === 1), 'each progress edit carries its preview');

  const final = h.fake.message(ref.messageId!)!;
  assert.match(final.content, /\(Done in 2 s\) `k3f9qz`/);
  assert.equal(final.attachments.length, 1);
  assert.ok(h.fake.attachmentBytes(final.attachments[0].url)!.equals(Buffer.from(grid.png)));
  const rows = final.components!.map((row) => (row as { components: { custom_id: string; label?: string; emoji?: { name: string } }[] }).components);
  assert.deepEqual(rows.map((r) => r.map((b) => b.label ?? b.emoji?.name)), [['U1', 'U2', 'U3', 'U4', '🔄'], ['V1', 'V2', 'V3', 'V4']]);
  assert.equal(rows[0][0].custom_id, 'ib:k3f9qz:u1');
  assert.deepEqual(h.fake.schemaErrors(), []);

  // A late progress view never overwrites the final grid.
  await surface.editJobMessage(ref, views.running(job, 6, 6, previews[0]));
  assert.equal(h.fake.message(ref.messageId!)!.attachments[0].id, final.attachments[0].id);
});

test('an unchanged preview is kept, not uploaded again', async () => {
  const got = nextReply();
  h.fake.sendCommand('imagine', { prompt: 'same' });
  const { reply } = await got;
  const job = card('samepv', h.fake.user('alice').id);
  const preview = await solidPng('#123', 16, 'preview.png');
  const ref = await reply.postJobMessage(views.running(job, 1, 4, preview));
  await core.surface!.editJobMessage(ref, views.running(job, 2, 4, preview));
  const [first, second] = patchesOf(ref.messageId!);
  assert.equal(first.files.length, 1);
  assert.equal(second.files.length, 0);
  assert.deepEqual((second.body as { attachments: unknown }).attachments, [{ id: h.fake.message(ref.messageId!)!.attachments[0].id }]);
  assert.equal(h.fake.message(ref.messageId!)!.attachments.length, 1);
});

test('ephemeral commands defer ephemerally and answer through @original', async () => {
  const got = nextReply();
  const it = h.fake.sendCommand('settings', {});
  const { reply } = await got;
  await reply.ephemeral({ text: 'Your defaults', fields: [{ name: 'Steps', value: '20' }] });
  const calls = h.fake.requests(forToken(it.ctx.token));
  assert.deepEqual(calls[0].body, { type: 5, data: { flags: 64 } });
  assert.equal(calls[1].route, 'PATCH /webhooks/:app/:token/messages/:message');
  assert.equal(h.fake.message(it.originalMessageId!)!.content, 'Your defaults\n**Steps:** 20');
  assert.equal((h.fake.message(it.originalMessageId!)!.flags ?? 0) & 64, 64);
});

test('an error on a public command removes the "thinking" message and answers privately', async () => {
  const got = nextReply();
  const it = h.fake.sendCommand('imagine', { prompt: 'a fox --steps abc' });
  const { reply } = await got;
  await reply.ephemeral({ text: 'Expected `--steps` to be an integer from 1 to 150, got `abc` (string)', tone: 'error' });
  const calls = h.fake.requests(forToken(it.ctx.token));
  assert.deepEqual(calls.map((r) => `${r.method} ${r.status}`), ['POST 204', 'DELETE 204', 'POST 200']);
  const answer = calls[2].response as { content: string; flags: number };
  assert.equal(answer.flags & 64, 64);
  assert.match(answer.content, /^⚠️ Expected `--steps`/);
  assert.equal(h.fake.message(it.originalMessageId!), undefined);
});

test('DMs: actor is dm:<user>, no permission note', async () => {
  const got = nextReply();
  const carol = h.fake.user('carol');
  h.fake.sendCommand('imagine', { prompt: 'dm fox' }, { guildId: null, user: carol });
  const { input, reply } = await got;
  assert.equal(input.actor.guildId, `dm:${carol.id}`);
  const ref = await reply.postJobMessage(views.queued(card('dmjob1', carol.id), 1));
  assert.doesNotMatch(h.fake.message(ref.messageId!)!.content, /missing/);
});

test('a button press starts its own public message; cancel answers privately', async () => {
  const got = nextReply();
  h.fake.sendCommand('imagine', { prompt: 'parent' });
  const { reply } = await got;
  const parent = card('parent', h.fake.user('alice').id);
  const ref = await reply.postJobMessage(views.done(parent, await solidPng('#00f', 32)));

  const pressed = nextReply();
  const press = h.fake.sendButton(ref.messageId!, 'ib:parent:u2', { user: h.fake.user('bob') });
  const { input, reply: buttonReply } = await pressed;
  assert.deepEqual(input, { type: 'button', customId: 'ib:parent:u2', actor: { ...input.actor, userId: h.fake.user('bob').id } });
  const childRef = await buttonReply.postJobMessage(views.queued({ ...card('chd001', h.fake.user('bob').id), parent: { jobId: 'parent', action: 'U2' } }, 1));
  assert.notEqual(childRef.messageId, ref.messageId);
  assert.match(h.fake.message(childRef.messageId!)!.content, / — U2 of `parent` - <@/);
  assert.deepEqual(h.fake.requests(forToken(press.ctx.token))[0].body, { type: 5, data: { flags: 0 } });

  const cancel = nextReply();
  const x = h.fake.sendButton(childRef.messageId!, 'ib:chd001:x');
  await (await cancel).reply.ephemeral({ text: 'Cancelled.' });
  assert.deepEqual(h.fake.requests(forToken(x.ctx.token))[0].body, { type: 5, data: { flags: 64 } });
});

test('attachments are re-encoded to fit attachment_size_limit: PNG, else lossless WebP, else JPEG', async () => {
  const got = nextReply();
  const grid = await noisyPng(96);
  const webpSize = (await sharp(Buffer.from(grid.png)).webp({ lossless: true, effort: 4 }).toBuffer()).length;
  assert.ok(webpSize < grid.png.length, 'noise fixture: lossless WebP is smaller than PNG');
  h.fake.sendCommand('imagine', { prompt: 'big' }, { attachmentSizeLimit: webpSize + 10 });
  const { reply } = await got;
  const ref = await reply.postJobMessage(views.done(card('bgpng1', h.fake.user('alice').id), grid));
  let file = patchesOf(ref.messageId!)[0].files[0];
  assert.equal(file.contentType, 'image/webp');
  const decoded = await sharp(file.bytes).raw().toBuffer();
  assert.ok(decoded.equals(await sharp(Buffer.from(grid.png)).raw().toBuffer()), 'lossless');

  const got2 = nextReply();
  h.fake.sendCommand('imagine', { prompt: 'tiny limit' }, { attachmentSizeLimit: 4000 });
  const ref2 = await (await got2).reply.postJobMessage(views.done(card('tnym4x', h.fake.user('alice').id), grid));
  file = patchesOf(ref2.messageId!)[0].files[0];
  assert.equal(file.contentType, 'image/jpeg');
  assert.ok(file.bytes.length <= 4000);
  assert.equal(h.fake.message(ref2.messageId!)!.attachments[0].filename, 'grid.jpg');
});

test('missing channel permissions are explained up front in the job message', async () => {
  const got = nextReply();
  h.fake.sendCommand('imagine', { prompt: 'no perms' }, { appPermissions: String(1n << 10n) }); // View Channel only
  const { reply } = await got;
  const ref = await reply.postJobMessage(views.queued(card('noperm', h.fake.user('alice').id), 1));
  const content = h.fake.message(ref.messageId!)!.content;
  assert.ok(content.includes(PERMISSION_NOTE_PREFIX));
  assert.match(content, /\*\*Send Messages\*\*, \*\*Attach Files\*\*, \*\*Read Message History\*\*/);
});

async function jobMessage(jobId: string): Promise<{ ref: MessageRef; job: ReturnType<typeof card> }> {
  const got = nextReply();
  h.fake.sendCommand('imagine', { prompt: jobId });
  const job = card(jobId, h.fake.user('alice').id, jobId);
  const ref = await (await got).reply.postJobMessage(views.queued(job, 3));
  return { ref, job };
}

test('near the 15-minute token end, edits continue through the channel with the bot token', async () => {
  const { ref, job } = await jobMessage('xpry14');
  h.fake.clock.advance(14 * 60 * 1000 + 5000);
  const moved = (await core.surface!.editJobMessage(ref, views.running(job, 1, 4, await solidPng('#f0f', 16)))) as MessageRef;
  const last = h.fake.requests().at(-1)!;
  assert.equal(last.route, 'PATCH /channels/:channel/messages/:message');
  assert.equal(last.headers.authorization, `Bot ${h.fake.token}`);
  assert.equal(last.status, 200);
  assert.equal(moved.messageId, ref.messageId);
  assert.equal(moved.data?.token, null);
  h.fake.clock.advance(10 * 60 * 1000);
  await core.surface!.editJobMessage(moved, views.done(job, await solidPng('#0f0', 32)));
  assert.match(h.fake.message(ref.messageId!)!.content, /Done in 2 s/);
  h.fake.clock.offsetMs = 0;
});

test('when the old message cannot be edited any more, a new one is posted and the ref moves', async () => {
  const { ref, job } = await jobMessage('gn0001');
  h.fake.state.messages.delete(ref.messageId!);
  h.fake.clock.advance(15 * 60 * 1000);
  const moved = (await core.surface!.editJobMessage(ref, views.running(job, 2, 4))) as MessageRef;
  assert.notEqual(moved.messageId, ref.messageId);
  assert.match(h.fake.message(moved.messageId!)!.content, /Step 2\/4/);
  h.fake.clock.offsetMs = 0;
});

test('without channel access after 14 min, the message explains it through the token while it still can', async () => {
  const { ref, job } = await jobMessage('dnyd01');
  h.fake.setChannelAccess(h.fake.defaultChannelId, 'missing-access');
  h.fake.clock.advance(14 * 60 * 1000 + 5000);
  const stuck = (await core.surface!.editJobMessage(ref, views.running(job, 1, 4))) as MessageRef;
  assert.equal(stuck.data?.stuck, true);
  const content = h.fake.message(ref.messageId!)!.content;
  assert.match(content, /I can't keep this message updated/);
  assert.match(content, /\/show dnyd01/);
  h.fake.clock.advance(2 * 60 * 1000); // token now dead
  await assert.rejects(core.surface!.editJobMessage(stuck, views.running(job, 2, 4)), /expired/);
  h.fake.setChannelAccess(h.fake.defaultChannelId, 'ok');
  h.fake.clock.offsetMs = 0;
});

test('5xx are retried with backoff; 429 retry_after is obeyed; nothing is hammered', async () => {
  const { ref, job } = await jobMessage('fkyy01');
  const mine = (r: RecordedRequest) => r.method === 'PATCH' && r.path.includes(ref.messageId!);
  h.fake.inject({ status: 502, times: 2, match: mine });
  await core.surface!.editJobMessage(ref, views.running(job, 1, 4));
  let tries = h.fake.requests(mine);
  assert.deepEqual(tries.map((r) => r.status), [502, 502, 200]);
  assert.ok(tries[1].at - tries[0].at >= 120 && tries[2].at - tries[1].at >= 240, 'exponential backoff');

  h.fake.inject({ status: 429, retryAfter: 0.3, match: mine });
  await core.surface!.editJobMessage(ref, views.running(job, 2, 4));
  tries = h.fake.requests(mine).slice(3);
  assert.deepEqual(tries.map((r) => r.status), [429, 200]);
  assert.ok(tries[1].at - tries[0].at >= 290, `waited ${tries[1].at - tries[0].at} ms`);
  assert.match(h.fake.message(ref.messageId!)!.content, /Step 2\/4/);
});

test('a 5xx on the acknowledgement is retried within the 3 s window', async () => {
  h.fake.inject({ status: 503, match: (r) => r.route === 'POST /interactions/:interaction/:token/callback' });
  const got = nextReply();
  const it = h.fake.sendCommand('help', {});
  await got;
  const calls = h.fake.requests(forToken(it.ctx.token));
  assert.deepEqual(calls.map((r) => r.status), [503, 204]);
  assert.ok(calls[1].at - it.createdAt < 1000);
});

test('a restart between the grid and a button press: the new process handles the old message\'s button', async () => {
  const { ref, job } = await jobMessage('restrt');
  await core.surface!.editJobMessage(ref, views.done(job, await solidPng('#333', 32)));
  const core2 = new ScriptedCore();
  await h.restart(core2);
  assert.equal(h.fake.requests({ route: 'PUT /applications/:app/commands' }).length, 2, 're-registered');
  const got = new Promise<Reply>((resolve) => (core2.onDispatch = async (_i, reply) => resolve(reply)));
  const press = h.fake.sendButton(ref.messageId!, 'ib:restrt:v3');
  const reply = await got;
  assert.deepEqual(core2.inputs[0], { type: 'button', customId: 'ib:restrt:v3', actor: core2.inputs[0].actor });
  const child = await reply.postJobMessage(views.queued(card('child2', h.fake.user('alice').id), 1));
  assert.equal(child.messageId, press.originalMessageId);
  await core2.surface!.editJobMessage(ref, views.done(job, await solidPng('#444', 32))); // old message still editable
  assert.deepEqual(h.fake.schemaErrors(), []);
});

test('configuration: DISCORD_APP_ID may be left out (read from READY); bad values fail with how-to messages', async () => {
  const other = new ScriptedCore();
  const h2 = await startHarness(other, { applicationId: undefined });
  try {
    const put = h2.fake.requests({ route: 'PUT /applications/:app/commands' });
    assert.equal(put[0]?.params.app, h2.fake.applicationId);
    const got = new Promise<Reply>((resolve) => (other.onDispatch = async (_i, reply) => resolve(reply)));
    h2.fake.sendCommand('imagine', { prompt: 'no app id' });
    const ref = await (await got).postJobMessage(views.queued(card('nappid', h2.fake.user('alice').id), 1));
    await other.surface!.editJobMessage(ref, views.running(card('nappid', h2.fake.user('alice').id), 1, 2));
    assert.match(h2.fake.message(ref.messageId!)!.content, /Step 1\/2/);
  } finally {
    await h2.close();
  }
  assert.throws(() => createDiscordAdapter({ token: '' }), /Expected `DISCORD_TOKEN` to be the bot token/);
  assert.throws(() => createDiscordAdapter({ token: 't', applicationId: 'my-app' }), /Expected `DISCORD_APP_ID` to be the numeric application id .* got `my-app`/);
});

test('DISCORD_GUILD_IDS: commands are registered per guild (instant) and not globally', async () => {
  const other = new ScriptedCore();
  const guilds = ['111111111111111111', '222222222222222222'];
  const h2 = await startHarness(other, { guildIds: guilds });
  try {
    assert.equal(h2.fake.requests({ route: 'PUT /applications/:app/commands' }).length, 0);
    const puts = h2.fake.requests({ route: 'PUT /applications/:app/guilds/:guild/commands' });
    assert.deepEqual(puts.map((r) => r.params.guild), guilds);
    assert.ok(puts.every((r) => r.status === 200 && r.schemaErrors.length === 0));
    const got = new Promise<string>((resolve) => (other.onDispatch = async (input) => resolve(input.actor.guildId)));
    h2.fake.sendCommand('help', {}, { guildId: guilds[1] });
    assert.equal(await got, guilds[1]);
  } finally {
    await h2.close();
  }
});

test('gateway connection changes reach onConnectionChange: a resume, a resumable close, then a close for good', async () => {
  const other = new ScriptedCore();
  const states: string[] = [];
  const h2 = await startHarness(other, { onConnectionChange: (state, detail) => states.push(detail ? `${state}: ${detail}` : state) });
  const waitFor = async (what: string) => {
    for (let i = 0; i < 200 && !states.some((s) => s.startsWith(what)); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(states.some((s) => s.startsWith(what)), `expected "${what}" in ${JSON.stringify(states)}`);
  };
  try {
    assert.deepEqual(states, [], 'start-up itself is reported by start(), not here');
    h2.fake.gateway.requestReconnect(); // op 7: reconnect and resume
    await waitFor('connected');
    assert.deepEqual(states, ['reconnecting', 'connected']);
    states.length = 0;
    h2.fake.gateway.closeSessions(4000, 'Unknown error'); // resumable
    await waitFor('connected');
    assert.deepEqual(states, ['reconnecting', 'connected']);
    states.length = 0;
    h2.fake.gateway.closeSessions(4004, 'Authentication failed.'); // a reset token: no way back
    await waitFor('disconnected');
    assert.match(states.at(-1)!, /^disconnected: the gateway closed with code 4004/);
  } finally {
    await h2.close();
  }
});
