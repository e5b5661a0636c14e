import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands } from '../../../commands/index.ts';
import { WebInputError, parseBody, parseLine } from '../../../src/adapters/web/input.ts';

const defs = commands.map((c) => c.data);

test('a command with a text option takes the whole rest of the line; flags stay for the command to parse', () => {
  assert.deepEqual(parseLine('/imagine a red fox --ar 3:2 --seed 42', defs), { name: 'imagine', options: { prompt: 'a red fox --ar 3:2 --seed 42' } });
  assert.deepEqual(parseLine('  /show   k3f9qz ', defs), { name: 'show', options: { job: 'k3f9qz' } });
  assert.deepEqual(parseLine('/queue', defs), { name: 'queue', options: {} });
  // No slash: what a newcomer most likely meant.
  assert.deepEqual(parseLine('a lighthouse at dusk', defs), { name: 'imagine', options: { prompt: 'a lighthouse at dusk' } });
});

test('other commands take name:value options, typed by their definitions', () => {
  assert.deepEqual(parseLine('/settings steps:30 ar:3:2 no:blurry, text scope:guild reset:false', defs), {
    name: 'settings',
    options: { steps: '30', ar: '3:2', no: 'blurry, text', scope: 'guild', reset: false },
  });
  assert.deepEqual(parseLine('/settings reset:', defs), { name: 'settings', options: { reset: true } });
});

test('bad lines are refused with a message that teaches', () => {
  const refused = (line: string, pattern: RegExp) =>
    assert.throws(() => parseLine(line, defs), (e: unknown) => e instanceof WebInputError && pattern.test(e.message), line);
  refused('/paint a fox', /Unknown command `\/paint`\. Expected one of: \/imagine, \/settings/);
  refused('/help me', /`\/help` takes no options, got `me`/);
  refused('/settings steps 30', /takes options as name:value.*known: scope, ar, steps/);
  refused('/settings reset:maybe', /Expected `reset` of \/settings to be true or false, got `maybe`/);
  refused('   ', /Type a command/);
});

test('request bodies are validated strictly', () => {
  const good = { tabId: 'tab-1-xxxxxxxx', userId: 'user-1-xxxxxxx', guildId: 'guild-a', text: '/help' };
  assert.deepEqual(parseBody(good), good);
  const refused = (body: unknown, pattern: RegExp) =>
    assert.throws(() => parseBody(body), (e: unknown) => e instanceof WebInputError && pattern.test(e.message), JSON.stringify(body));
  refused({ ...good, tabId: '../../etc' }, /^Bad request: expected `tabId` to be 8 to 64 letters, digits, - or _$/);
  refused({ ...good, guildId: 'a b' }, /expected `guildId` to be 1 to 32 letters/);
  refused({ ...good, admin: 'yes' }, /expected `admin` to be true or false/);
  refused({ ...good, extra: 1 }, /unknown field `extra`; expected only tabId, userId/);
  refused({ ...good, button: 'ib:k3f9qz:u1' }, /exactly one of `text`/);
  refused(null, /expected the body to be a JSON object/);
});
