// Protocol test of the fake Slack against the real @slack/bolt App (Socket Mode and HTTP mode) and @slack/web-api's
// WebClient: if Bolt's wire behaviour changes, or the fake drifts from Slack, these fail before the adapter tests do.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { App, LogLevel, webApi } from '@slack/bolt';
import sharp from 'sharp';
import { FakeSlack } from './fake-slack.ts';
import { encodeForHttp, slackSignature } from './http-mode.ts';

const png = await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function socketApp(fake: FakeSlack): App {
  return new App({
    token: fake.botToken,
    appToken: fake.appToken,
    socketMode: true,
    logLevel: LogLevel.ERROR,
    // Socket-mode Bolt would otherwise give its pooled clients 100 retries (pitfall 11).
    clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
  });
}

const gridBlocks = (fileId: string) => [
  { type: 'section', text: { type: 'mrkdwn', text: '*a cat*' } },
  { type: 'image', slack_file: { id: fileId }, alt_text: 'a cat' },
  {
    type: 'actions',
    block_id: 'upscale',
    elements: ['U1', 'U2', 'U3', 'U4'].map((a) => ({ type: 'button', text: { type: 'plain_text', text: a }, action_id: `j:job1:${a}`, value: 'job1' })),
  },
  { type: 'actions', block_id: 'more', elements: [{ type: 'button', text: { type: 'plain_text', text: '🔄', emoji: true }, action_id: 'j:job1:R' }] },
];

