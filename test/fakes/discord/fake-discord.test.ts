// Protocol test of the fake itself, driven by the real discord.js client: if these pass, the fake speaks enough of
// Discord for the adapter tests to mean something.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  HTTPError,
  Routes,
  type Interaction,
} from 'discord.js';
import { FakeDiscord } from './fake-discord.ts';

let fake: FakeDiscord;
let client: Client;
/** The test decides per interaction what the bot does. */
let onInteraction: (i: Interaction) => Promise<void> = async () => {};
const handlerErrors: unknown[] = [];

const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c03' } }).png().toBuffer();

before(async () => {
  fake = await FakeDiscord.start({ heartbeatIntervalMs: 300 });
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBase, retries: 0, timeout: 2000 } });
  client.on(Events.InteractionCreate, (i) => void onInteraction(i).catch((e: unknown) => handlerErrors.push(e)));
  const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve)); // attach before login
  await client.login(fake.token);
  await ready;
});

after(async () => {
  await client.destroy();
  await fake.close();
});

/** Runs `fn` for the next interaction and resolves with its outcome. */
function next(fn: (i: Interaction) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    onInteraction = (i) => fn(i).then(resolve, (e: unknown) => (reject(e), Promise.resolve()));
  });
}

test('login: GET /gateway/bot with the bot token, gateway IDENTIFY, READY, heartbeats acknowledged', async () => {
  const gw = fake.requests({ route: 'GET /gateway/bot' });
  assert.equal(gw.length, 1);
  assert.equal(gw[0].headers.authorization, `Bot ${fake.token}`);
  const identify = fake.gateway.received.find((f) => f.op === 2);
  assert.equal((identify?.d as { token: string }).token, fake.token);
  assert.equal(client.user?.id, fake.applicationId);
  assert.equal(client.application?.id, fake.applicationId);
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(fake.gateway.heartbeats >= 1, 'client heartbeats');
  assert.ok(client.ws.ping >= 0, 'client saw heartbeat ACKs');
});

test('command registration is stored and typed options come back on dispatch', async () => {
  await client.application!.commands.set([
    { name: 'imagine', description: 'Generate an image', options: [
      { type: 3, name: 'prompt', description: 'What to draw', required: true },
      { type: 4, name: 'seed', description: 'Seed', min_value: 0 },
    ] },
  ]);
  const put = await fake.waitFor({ route: 'PUT /applications/:app/commands' });
  assert.equal(put.status, 200);
  assert.deepEqual(put.schemaErrors, []);
  assert.equal(fake.state.commands.get('global')?.[0].name, 'imagine');
  assert.throws(() => fake.sendCommand('imagine', { nope: 1 }), /has no option `nope`/);
});

test('slash command: defer, edit with a PNG, follow-up with buttons, all spec-valid; button press updates', async () => {
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    assert.equal(i.options.getString('prompt'), 'a cat');
    assert.equal(i.options.getInteger('seed'), 42);
    assert.equal(i.guildId, fake.defaultGuildId);
    assert.equal(i.attachmentSizeLimit, 10 * 1024 * 1024);
    await i.deferReply();
    await i.editReply({ content: '**a cat**', files: [new AttachmentBuilder(png, { name: 'grid.png' })] });
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('u1').setLabel('U1').setStyle(ButtonStyle.Secondary),
      new ButtonBuilder().setCustomId('regen').setEmoji('🔄').setStyle(ButtonStyle.Secondary),
    );
    await i.followUp({ content: 'done', components: [row] });
  });
  const it = fake.sendCommand('imagine', { prompt: 'a cat', seed: 42 });
  await done;

  const mine = fake.requests((r) => r.path.includes(it.ctx.token) || r.path.includes(it.ctx.id));
  assert.deepEqual(mine.map((r) => `${r.route} ${r.status}`), [
    'POST /interactions/:interaction/:token/callback 204',
    'PATCH /webhooks/:app/:token/messages/:message 200',
    'POST /webhooks/:app/:token 200',
  ]);
  assert.equal(mine[0].headers.authorization, undefined, 'interaction calls carry no bot token');
  assert.deepEqual((mine[0].body as { type: number }).type, 5);
  assert.equal(mine[1].params.message, '@original', '%40original is decoded');
  assert.equal(mine[1].files[0].contentType, 'image/png');
  assert.ok(mine[1].files[0].bytes.equals(png));
  assert.deepEqual(fake.schemaErrors(), []);

  const original = fake.message(it.originalMessageId!)!;
  assert.equal(original.content, '**a cat**');
  const served = await fetch(original.attachments[0].url);
  assert.equal(served.headers.get('content-type'), 'image/png');
  assert.ok(Buffer.from(await served.arrayBuffer()).equals(png), 'attachment bytes served back');

  const followUp = mine[2].response as { id: string; components: { components: { custom_id: string }[] }[] };
  assert.equal(followUp.components[0].components[1].custom_id, 'regen');

  const pressed = next(async (i) => {
    assert.ok(i.isButton());
    assert.equal(i.customId, 'regen');
    assert.equal(i.message.id, followUp.id);
    await i.update({ content: 'regenerating…', components: [] });
    await i.editReply({ content: 'again', files: [new AttachmentBuilder(png, { name: 'grid.png' })] });
  });
  const press = fake.sendButton(followUp.id, 'regen', { user: fake.user('bob') });
  await pressed;
  const calls = fake.requests((r) => r.path.includes(press.ctx.token));
  assert.deepEqual(calls.map((r) => [(r.body as { type?: number }).type, r.status]), [[7, 204], [undefined, 200]]);
  const updated = fake.message(followUp.id)!;
  assert.equal(updated.content, 'again');
  assert.equal(updated.components?.length, 0);
  assert.equal(updated.attachments.length, 1);
  assert.deepEqual(fake.schemaErrors(), []);
});

