// Contract of the neutral command definitions: they must be valid as Discord slash commands and Slack commands as
// they are, so no adapter has to trim or reorder them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands } from '../../commands/index.ts';
import type { CommandDefinition } from '../../src/core/types.ts';

const definitions: readonly CommandDefinition[] = commands.map((c) => c.data);

test('names, descriptions, options and choices fit Discord and Slack limits', () => {
  const names = definitions.map((d) => d.name);
  assert.deepEqual(names, ['imagine', 'settings', 'show', 'queue', 'cancel', 'help']);
  for (const data of definitions) {
    assert.match(data.name, /^[a-z0-9-]{1,32}$/);
    assert.ok(data.description.length >= 1 && data.description.length <= 100, `/${data.name} description is ${data.description.length} characters`);
    assert.ok(data.options.length <= 25, `/${data.name} has ${data.options.length} options`);
    let optionalSeen = false;
    for (const option of data.options) {
      assert.match(option.name, /^[a-z0-9_-]{1,32}$/, `/${data.name} ${option.name}`);
      assert.ok(option.description.length >= 1 && option.description.length <= 100, `/${data.name} ${option.name}: ${option.description.length} characters`);
      assert.ok(!(option.required && optionalSeen), `/${data.name}: required option ${option.name} after an optional one`);
      optionalSeen ||= !option.required;
      if (option.choices) {
        assert.ok(option.choices.length <= 25);
        for (const choice of option.choices) assert.ok(choice.name.length <= 100 && String(choice.value).length <= 100);
      }
      if (option.min !== undefined && option.max !== undefined) assert.ok(option.min <= option.max);
    }
    if (data.textOption) assert.ok(data.options.some((o) => o.name === data.textOption), `/${data.name} textOption ${data.textOption}`);
  }
  assert.equal(new Set(names).size, names.length);
});

test('answers that concern only the user are ephemeral; /imagine posts in the channel', () => {
  const ephemeral = Object.fromEntries(definitions.map((d) => [d.name, d.ephemeral]));
  assert.deepEqual(ephemeral, { imagine: false, settings: true, show: true, queue: true, cancel: true, help: true });
});