describe('Socket Mode with the real Bolt app', () => {
  let fake: FakeSlack;
  let app: App;
  const seen: string[] = [];

  before(async () => {
    fake = await FakeSlack.start();
    app = socketApp(fake);
    app.command('/imagine', async ({ ack, command, client, respond }) => {
      await ack({ response_type: 'ephemeral', text: `Working on "${command.text}"` });
      seen.push(`command:${command.team_id}:${command.user_id}:${command.text}`);
      const posted = await client.chat.postMessage({ channel: command.channel_id, text: 'queued #1' });
      const upload = (await client.files.uploadV2({ file: png, filename: 'grid.png', title: 'grid' })) as unknown as { files: { files: { id: string }[] }[] };
      const fileId = upload.files[0].files[0].id;
      await client.chat.update({ channel: command.channel_id, ts: posted.ts!, text: 'a cat', blocks: gridBlocks(fileId) });
      await respond({ response_type: 'ephemeral', text: 'done' });
    });
    app.action(/^j:/, async ({ ack, action, body, respond }) => {
      await ack();
      seen.push(`action:${(action as { action_id: string }).action_id}:${body.user.id}`);
      await respond({ replace_original: true, text: 'upscaling…' });
    });
    await app.start();
  });

  after(async () => {
    await app.stop();
    await fake.close();
  });

  test('connects with auth.test (bot token) and apps.connections.open (app token), then hello', () => {
    assert.equal(fake.callsTo('auth.test')[0]?.token, fake.botToken);
    assert.equal(fake.callsTo('apps.connections.open')[0]?.token, fake.appToken);
    assert.equal(fake.socketMode.connections, 1);
  });

  test('a slash command is acked in time and drives postMessage → uploadV2 → chat.update → response_url', async () => {
    const payload = fake.slashCommand({ command: '/imagine', text: 'a cat', teamId: 'T0000000B', userId: 'U0000ALICE' });
    const ack = await fake.deliver(payload);
    assert.ok(ack, 'acked');
    assert.ok(ack.latencyMs < 3000);
    assert.deepEqual(ack.payload, { response_type: 'ephemeral', text: 'Working on "a cat"' });
    await fake.waitFor(() => fake.callsTo('response_url').length === 1, 5000, 'respond()');

    assert.deepEqual(seen, ['command:T0000000B:U0000ALICE:a cat']);
    const order = fake.calls.map((c) => c.method).filter((m) => m !== 'auth.test' && m !== 'apps.connections.open');
    assert.deepEqual(order, ['chat.postMessage', 'files.getUploadURLExternal', 'upload', 'files.completeUploadExternal', 'chat.update', 'response_url']);
    assert.deepEqual(
      fake.calls.filter((c) => c.schemaErrors.length > 0),
      [],
    );
    assert.deepEqual(fake.failures, []);

    const getUrl = fake.callsTo('files.getUploadURLExternal')[0];
    assert.equal(getUrl.args.length, String(png.length), 'length arrives as a string (pitfall 14)');
    assert.equal(fake.callsTo('upload')[0].args.field, 'body', 'bytes in the multipart part `body`');
    assert.equal(fake.callsTo('upload')[0].token, fake.botToken, 'the SDK sends the bot token to upload_url');
    const completed = fake.callsTo('files.completeUploadExternal')[0];
    assert.deepEqual(completed.args.files, [{ id: getUrl.response?.file_id, title: 'grid' }]);
    const fileObj = (completed.response?.files as Record<string, unknown>[])[0];
    assert.equal(fileObj.original_w, 16);
    assert.equal(fileObj.mimetype, 'image/png');

    // The posted message was edited into the grid, and the file URL serves the bytes to the bot token only.
    const [message] = fake.channelMessages(payload.channel_id);
    assert.equal(message.history.length, 2);
    assert.equal(message.history[0].text, 'queued #1');
    assert.equal((message.blocks?.[1] as { slack_file: { id: string } }).slack_file.id, getUrl.response?.file_id);
    const download = await fetch(String(fileObj.url_private), { headers: { authorization: `Bearer ${fake.botToken}` } });
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), png);
    const anonymous = await fetch(String(fileObj.url_private), { redirect: 'manual' });
    assert.equal(anonymous.status, 302);

    // The ack text and the respond() text are ephemeral messages for the user.
    assert.deepEqual(
      fake.ephemeralsFor('U0000ALICE').map((m) => [m.via, m.text]),
      [
        ['ack', 'Working on "a cat"'],
        ['response_url', 'done'],
      ],
    );
  });

  test('a button press on the posted message arrives as block_actions and respond() replaces the original', async () => {
    const [message] = fake.channelMessages('C0000000A');
    const payload = fake.blockActions({ channel: 'C0000000A', ts: message.ts, actionId: 'j:job1:U2', userId: 'U0000BOB01' });
    assert.equal(payload.actions[0].block_id, 'upscale');
    assert.equal(payload.actions[0].value, 'job1');
    const ack = await fake.deliver(payload);
    assert.deepEqual(ack?.payload, {}, 'a bare ack() sends an empty payload');
    await fake.waitFor(() => message.text === 'upscaling…', 5000, 'replace_original');
    assert.ok(seen.includes('action:j:job1:U2:U0000BOB01'));
    assert.throws(() => fake.blockActions({ channel: 'C0000000A', ts: message.ts, actionId: 'j:job1:V9' }), /no button/);
    assert.deepEqual(fake.failures, []);
  });

  test('a disconnect frame makes the client reconnect through a new apps.connections.open', async () => {
    const opens = fake.callsTo('apps.connections.open').length;
    fake.socketMode.disconnectAll();
    await fake.waitFor(() => fake.callsTo('apps.connections.open').length > opens, 10_000, 'reconnect');
    await fake.socketMode.connected();
    const ack = await fake.deliver(fake.slashCommand({ command: '/imagine', text: 'again' }));
    assert.equal(ack?.payload?.text, 'Working on "again"');
    await fake.waitFor(() => fake.callsTo('response_url').length === 3, 5000, 'the second command to finish');
  });
});

describe('the ack window', () => {
  test('a late ack is recorded as missing, then late; interactions are not redelivered', async () => {
    const fake = await FakeSlack.start({ ackTimeoutMs: 200 });
    const app = socketApp(fake);
    let calls = 0;
    app.command('/slow', async ({ ack }) => {
      calls++;
      await sleep(400);
      await ack();
    });
    await app.start();
    try {
      const ack = await fake.deliver(fake.slashCommand({ command: '/slow' }));
      assert.equal(ack, undefined, 'no ack inside the window');
      await fake.waitFor(() => fake.failures.some((f) => f.kind === 'late_ack'), 2000, 'the late ack');
      assert.deepEqual(
        fake.failures.map((f) => f.kind),
        ['missing_ack', 'late_ack'],
      );
      assert.equal(calls, 1);
    } finally {
      await app.stop();
      await fake.close();
    }
  });

  test('with retries on, a missed envelope is redelivered as a new envelope with retry_attempt', async () => {
    const fake = await FakeSlack.start({ ackTimeoutMs: 150, retryTypes: ['slash_commands'] });
    const app = socketApp(fake);
    const retryNums: (number | undefined)[] = [];
    app.command('/slow', async ({ ack }) => {
      retryNums.push(retryNums.length);
      if (retryNums.length === 1) await sleep(300);
      await ack();
    });
    await app.start();
    try {
      const ack = await fake.deliver(fake.slashCommand({ command: '/slow' }));
      assert.equal(ack?.attempt, 1);
      await fake.waitFor(() => fake.failures.length === 2, 2000, 'the late first ack');
      assert.deepEqual(
        fake.failures.map((f) => f.kind),
        ['missing_ack', 'late_ack'],
      );
      assert.equal(retryNums.length, 2, 'the app saw the command twice, as it would on Slack');
    } finally {
      await app.stop();
      await fake.close();
    }
  });
});

