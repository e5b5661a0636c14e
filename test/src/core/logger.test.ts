import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scrub } from '../../../src/core/logger.ts';
import { memoryLog } from '../../helpers/core-harness.ts';

const discordToken = 'MTAxMjM0NTY3ODkwMTIzNDU2.GabcDE.abcdefghijklmnopqrstuvwxyz12345';

test('secrets never reach the log: known fields by path, token-shaped strings anywhere', () => {
  const { log, lines } = memoryLog();
  log.info(
    {
      config: { discordToken, slackBotToken: 'xoxb-1', port: 3000 },
      token: 'abc',
      url: 'redis://:hunter2@localhost:6379',
      request: { headers: { authorization: `Bot ${discordToken}` } },
    },
    `connecting with xoxb-1234567890-abcdefghij and ${discordToken}`,
  );
  log.error({ err: new Error('auth failed for xapp-1-A0123-4567890abc') }, 'slack');
  const text = JSON.stringify(lines);
  for (const secret of [discordToken, 'xoxb-1', 'hunter2', 'xoxb-1234567890', 'xapp-1-A0123', '"abc"']) assert.ok(!text.includes(secret), `leaked ${secret}`);
  assert.equal((lines[0].config as Record<string, unknown>).port, 3000);
  assert.equal(lines[0].url, 'redis://:[Redacted]@localhost:6379');
  assert.match(String(lines[0].msg), /^connecting with \[Redacted\] and \[Redacted\]$/);
});

test('scrub leaves ordinary text alone', () => {
  const text = 'job k3f9qz done in 12 s for guild 123456789012345678 (http://127.0.0.1:3000)';
  assert.equal(scrub(text), text);
  assert.equal(scrub('Authorization: Bearer abcdefghijklmnopqrstuvwxyz'), 'Authorization: Bearer [Redacted]');
});
