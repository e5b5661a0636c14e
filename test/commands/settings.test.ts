import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySettings } from '../../commands/settings.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { actor, harness } from '../helpers/core-harness.ts';

const bounds = { maxPromptLength: 1000, maxSteps: 150 };

test('settings are validated like flags; `-` unsets one, reset clears all', () => {
  const set = applySettings({}, { ar: '16:9', steps: '30', guidance: '6.5', sampler: 'DDIM', n: '2', no: 'blur' }, bounds, 'user');
  assert.deepEqual(set, { aspectRatio: '16:9', numInferenceSteps: 30, guidanceScale: 6.5, sampler: 'ddim', numImagesPerPrompt: 2, negativePrompt: 'blur' });
  assert.deepEqual(applySettings(set, { steps: '-', n: '-' }, bounds, 'user'), { aspectRatio: '16:9', guidanceScale: 6.5, sampler: 'ddim', negativePrompt: 'blur' });
  assert.deepEqual(applySettings(set, { reset: true }, bounds, 'user'), {});
  assert.throws(() => applySettings({}, { steps: '0' }, bounds, 'user'), (e: unknown) => e instanceof ValidationError && e.message === 'Expected `--steps` to be an integer from 1 to 150, got `0` (string)');
  assert.throws(() => applySettings({}, { banned_words: 'x' }, bounds, 'user'), /Banned words are a guild setting/);
  assert.throws(() => applySettings({}, { colour: 'red' }, bounds, 'user'), /Unknown setting `colour`/);
  assert.deepEqual(applySettings({ bannedWords: ['a'] }, { banned_words: ' Foo, BAR ,' }, bounds, 'guild'), { bannedWords: ['foo', 'bar'] });
  assert.deepEqual(applySettings({ bannedWords: ['a'] }, { banned_words: '-' }, bounds, 'guild'), { bannedWords: [] });
  assert.deepEqual(applySettings({}, { role_boost: '<@&123>=2, mods = 1' }, bounds, 'guild'), { roleBoosts: { '123': 2, mods: 1 } });
  assert.deepEqual(applySettings({ roleBoosts: { a: 1 } }, { role_boost: '-' }, bounds, 'guild'), { roleBoosts: {} });
  assert.throws(() => applySettings({}, { role_boost: 'mods=11' }, bounds, 'guild'), /Expected `role_boost` to be a comma-separated list of role=boost pairs with boosts from 0 to 10, e.g. `123456789=2`, got `mods=11`/);
  assert.throws(() => applySettings({}, { role_boost: 'mods=1' }, bounds, 'user'), /Role boosts are a guild setting/);
});

test('/settings shows, saves per user, and keeps guild settings to admins inside a guild', async () => {
  const h = await harness();
  try {
    const shown = await h.command(actor('ana'), 'settings');
    assert.deepEqual(shown.calls, ['ack:ephemeral', 'ephemeral']);
    assert.equal(shown.ephemerals[0].text, 'Your /imagine defaults:');
    assert.deepEqual(shown.ephemerals[0].fields?.find((f) => f.name === 'steps'), { name: 'steps', value: '(default)' });
    await h.command(actor('ana'), 'settings', { steps: '7' });
    assert.deepEqual(await h.store.userSettings('web', 'ana'), { numInferenceSteps: 7 });
    assert.deepEqual(await h.store.userSettings('web', 'bob'), {});
    const dm = await h.command(actor('ana', 'dm:ana', { isAdmin: true }), 'settings', { scope: 'guild', steps: '3' });
    assert.match(dm.lastText!, /only be changed inside a server/);
    const bad = await h.command(actor('ana'), 'settings', { sampler: 'heun' });
    assert.match(bad.lastText!, /Expected `--sampler` to be one of euler/);
  } finally {
    await h.close();
  }
});
