// A job whose first message cannot be posted is cancelled (status failed, code bot_no_message) instead of running
// where nobody sees it, and the user is told privately why.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { BotError, ErrorCode } from '../../../src/core/errors.ts';
import type { MessageRef, ProgressView } from '../../../src/core/types.ts';
import { RecordingReply, actor, harness } from '../../helpers/core-harness.ts';

/** A reply whose channel refuses the job message after `afterMs`, as a platform without permission would. */
class RefusingReply extends RecordingReply {
  constructor(
    surface: ConstructorParameters<typeof RecordingReply>[0],
    readonly refusal: Error,
    readonly afterMs = 0,
  ) {
    super(surface);
  }
  override async postJobMessage(_view: ProgressView): Promise<MessageRef> {
    this.calls.push('post');
    await delay(this.afterMs);
    throw this.refusal;
  }
}

const jobIdIn = (text: string | undefined) => /Job `(\w+)` was cancelled/.exec(text ?? '')?.[1];

test('a running job whose message cannot be posted is aborted, stored as failed bot_no_message, and the user told', async () => {
  const h = await harness({ engine: { stepMs: 20 } });
  try {
    const reply = new RefusingReply(h.surface, new Error('socket hang up'), 100);
    await h.core.bot.dispatch({ type: 'command', actor: actor('ana'), name: 'imagine', options: { prompt: 'a fox --steps 30 --n 1' } }, reply);
    assert.deepEqual(reply.calls, ['ack:public', 'post', 'ephemeral']);
    assert.equal(reply.ephemerals[0].tone, 'error');
    assert.match(reply.lastText!, /^I could not post your job's message in this channel\. Job `\w+` was cancelled, so it does not run where nobody can see it\.$/);
    const jobId = jobIdIn(reply.lastText)!;
    // It had started (the queue was empty), and the engine was told to stop.
    assert.equal(h.engine.calls.length, 1);
    await h.core.dispatcher.close();
    assert.equal(h.engine.calls[0].signal?.aborted, true);
    const job = await h.store.getJob(jobId);
    assert.equal(job?.status, 'failed');
    assert.equal(job?.error?.code, ErrorCode.NoMessage);
    assert.equal(job?.completions, 0);
    assert.equal(h.surface.messages.size, 0, 'no progress message was posted anywhere else');
    assert.deepEqual(await h.store.pendingJobs(), []);
    assert.ok(h.lines.some((l) => l.level === 40 && l.msg === 'job cancelled: its message could not be posted' && l.jobId === jobId));
  } finally {
    await h.close();
  }
});

test('a queued job is removed before it runs; the adapter\'s own explanation (Slack: invite me) reaches the user', async () => {
  const h = await harness({ engine: { stepMs: 20 } });
  try {
    const blocker = await h.imagine(actor('bob'), 'a blocker --steps 10 --n 1');
    const invite = new BotError(ErrorCode.Forbidden, 'Slack refused to post: not_in_channel', 'I cannot post in this channel. Invite me with `/invite @imagine-bot` (or add the app to the channel), then try again.');
    const reply = new RefusingReply(h.surface, invite);
    await h.core.bot.dispatch({ type: 'command', actor: actor('ana'), name: 'imagine', options: { prompt: 'a fox --steps 2 --n 1' } }, reply);
    assert.equal(reply.ephemerals.length, 1, 'one private answer');
    assert.match(reply.lastText!, /^I cannot post in this channel\. Invite me with `\/invite @imagine-bot`.* Job `\w+` was cancelled/);
    const jobId = jobIdIn(reply.lastText)!;
    await h.settle(blocker.jobId!);
    // The blocker ran alone; the refused job never reached the engine and is not queued any more.
    assert.deepEqual(h.engine.calls.map((c) => c.prompt), ['a blocker']);
    assert.deepEqual(await h.core.dispatcher.position(jobId), undefined);
    assert.equal((await h.store.getJob(jobId))?.error?.code, 'bot_no_message');
    // The next job of that user runs normally.
    const next = await h.imagine(actor('ana'), 'a fox again --steps 2 --n 1');
    await h.settle(next.jobId!);
    assert.equal(h.surface.messageOf(next.jobId!)!.views.at(-1)!.state, 'done');
  } finally {
    await h.close();
  }
});
