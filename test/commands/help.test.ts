// Help and messages that name commands use the platform's names: Slack registers `/imagine-settings` etc.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slashName } from '../../src/adapters/slack/commands.ts';
import type { Platform } from '../../src/core/types.ts';
import { RecordingReply, RecordingSurface, actor, harness } from '../helpers/core-harness.ts';

/** A Slack-like surface: the adapter's own naming rule. */
class SlackNamedSurface extends RecordingSurface {
  constructor() {
    super('slack' as Platform);
  }
  commandName(name: string): string {
    return slashName({ name });
  }
}

test('help, unknown commands and limit messages name commands as each platform types them', async () => {
  const h = await harness({ config: { queueMaxPerUser: 1 }, engine: { stepMs: 50 } });
  const slack = new SlackNamedSurface();
  h.core.bot.attachSurface(slack);
  const onSlack = actor('ana', 'T1', { platform: 'slack' });
  const send = async (who: typeof onSlack, name: string, options: Record<string, string> = {}) => {
    const reply = new RecordingReply(who.platform === 'slack' ? slack : h.surface);
    await h.core.bot.dispatch({ type: 'command', actor: who, name, options }, reply);
    return reply.lastText ?? '';
  };
  try {
    const slackHelp = await send(onSlack, 'help');
    assert.match(slackHelp, /^Example: \/imagine a lighthouse/);
    assert.match(slackHelp, /^\/imagine-settings: Your default/m);
    assert.match(slackHelp, /^\/imagine-cancel: /m);
    assert.doesNotMatch(slackHelp, /^\/(settings|show|queue|cancel|help):/m);

    const webHelp = await send(actor('ana'), 'help');
    assert.match(webHelp, /^\/settings: Your default/m);
    assert.match(webHelp, /^\/cancel: /m);

    assert.equal(await send(onSlack, 'paint'), "I don't know `/imagine-paint`. Try /imagine-help.");
    assert.equal(await send(actor('ana'), 'paint'), "I don't know `/paint`. Try /help.");

    // The per-user limit (1 here) points at the platform's cancel command.
    assert.equal(await send(onSlack, 'imagine', { prompt: 'first --steps 4 --n 1' }), '');
    assert.match(await send(onSlack, 'imagine', { prompt: 'second' }), /cancel one with \/imagine-cancel\.$/);
    assert.equal(await send(actor('bob'), 'imagine', { prompt: 'first --steps 4 --n 1' }), '');
    assert.match(await send(actor('bob'), 'imagine', { prompt: 'second' }), /cancel one with \/cancel\.$/);
  } finally {
    await h.close();
  }
});
