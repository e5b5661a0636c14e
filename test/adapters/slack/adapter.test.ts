// The Slack adapter against the fake Slack with a scripted core: translation of commands and buttons, ack first,
// the progress message's edit cadence and previews, the final grid with buttons, ephemeral errors, retries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { optionsFromText, slashName } from '../../../src/adapters/slack/commands.ts';
import { createSlackAdapter, SlackSurface } from '../../../src/adapters/slack/index.ts';
import type { BotError } from '../../../src/core/errors.ts';
import { FakeSlack } from '../../fakes/slack/fake-slack.ts';
import { doneButtons } from '../../../src/core/button-id.ts';
import { createMetrics } from '../../../src/core/metrics.ts';
import type { CommandInput, MessageRef, ProgressView } from '../../../src/core/types.ts';
import { commands } from '../../../commands/index.ts';
import { actionIds, imageFileId, signingSecret, solidPng, startSlackHarness, type SlackHarness } from './harness.ts';
import { card, ScriptedCore, views } from './scripted-core.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byName = (name: string) => commands.find((c) => c.data.name === name)!.data;

describe('slash text → neutral options', () => {
  test('commands with a text option take the whole text; the rest take name=value pairs', () => {
    assert.equal(slashName(byName('imagine')), '/imagine');
    assert.equal(slashName(byName('settings')), '/imagine-settings');
    assert.deepEqual(optionsFromText(byName('imagine'), '  a fox --ar 3:2 --seed 7 '), { prompt: 'a fox --ar 3:2 --seed 7' });
    assert.deepEqual(optionsFromText(byName('imagine'), ''), {});
    assert.deepEqual(optionsFromText(byName('cancel'), 'k3f9qz'), { job: 'k3f9qz' });
    assert.deepEqual(optionsFromText(byName('settings'), 'ar=3:2 steps: 30 no="blurry, dark" scope=server reset=no'), {
      ar: '3:2',
      steps: '30',
      no: 'blurry, dark',
      scope: 'guild',
      reset: false,
    });
    assert.deepEqual(optionsFromText(byName('settings'), 'reset'), { reset: true });
    assert.throws(() => optionsFromText(byName('settings'), 'colour=red'), /Unknown option `colour` for \/imagine-settings/);
    assert.throws(() => optionsFromText(byName('settings'), 'ar=1:1 ar=2:1'), /given twice/);
    assert.throws(() => optionsFromText(byName('settings'), 'ar'), /Expected a value for `ar`/);
  });

  test('the surface defaults follow Slack limits: ~3 s between edits, previews coarser', () => {
    const surface = new SlackSurface({ client: {} as never });
    assert.equal(surface.minEditIntervalMs, 3000);
    assert.ok(surface.previewIntervalMs > surface.minEditIntervalMs);
  });
});

