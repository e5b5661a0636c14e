import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BotError } from '../../../src/core/errors.ts';
import { createModerator, findBanned, normalize } from '../../../src/core/moderation.ts';
import { actor } from '../../helpers/core-harness.ts';

test('matching ignores case, diacritics and dotted spelling, and works on whole words and phrases', () => {
  assert.equal(normalize('A Nüde, n.u.d.e! CAT'), 'a nude nude cat');
  assert.equal(findBanned('a NÜDE cat', ['nude']), 'nude');
  assert.equal(findBanned('a n.u.d.e cat', ['nude']), 'nude');
  assert.equal(findBanned('a blood-bath now', ['blood bath']), 'blood bath');
  assert.equal(findBanned('denuded landscape', ['nude']), undefined, 'no match inside another word');
  assert.equal(findBanned('a cat', ['nude', '']), undefined);
});

test('the moderator checks global then guild words, logs every rejection and throws a coded error', async () => {
  const rejections: string[] = [];
  const moderate = createModerator({
    globalWords: ['gore'],
    guildWords: async (a) => (a.guildId === 'g1' ? ['cats'] : []),
    onReject: (a, word) => rejections.push(`${a.guildId}:${a.userId}:${word}`),
  });
  await moderate(actor('ana', 'g2'), 'two cats');
  await assert.rejects(moderate(actor('ana', 'g1'), 'two Cats'), (e: unknown) => e instanceof BotError && e.code === 'bot_banned_word' && /\("cats"\)/.test(e.userMessage));
  await assert.rejects(moderate(actor('bob', 'g2'), 'much GORE'), /banned word "gore"/);
  assert.deepEqual(rejections, ['g1:ana:cats', 'g2:bob:gore']);
});