describe('Web API errors, faults and limits (WebClient straight at the fake)', () => {
  let fake: FakeSlack;
  before(async () => {
    fake = await FakeSlack.start();
  });
  after(() => fake.close());
  const client = (options: webApi.WebClientOptions = {}) =>
    new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR, ...options });

  test('arguments are checked by the hand-written schemas, with Slack error codes', async () => {
    const c = client();
    const long = [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'x'.repeat(76) }, action_id: 'a' }] }];
    await assert.rejects(c.chat.postMessage({ channel: 'C0000000A', text: 't', blocks: long }), (e: webApi.WebAPIPlatformError) => e.data.error === 'invalid_blocks');
    const dup = [{ type: 'actions', elements: ['a', 'a'].map((id) => ({ type: 'button', text: { type: 'plain_text', text: id }, action_id: id })) }];
    await assert.rejects(c.chat.postMessage({ channel: 'C0000000A', text: 't', blocks: dup }), (e: webApi.WebAPIPlatformError) => e.data.error === 'invalid_blocks');
    await assert.rejects(c.chat.postMessage({ channel: 'C0000000A', text: 't', unfurl_links: 'maybe' as unknown as boolean }), (e: webApi.WebAPIPlatformError) => e.data.error === 'invalid_arguments');
    await assert.rejects(c.chat.postMessage({ channel: 'C0000000Z', text: 't' }), (e: webApi.WebAPIPlatformError) => e.data.error === 'channel_not_found');
    await assert.rejects(c.chat.update({ channel: 'C0000000A', ts: '1.000000', text: 't' }), (e: webApi.WebAPIPlatformError) => e.data.error === 'message_not_found');
    const ghost = [{ type: 'image', slack_file: { id: 'F0NOPE' }, alt_text: 'x' }];
    await assert.rejects(c.chat.postMessage({ channel: 'C0000000A', text: 't', blocks: ghost }), (e: webApi.WebAPIPlatformError) => e.data.error === 'invalid_blocks');
    await assert.rejects(new webApi.WebClient('xoxb-wrong', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR }).auth.test(), (e: webApi.WebAPIPlatformError) => e.data.error === 'invalid_auth');
    await assert.rejects(new webApi.WebClient(fake.appToken, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR }).chat.postMessage({ channel: 'C0000000A', text: 't' }), (e: webApi.WebAPIPlatformError) => e.data.error === 'not_allowed_token_type');
    await assert.rejects(c.apps.connections.open({}), (e: webApi.WebAPIPlatformError) => e.data.error === 'not_allowed_token_type');
    await assert.rejects(c.files.completeUploadExternal({ files: [{ id: 'F0NOPE' }] }), (e: webApi.WebAPIPlatformError) => e.data.error === 'file_not_found');
    const kinds = new Set(fake.failures.map((f) => f.kind));
    assert.deepEqual([...kinds].sort(), ['invalid_arguments', 'invalid_auth']);
    fake.failures.length = 0;
  });

  test('JSON bodies are accepted like form bodies, with typed values and the token in the header', async () => {
    const post = (body: object, token = fake.botToken) =>
      fetch(`${fake.apiUrl}chat.postMessage`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ ok: boolean; ts: string; error?: string }>);
    const ok = await post({ channel: 'C0000000A', text: 'json', unfurl_links: false, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*json*' } }] });
    assert.equal(ok.ok, true);
    assert.equal(fake.message('C0000000A', ok.ts)?.text, 'json');
    assert.deepEqual(await post({ channel: 'C0000000A' }), { ok: false, error: 'invalid_arguments', response_metadata: { messages: ['/ must have required property \'text\'', '/ must have required property \'blocks\'', '/ must have required property \'attachments\'', '/ must match a schema in anyOf'] } });
    assert.equal((await post({ channel: 'C0000000A', text: 'x' }, 'xoxb-nope')).error, 'invalid_auth');
    fake.failures.length = 0;
  });

  test('files.delete removes a file; deleting one a message still shows is recorded', async () => {
    const c = client();
    const upload = (await c.files.uploadV2({ file: png, filename: 'shown.png' })) as unknown as { files: { files: { id: string }[] }[] };
    const id = upload.files[0].files[0].id;
    await c.chat.postMessage({ channel: 'C0000000A', text: 'img', blocks: [{ type: 'image', slack_file: { id }, alt_text: 'x' }] });
    await c.files.delete({ file: id });
    assert.equal(fake.files.has(id), false);
    assert.deepEqual(
      fake.failures.map((f) => f.kind),
      ['file_in_use'],
    );
    await assert.rejects(c.files.delete({ file: id }), (e: webApi.WebAPIPlatformError) => e.data.error === 'file_not_found');
    fake.failures.length = 0;
  });

  test('chat.postEphemeral is checked and lands as an ephemeral message', async () => {
    await client().chat.postEphemeral({ channel: 'C0000000A', user: 'U0000ALICE', text: 'only you' });
    assert.equal(fake.ephemeralsFor('U0000ALICE').at(-1)?.text, 'only you');
    await assert.rejects(client().chat.postEphemeral({ channel: 'C0000000A', user: 'nobody', text: 'x' }), (e: webApi.WebAPIPlatformError) => e.data.error === 'invalid_arguments');
    fake.failures.length = 0;
  });

  test('an injected 429 carries Retry-After, and a retrying client waits it out', async () => {
    fake.inject('chat.postMessage', { status: 429, retryAfter: 1 });
    await assert.rejects(client({ rejectRateLimitedCalls: true }).chat.postMessage({ channel: 'C0000000A', text: 'x' }), (e: webApi.WebAPIRateLimitedError) => e.code === webApi.ErrorCode.RateLimitedError && e.retryAfter === 1);
    fake.inject('chat.postMessage', { status: 429, retryAfter: 1 });
    const started = Date.now();
    const res = await client({ retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 0 } }).chat.postMessage({ channel: 'C0000000A', text: 'x' });
    assert.ok(res.ok);
    assert.ok(Date.now() - started >= 1000, `waited ${Date.now() - started} ms`);
    assert.deepEqual(
      fake.callsTo('chat.postMessage').slice(-3).map((c) => c.status),
      [429, 429, 200],
    );
  });

  test('an injected 5xx is an HTTP error; one retry gets through', async () => {
    fake.inject('chat.postMessage', { status: 503 });
    await assert.rejects(client().chat.postMessage({ channel: 'C0000000A', text: 'x' }), (e: webApi.WebAPIHTTPError) => e.code === webApi.ErrorCode.HTTPError && e.statusCode === 503);
    fake.inject('chat.postMessage', { status: 500, times: 1 });
    const res = await client({ retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 0 } }).chat.postMessage({ channel: 'C0000000A', text: 'x' });
    assert.ok(res.ok);
    fake.inject('upload', { status: 502 });
    await assert.rejects(client().files.uploadV2({ file: png, filename: 'a.png' }));
  });

  test("Slack's own per-minute limit answers 429 and is recorded as a failure", async () => {
    const limited = await FakeSlack.start({ rateLimits: { 'chat.update': 3 } });
    after(() => limited.close());
    const c = new webApi.WebClient(limited.botToken, { slackApiUrl: limited.apiUrl, rejectRateLimitedCalls: true, logLevel: webApi.LogLevel.ERROR });
    const posted = await c.chat.postMessage({ channel: 'C0000000A', text: 'x' });
    for (let i = 0; i < 3; i++) await c.chat.update({ channel: 'C0000000A', ts: posted.ts!, text: `edit ${i}` });
    await assert.rejects(c.chat.update({ channel: 'C0000000A', ts: posted.ts!, text: 'one too many' }), (e: webApi.WebAPIRateLimitedError) => e.retryAfter >= 59);
    assert.deepEqual(
      limited.failures.map((f) => f.kind),
      ['rate_limit_exceeded'],
    );
  });

  test('an upload whose size differs from the declared length is recorded', async () => {
    const c = client();
    const { upload_url, file_id } = await c.files.getUploadURLExternal({ filename: 'x.png', length: 10 });
    const res = await fetch(upload_url!, { method: 'POST', body: png });
    assert.equal(res.status, 200, 'raw bytes are accepted too');
    assert.equal(fake.files.get(file_id!)?.bytes?.length, png.length);
    assert.deepEqual(
      fake.failures.map((f) => f.kind),
      ['upload_mismatch'],
    );
    fake.failures.length = 0;
  });

  test('a response_url takes 5 responses, then is used up', async () => {
    const { response_url } = fake.slashCommand({ command: '/imagine' });
    for (let i = 0; i < 5; i++) {
      const res = await fetch(response_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `r${i}` }) });
      assert.equal(res.status, 200);
    }
    const sixth = await fetch(response_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'r5' }) });
    assert.equal(sixth.status, 404);
    assert.deepEqual(
      fake.failures.map((f) => f.kind),
      ['response_url_expired'],
    );
    fake.failures.length = 0;
  });
});