describe('Socket Mode adapter with a scripted core', () => {
  const core = new ScriptedCore();
  const metrics = createMetrics({ processMetrics: false });
  let h: SlackHarness;
  before(async () => {
    h = await startSlackHarness(core, { adapter: { minEditIntervalMs: 300, previewIntervalMs: 900, metrics }, fake: { admins: ['U0000ADMIN'] } });
  });
  after(() => h.close());

  test('/imagine: ack first, workspace as guild, then queued → previews → grid with U/V/🔄 buttons', async () => {
    const job = card('k3f9qz', 'U0000ALICE');
    const grid = await solidPng('#3366ff', 64, 'grid.png');
    let ref: MessageRef | undefined;
    const edits: Promise<unknown>[] = [];
    core.onDispatch = async (input, reply) => {
      ref = await reply.postJobMessage(views.queued(job, 1));
      for (let step = 1; step <= 12; step++) {
        edits.push(core.surface!.editJobMessage(ref, views.running(job, step, 12, await solidPng(`rgb(${step * 20},0,0)`, 16))));
        await sleep(60);
      }
      const done: ProgressView = { job, title: 'a red fox', status: 'Done in 1 s', state: 'done', image: grid, imageCount: 4, seeds: [1, 2, 3, 4], warnings: [], buttons: doneButtons(job.jobId, 4, false), durationMs: 1000 };
      edits.push(core.surface!.editJobMessage(ref, done));
    };
    const payload = h.fake.slashCommand({ command: '/imagine', text: 'a red fox --seed 1', teamId: 'T0000000B', userId: 'U0000ALICE' });
    const started = Date.now();
    const ack = await h.fake.deliver(payload);
    assert.ok(ack && ack.latencyMs < 3000);
    await h.fake.waitFor(() => edits.length === 13, 5000, 'the script');
    await Promise.all(edits);

    const input = core.inputs.at(-1) as CommandInput;
    assert.deepEqual(input, {
      type: 'command',
      name: 'imagine',
      options: { prompt: 'a red fox --seed 1' },
      actor: { platform: 'slack', guildId: 'T0000000B', channelId: payload.channel_id, userId: 'U0000ALICE', userName: 'u0000alice', isAdmin: false, roles: [] },
    });
    // The ack reached Slack before anything the command caused.
    const ackAt = h.fake.acks.at(-1)!;
    const firstPost = h.fake.callsTo('chat.postMessage')[0];
    assert.ok(ackAt.receivedAt <= firstPost.at, 'acked before the job message was posted');
    assert.ok(ackAt.receivedAt <= h.fake.callsTo('users.info')[0].at, 'acked before the admin lookup');

    const message = h.fake.message(payload.channel_id, ref!.messageId!)!;
    assert.equal(ref!.platform, 'slack');
    assert.deepEqual(ref!.data, { team: 'T0000000B' });
    assert.match(message.history[0].text!, /Queued: #1/);
    // Edits are coalesced: far fewer than the 13 views, at least 300 ms apart, latest wins.
    const updates = h.fake.callsTo('chat.update');
    const elapsed = Date.now() - started;
    assert.ok(updates.length >= 2 && updates.length < 13 && updates.length <= elapsed / 300 + 2, `${updates.length} updates in ${elapsed} ms`);
    const gaps = updates.slice(1).map((u, i) => u.at - updates[i].at);
    assert.ok(gaps.every((g) => g >= 280), `gaps ${gaps}`);
    // Previews were uploaded at the coarser cadence and shown in an image block.
    const previewUploads = h.fake.callsTo('files.getUploadURLExternal').filter((c) => String(c.args.filename).startsWith('preview-'));
    assert.ok(previewUploads.length >= 1 && previewUploads.length <= elapsed / 900 + 1, `${previewUploads.length} preview uploads in ${elapsed} ms`);
    assert.ok(message.history.some((v) => /Step \d+\/12/.test(v.text ?? '') && imageFileId(v.blocks)));
    // Previews the message no longer shows are deleted; the grid stays.
    await h.fake.waitFor(() => h.fake.callsTo('files.delete').length === previewUploads.length, 5000, 'preview deletes');
    assert.ok(previewUploads.every((c) => !h.fake.files.has(String(c.response?.file_id))));
    // The final grid: the uploaded bytes, then U1–U4 + 🔄 and V1–V4.
    assert.match(message.text!, /Done/);
    const file = h.fake.files.get(imageFileId(message.blocks)!)!;
    assert.deepEqual(new Uint8Array(file.bytes!), grid.png);
    assert.equal(file.filename, 'grid.png');
    assert.deepEqual(actionIds(message.blocks), [
      ['ib:k3f9qz:u1', 'ib:k3f9qz:u2', 'ib:k3f9qz:u3', 'ib:k3f9qz:u4', 'ib:k3f9qz:rr'],
      ['ib:k3f9qz:v1', 'ib:k3f9qz:v2', 'ib:k3f9qz:v3', 'ib:k3f9qz:v4'],
    ]);
    assert.deepEqual(h.fake.failures, []);
  });

  test('a button press becomes a ButtonInput with the admin flag from users.info', async () => {
    const [message] = h.fake.channelMessages('C0000000A').filter((m) => /Done/.test(m.text ?? ''));
    core.onDispatch = async (_input, reply) => {
      await reply.postJobMessage(views.queued(card('m4x2ab', 'U0000ADMIN', 'upscale'), 1));
    };
    const before = h.fake.channelMessages('C0000000A').length;
    const ack = await h.fake.deliver(h.fake.blockActions({ channel: 'C0000000A', ts: message.ts, actionId: 'ib:k3f9qz:u2', userId: 'U0000ADMIN', teamId: 'T0000000B' }));
    assert.deepEqual(ack?.payload, {});
    await h.fake.waitFor(() => h.fake.channelMessages('C0000000A').length === before + 1, 5000, 'the new job message');
    assert.deepEqual(core.inputs.at(-1), {
      type: 'button',
      customId: 'ib:k3f9qz:u2',
      actor: { platform: 'slack', guildId: 'T0000000B', channelId: 'C0000000A', userId: 'U0000ADMIN', userName: 'u0000admin', isAdmin: true, roles: [] },
    });
  });

  test('errors are ephemeral; text the adapter cannot parse never reaches the core', async () => {
    const seen = core.inputs.length;
    await h.fake.deliver(h.fake.slashCommand({ command: '/imagine-settings', text: 'colour=red', userId: 'U0000CAROL' }));
    await h.fake.waitFor(() => h.fake.ephemeralsFor('U0000CAROL').length === 1, 5000, 'the ephemeral error');
    assert.equal(core.inputs.length, seen);
    assert.match(h.fake.ephemeralsFor('U0000CAROL')[0].text!, /⚠️ Unknown option `colour`/);

    core.onDispatch = async (_input, reply) => reply.ephemeral({ text: 'Expected `--steps` to be an integer from 1 to 150, got `abc` (string)', tone: 'error' });
    const channelBefore = h.fake.channelMessages('C0000000A').length;
    await h.fake.deliver(h.fake.slashCommand({ command: '/imagine', text: 'x --steps abc', userId: 'U0000CAROL' }));
    await h.fake.waitFor(() => h.fake.ephemeralsFor('U0000CAROL').length === 2, 5000, 'the core error');
    assert.match(h.fake.ephemeralsFor('U0000CAROL')[1].text!, /--steps/);
    assert.equal(h.fake.channelMessages('C0000000A').length, channelBefore, 'nothing public');
  });

  test('when the response_url is used up, ephemeral answers fall back to chat.postEphemeral', async () => {
    h.fake.inject('response_url', { status: 500, times: 1 });
    core.onDispatch = async (_input, reply) => reply.ephemeral({ text: 'You have no jobs.' });
    await h.fake.deliver(h.fake.slashCommand({ command: '/imagine-queue', userId: 'U0000DAVE1' }));
    await h.fake.waitFor(() => h.fake.ephemeralsFor('U0000DAVE1').length === 1, 5000, 'the fallback');
    assert.equal(h.fake.ephemeralsFor('U0000DAVE1')[0].via, 'chat.postEphemeral');
  });

  test('a 429 on chat.update waits Retry-After, then sends the newest view; 5xx are retried', async () => {
    const job = card('r8t5yw', 'U0000ALICE');
    const ref = await core.surface!.postJobMessage({ guildId: 'T0000000A', channelId: 'C0000000A' }, views.queued(job, 3));
    await sleep(320);
    h.fake.inject('chat.update', { status: 429, retryAfter: 1 });
    const started = Date.now();
    const first = core.surface!.editJobMessage(ref, views.queued(job, 2));
    await sleep(100);
    const second = core.surface!.editJobMessage(ref, views.queued(job, 1));
    await Promise.all([first, second]);
    const updates = h.fake.callsTo('chat.update').filter((c) => c.args.ts === ref.messageId);
    assert.deepEqual(updates.map((u) => u.status), [429, 200]);
    assert.ok(updates[1].at - started >= 1000, 'waited Retry-After');
    assert.match(String(updates[1].args.text), /Queued: #1/, 'latest wins');

    h.fake.inject('chat.update', { status: 503, times: 2 });
    await sleep(320);
    await core.surface!.editJobMessage(ref, views.running(job, 1, 4));
    assert.deepEqual(
      h.fake.callsTo('chat.update').filter((c) => c.args.ts === ref.messageId).slice(2).map((u) => u.status),
      [503, 503, 200],
    );
    assert.match(h.fake.message('C0000000A', ref.messageId!)!.text!, /Step 1\/4/);
    assert.match(await metrics.text(), /imagine_rate_limit_hits_total\{platform="slack"\} 1\b/);
    assert.match(await metrics.text(), /imagine_ack_latency_seconds_count\{platform="slack"\} [1-9]/);
  });

  test('a deleted progress message is posted again and the moved ref returned', async () => {
    const job = card('d3l3t3', 'U0000ALICE');
    const ref = await core.surface!.postJobMessage({ guildId: 'T0000000A', channelId: 'C0000000A' }, views.queued(job, 1));
    h.fake.messages.splice(h.fake.messages.indexOf(h.fake.message('C0000000A', ref.messageId!)!), 1);
    const moved = (await core.surface!.editJobMessage(ref, views.running(job, 2, 4))) as MessageRef;
    assert.ok(moved && moved.messageId !== ref.messageId);
    assert.match(h.fake.message('C0000000A', moved.messageId!)!.text!, /Step 2\/4/);
  });
});

describe('start-up errors', () => {
  test('a wrong bot token or app token fails start with a coded error that says which token, and crashes nothing', async () => {
    const fake = await FakeSlack.start();
    try {
      const start = (botToken: string, appToken: string) => createSlackAdapter({ botToken, appToken, apiUrl: fake.apiUrl, logLevel: 'error' }).start(new ScriptedCore());
      await assert.rejects(start('xoxb-wrong', fake.appToken), (e: BotError) => e.code === 'bot_config' && /SLACK_BOT_TOKEN.*invalid_auth/.test(e.message));
      await assert.rejects(start(fake.botToken, 'xapp-wrong'), (e: BotError) => e.code === 'bot_config' && /SLACK_APP_TOKEN/.test(e.message) && /invalid_auth/.test(e.message));
      assert.throws(() => createSlackAdapter({ botToken: fake.botToken }), /SLACK_APP_TOKEN.*or `SLACK_SIGNING_SECRET`/);
    } finally {
      await fake.close();
    }
  });
});

describe('connection changes', () => {
  test('Slack rotating the Socket Mode connection is reported as reconnecting, then connected', async () => {
    const fake = await FakeSlack.start();
    const states: string[] = [];
    const adapter = createSlackAdapter({ botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.apiUrl, logLevel: 'error', onConnectionChange: (state) => states.push(state) });
    try {
      await adapter.start(new ScriptedCore());
      assert.deepEqual(states, [], 'start-up itself is reported by start(), not here');
      const opens = fake.callsTo('apps.connections.open').length;
      fake.socketMode.disconnectAll();
      await fake.waitFor(() => states.at(-1) === 'connected', 15_000, 'the reconnect');
      assert.equal(states[0], 'reconnecting');
      assert.ok(fake.callsTo('apps.connections.open').length > opens, 'a fresh connection URL was asked for');
      await adapter.stop();
      assert.equal(states.at(-1), 'connected', 'a deliberate stop is not a lost connection');
    } finally {
      await adapter.stop();
      await fake.close();
    }
  });
});

describe('HTTP mode adapter', () => {
  const core = new ScriptedCore();
  let h: SlackHarness;
  before(async () => {
    h = await startSlackHarness(core, { mode: 'http' });
  });
  after(() => h.close());

  test('good signature → 200 and dispatched; bad or stale → 401 and not processed', async () => {
    core.onDispatch = async (_input, reply) => reply.ephemeral({ text: 'ok' });
    const url = h.adapter.eventsUrl!;
    const good = await h.fake.deliverHttp(url, signingSecret, h.fake.slashCommand({ command: '/imagine-help', userId: 'U0000ERIN1' }));
    const bad = await h.fake.deliverHttp(url, signingSecret, h.fake.slashCommand({ command: '/imagine-help', userId: 'U0000ERIN1' }), { signWith: 'wrong' });
    const stale = await h.fake.deliverHttp(url, signingSecret, h.fake.slashCommand({ command: '/imagine-help', userId: 'U0000ERIN1' }), { timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 });
    assert.deepEqual([good.status, bad.status, stale.status], [200, 401, 401]);
    assert.ok(good.latencyMs < 3000);
    await h.fake.waitFor(() => h.fake.ephemeralsFor('U0000ERIN1').length === 1, 5000, 'the answer');
    await sleep(200);
    assert.equal(core.inputs.length, 1);
    assert.equal(h.fake.ephemeralsFor('U0000ERIN1').length, 1);
    assert.deepEqual(h.fake.failures, []);
  });
});