test('DM interactions carry `user` instead of `member` and work the same', async () => {
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    assert.equal(i.guildId, null);
    assert.equal(i.user.username, 'carol');
    await i.reply({ content: 'only for you', flags: 64 });
  });
  const it = fake.sendCommand('imagine', { prompt: 'x' }, { guildId: null, user: fake.user('carol') });
  await done;
  const cb = await fake.waitFor((r) => r.path.includes(it.ctx.token));
  assert.deepEqual(cb.body, { type: 4, data: { content: 'only for you', tts: false, flags: 64, enforce_nonce: false } });
  assert.equal(cb.status, 204);
});

test('a first response after 3 s is refused with 10062, a second callback with 40060', async () => {
  let late: unknown;
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    fake.clock.advance(3100);
    late = await i.deferReply().catch((e: unknown) => e);
  });
  fake.sendCommand('imagine', { prompt: 'slow' });
  await done;
  assert.ok(late instanceof DiscordAPIError && late.code === 10062, `got ${String(late)}`);

  const twice = next(async (i) => {
    const route = Routes.interactionCallback(i.id, (i as { token: string }).token);
    await client.rest.post(route, { body: { type: 5 }, auth: false });
    const second = await client.rest.post(route, { body: { type: 5 }, auth: false }).catch((e: unknown) => e);
    assert.ok(second instanceof DiscordAPIError && second.code === 40060, `got ${String(second)}`);
  });
  fake.sendCommand('imagine', { prompt: 'twice' });
  await twice;
});

test('webhook calls with a token older than 15 minutes fail with 50027', async () => {
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    await i.deferReply();
    fake.clock.advance(15 * 60 * 1000 + 1);
    const err = await i.editReply('too late').catch((e: unknown) => e);
    assert.ok(err instanceof DiscordAPIError && err.code === 50027 && err.status === 401, `got ${String(err)}`);
  });
  fake.sendCommand('imagine', { prompt: 'old' });
  await done;
});

test('injected 429 is obeyed (retry after retry_after) and injected 503 surfaces with retries: 0', async () => {
  const before429 = fake.rateLimited;
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    await i.deferReply();
    fake.inject({ status: 429, retryAfter: 0.2, match: (r) => r.method === 'PATCH' });
    await i.editReply('after 429');
    fake.inject({ status: 503, match: (r) => r.method === 'PATCH' });
    const err = await i.editReply('after 503').catch((e: unknown) => e);
    assert.ok(err instanceof HTTPError && err.status === 503, `got ${String(err)}`);
    await i.editReply('recovered');
  });
  const it = fake.sendCommand('imagine', { prompt: 'limits' });
  await done;
  const patches = fake.requests((r) => r.method === 'PATCH' && r.path.includes(it.ctx.token));
  assert.deepEqual(patches.map((r) => r.status), [429, 200, 503, 200]);
  assert.equal(patches[0].response && (patches[0].response as { retry_after: number }).retry_after, 0.2);
  assert.ok(patches[1].at - patches[0].at >= 190, `waited ${patches[1].at - patches[0].at} ms`);
  assert.equal(fake.rateLimited - before429, 1);
  assert.equal(fake.message(it.originalMessageId!)?.content, 'recovered');
});