describe('HTTP mode with the real Bolt app', () => {
  const signingSecret = 'fake-signing-secret';
  let fake: FakeSlack;
  let app: App;
  let eventsUrl: string;
  const processed: string[] = [];

  before(async () => {
    fake = await FakeSlack.start();
    app = new App({ token: fake.botToken, signingSecret, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } } });
    app.command('/imagine', async ({ ack, command }) => {
      await ack({ response_type: 'ephemeral', text: 'ok' });
      processed.push(command.text);
    });
    app.action('press', async ({ ack, respond }) => {
      await ack();
      processed.push('press');
      await respond({ replace_original: true, text: 'pressed' });
    });
    const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
    eventsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });

  after(async () => {
    await app.stop();
    await fake.close();
  });

  test('a good signature gets 200 with the ack body and the command runs', async () => {
    const res = await fake.deliverHttp(eventsUrl, signingSecret, fake.slashCommand({ command: '/imagine', text: 'good' }));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { response_type: 'ephemeral', text: 'ok' });
    assert.deepEqual(processed, ['good']);
  });

  test('a bad signature or a timestamp older than 5 minutes gets 401 and nothing runs', async () => {
    const bad = await fake.deliverHttp(eventsUrl, signingSecret, fake.slashCommand({ command: '/imagine', text: 'bad' }), { signWith: 'not-the-secret' });
    const stale = await fake.deliverHttp(eventsUrl, signingSecret, fake.slashCommand({ command: '/imagine', text: 'stale' }), { timestampSec: Math.floor(Date.now() / 1000) - 301 });
    assert.deepEqual([bad.status, stale.status], [401, 401]);
    assert.deepEqual(processed, ['good']);
  });

  test('a content type with a charset suffix is refused by Bolt (pitfall 10)', async () => {
    const res = await fake.deliverHttp(eventsUrl, signingSecret, fake.slashCommand({ command: '/imagine', text: 'charset' }), { contentType: 'application/x-www-form-urlencoded; charset=utf-8' });
    assert.equal(res.status, 400);
    assert.deepEqual(processed, ['good']);
  });

  test('a block_actions payload= body is verified, acked and handled', async () => {
    const client = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, logLevel: webApi.LogLevel.ERROR });
    const posted = await client.chat.postMessage({ channel: 'C0000000A', text: 'x', blocks: [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Go' }, action_id: 'press' }] }] });
    const res = await fake.deliverHttp(eventsUrl, signingSecret, fake.blockActions({ channel: 'C0000000A', ts: posted.ts!, actionId: 'press' }));
    assert.equal(res.status, 200);
    await fake.waitFor(() => fake.message('C0000000A', posted.ts!)?.text === 'pressed', 5000, 'replace_original');
    assert.deepEqual(processed, ['good', 'press']);
    assert.deepEqual(fake.failures, []);
  });

  test('signatures follow v0:{ts}:{body} HMAC-SHA256', () => {
    // Slack's documented example (docs.slack.dev "Verifying requests from Slack").
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    assert.equal(slackSignature('8f742231b10e8888abcd99yyyzzz85a5', 1531420618, body), 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503');
    assert.equal(encodeForHttp({ type: 'block_actions' }), 'payload=%7B%22type%22%3A%22block_actions%22%7D');
  });
});
