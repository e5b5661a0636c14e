import assert from 'node:assert/strict';
import { test } from 'node:test';
import { samplerNames } from '../../commands/flags.ts';
import { resolveParams } from '../../commands/imagine.ts';
import { fakeModelInfo } from '../../src/core/fake-engine.ts';
import { defaultConfig } from '../../config/defaults.ts';
import { generationLimits } from '../../src/core/create-core.ts';
import { actor, harness } from '../helpers/core-harness.ts';

const limits = generationLimits(defaultConfig);

test('--sampler maps to a scheduler class, and the _karras names to useKarrasSigmas', () => {
  const resolve = (sampler: (typeof samplerNames)[number]) => {
    const { scheduler, useKarrasSigmas } = resolveParams({ prompt: 'fox', sampler }, [], limits, fakeModelInfo);
    return { scheduler, useKarrasSigmas };
  };
  assert.deepEqual(resolve('dpm++2m_karras'), { scheduler: 'DPMSolverMultistepScheduler', useKarrasSigmas: true });
  assert.deepEqual(resolve('dpm++2m'), { scheduler: 'DPMSolverMultistepScheduler', useKarrasSigmas: undefined });
  for (const name of samplerNames) {
    assert.equal(resolve(name).useKarrasSigmas, name.endsWith('_karras') ? true : undefined, name);
  }
  // A guild default sampler resolves the same way.
  const fromDefaults = resolveParams({ prompt: 'fox' }, [{}, { sampler: 'dpm++2m_karras' }], limits, fakeModelInfo);
  assert.equal(fromDefaults.useKarrasSigmas, true);
  assert.equal(fromDefaults.sampler, 'dpm++2m_karras');
});

test('a Karras sampler reaches the engine, shows in the flags line and carries over to a reroll', async () => {
  const h = await harness();
  try {
    const { jobId } = await h.imagine(actor('ana'), 'a fox --sampler dpm++2m_karras --steps 2 --n 1');
    assert.ok(jobId);
    await h.settle(jobId);
    assert.equal(h.engine.calls[0].scheduler, 'DPMSolverMultistepScheduler');
    assert.equal(h.engine.calls[0].useKarrasSigmas, true);
    const done = [...h.surface.messages.values()][0].views.at(-1)!;
    assert.equal(done.state, 'done');
    assert.match(done.job.flags, /--sampler dpm\+\+2m_karras/);

    const rerollId = done.buttons.flat().find((b) => b.label === '🔄')!.id;
    const reroll = await h.press(actor('ana'), rerollId);
    assert.ok(reroll.jobId);
    await h.settle(reroll.jobId);
    assert.equal(h.engine.calls[1].useKarrasSigmas, true);

    const plain = await h.imagine(actor('ana'), 'a fox --sampler dpm++2m --steps 2 --n 1');
    await h.settle(plain.jobId!);
    assert.equal(h.engine.calls[2].useKarrasSigmas, undefined);
  } finally {
    await h.close();
  }
});
