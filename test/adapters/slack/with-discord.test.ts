// Discord and Slack in one process: both adapters on one core, so one fair queue and one engine serve both
// platforms. A Discord job and a Slack job submitted together both finish, one after the other.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDiscordAdapter } from '../../../src/adapters/discord/index.ts';
import type { JobRecord } from '../../../src/core/types.ts';
import { FakeDiscord } from '../../fakes/discord/fake-discord.ts';
import { startSlackHarness } from './harness.ts';
import { finalMessage, GatedEngine, jobIdOf, newCore, startEngine, statusOf, type World } from './world.ts';

test('Discord and Slack share one queue and one engine in one process', async () => {
  const engine = new GatedEngine(await startEngine());
  const core = newCore(engine, mkdtempSync(join(tmpdir(), 'imagine-both-')));
  const discordFake = await FakeDiscord.start({ heartbeatIntervalMs: 1000 });
  const discord = createDiscordAdapter({ token: discordFake.token, applicationId: discordFake.applicationId, apiBase: discordFake.apiBase, now: () => discordFake.clock.now(), requestTimeoutMs: 3000 });
  const slack = await startSlackHarness(core.bot, { adapter: { minEditIntervalMs: 100, previewIntervalMs: 300 } });
  const queued: JobRecord[] = [];
  const finished = new Map<string, JobRecord>();
  core.bot.on('jobQueued', (job) => queued.push(job));
  core.bot.on('jobFinished', (job) => finished.set(job.id, job));
  try {
    await discord.start(core.bot);
    await core.start();

    // The Discord job holds the engine until the Slack job is queued too.
    engine.hold();
    const interaction = discordFake.sendCommand('imagine', { prompt: 'from discord --steps 20' });
    await slack.fake.waitFor(() => queued.length === 1, 10_000, 'the Discord job');
    await slack.fake.deliver(slack.fake.slashCommand({ command: '/imagine', text: 'from slack --steps 20', userId: 'U0000ALICE' }));
    await slack.fake.waitFor(() => queued.length === 2, 10_000, 'the Slack job');
    const depth = await core.bot.services.jobs.depth();
    assert.deepEqual([depth.running, depth.queued], [1, 1], 'both jobs are in the one queue');
    engine.release();

    const [fromDiscord, fromSlack] = queued;
    assert.deepEqual([fromDiscord.platform, fromSlack.platform], ['discord', 'slack']);
    await slack.fake.waitFor(() => finished.has(fromDiscord.id) && finished.has(fromSlack.id), 20_000, 'both jobs');

    // One engine: the jobs ran one after the other, not side by side.
    const [d, s] = [await core.store.getJob(fromDiscord.id), await core.store.getJob(fromSlack.id)];
    assert.deepEqual([d!.status, s!.status], ['done', 'done']);
    assert.ok(s!.startedAt! >= d!.finishedAt!, 'the Slack job started after the Discord job finished');

    // Each platform shows its own result.
    const slackMessage = await finalMessage({ h: slack } as World, 'C0000000A', fromSlack.id);
    assert.equal(jobIdOf(slackMessage), fromSlack.id);
    assert.match(statusOf(slackMessage), /^Done/);
    await slack.fake.waitFor(() => interaction.originalMessageId !== undefined && (discordFake.message(interaction.originalMessageId)?.attachments.length ?? 0) > 0, 10_000, 'the Discord grid');
    assert.match(discordFake.message(interaction.originalMessageId!)!.content, new RegExp(fromDiscord.id));
  } finally {
    await discord.stop();
    await slack.close();
    await discordFake.close();
    await core.close();
    await engine.close();
  }
});