test('bucket headers make the client pace itself: 12 quick edits, no 429', async () => {
  const before429 = fake.rateLimited;
  fake.bucket = { limit: 3, windowMs: 150 };
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    await i.deferReply();
    await Promise.all(Array.from({ length: 12 }, (_, n) => i.editReply(`edit ${n}`)));
  });
  const it = fake.sendCommand('imagine', { prompt: 'burst' });
  await done;
  fake.bucket = { limit: 5, windowMs: 2000 };
  assert.equal(fake.rateLimited, before429);
  const patches = fake.requests((r) => r.method === 'PATCH' && r.path.includes(it.ctx.token));
  assert.equal(patches.length, 12);
  assert.ok(patches[11].at - patches[0].at >= 3 * 150 - 20, 'paced over at least three windows');
});

test('channel messages need the bot token; missing permissions are 403 with Discord codes', async () => {
  const channel = fake.defaultChannelId;
  const msg = (await client.rest.post(Routes.channelMessages(channel), { body: { content: 'hello' } })) as { id: string };
  await client.rest.patch(Routes.channelMessage(channel, msg.id), { body: { content: 'edited' } });
  assert.equal(fake.message(msg.id)?.content, 'edited');
  const noAuth = await fetch(`${fake.apiBase}/v10/channels/${channel}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content":"x"}' });
  assert.equal(noAuth.status, 401);
  fake.setChannelAccess(channel, 'missing-permissions');
  const err = await client.rest.post(Routes.channelMessages(channel), { body: { content: 'x' } }).catch((e: unknown) => e);
  assert.ok(err instanceof DiscordAPIError && err.code === 50013 && err.status === 403);
  fake.setChannelAccess(channel, 'ok');
});

test('schema validation catches what Discord would reject', async () => {
  const channel = fake.defaultChannelId;
  const row = { type: 1, components: Array.from({ length: 6 }, (_, n) => ({ type: 2, style: 2, label: `B${n}`, custom_id: `b${n}` })) };
  const err = await client.rest.post(Routes.channelMessages(channel), { body: { content: 'x', components: [row] } }).catch((e: unknown) => e);
  assert.ok(err instanceof DiscordAPIError && err.code === 50035, `got ${String(err)}`);
  const bad = fake.requests((r) => r.status === 400 && r.route === 'POST /channels/:channel/messages').at(-1)!;
  assert.match(bad.schemaErrors.join('\n'), /components/);
  const long = await client.rest.post(Routes.channelMessages(channel), { body: { content: 'x'.repeat(4001) } }).catch((e: unknown) => e);
  assert.ok(long instanceof DiscordAPIError && long.code === 50035, `got ${String(long)}`);
  fake.recorder.all.splice(0); // keep schemaErrors() meaningful for later assertions
});

test('wrong tokens: REST 401 makes login fail; gateway IDENTIFY closes with 4004', async () => {
  const other = new Client({ intents: [], rest: { api: fake.apiBase, retries: 0, timeout: 2000 } });
  await assert.rejects(other.login('wrong-token'), /invalid token/i);
  await other.destroy();

  const ws = new WebSocket(`${fake.baseUrl.replace('http', 'ws')}/gateway?v=10&encoding=json`);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (m) => {
    if (JSON.parse(String(m)).op === 10) ws.send(JSON.stringify({ op: 2, d: { token: 'nope', intents: 0, properties: {} } }));
  });
  assert.equal(await closed, 4004);
});

test('op 7 Reconnect: the client resumes its session and keeps receiving interactions', async () => {
  const sessionsBefore = fake.gateway.sessions.size;
  fake.gateway.requestReconnect();
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (fake.gateway.received.some((f) => f.op === 6) && fake.gateway.liveSessions.length === 1) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  assert.equal(fake.gateway.sessions.size, sessionsBefore, 'resumed, not re-identified');
  const done = next(async (i) => {
    assert.ok(i.isChatInputCommand());
    await i.reply('still here');
  });
  fake.sendCommand('imagine', { prompt: 'after resume' });
  await done;
});

test('no handler errors leaked', () => {
  assert.deepEqual(handlerErrors, []);
});
