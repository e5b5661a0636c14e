import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { batchKey } from '../../engine/batching.ts';
import { EngineError } from '../../engine/errors.ts';
import { StableDiffusionPipeline } from '../../engine/pipeline.ts';
import type { SchedulerName } from '../../engine/types.ts';
import { copyFixture, fixture, sameImage } from './helpers.ts';

let sd: StableDiffusionPipeline;
before(async () => {
  sd = await StableDiffusionPipeline.load(fixture('tiny-sd'), { intraOpNumThreads: 1 });
});
after(() => sd.release());

const base = { prompt: 'a red circle on a blue square', seed: 42, numInferenceSteps: 4 } as const;

/** The fixture with its scheduler_config.json rewritten: the way diffusers users get Karras sigmas without the option. */
async function withSchedulerConfig<T>(extra: Record<string, unknown>, run: (pipe: StableDiffusionPipeline) => Promise<T>): Promise<T> {
  const copy = copyFixture('tiny-sd');
  try {
    const file = join(copy.dir, 'scheduler', 'scheduler_config.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...extra }));
    const pipe = await StableDiffusionPipeline.load(copy.dir, { intraOpNumThreads: 1 });
    try {
      return await run(pipe);
    } finally {
      await pipe.release();
    }
  } finally {
    copy.dispose();
  }
}

for (const scheduler of ['DPMSolverMultistepScheduler', 'EulerDiscreteScheduler'] as const satisfies readonly SchedulerName[]) {
  test(`useKarrasSigmas changes ${scheduler}'s image and equals a scheduler configured with use_karras_sigmas`, async () => {
    const plain = await sd.generate({ ...base, scheduler });
    const karras = await sd.generate({ ...base, scheduler, useKarrasSigmas: true });
    assert.ok(!sameImage(plain.images[0], karras.images[0]), 'Karras sigmas change the image');
    const off = await sd.generate({ ...base, scheduler, useKarrasSigmas: false });
    assert.ok(sameImage(plain.images[0], off.images[0]), 'false is the config default here');

    await withSchedulerConfig({ _class_name: scheduler, use_karras_sigmas: true }, async (direct) => {
      const fromConfig = await direct.generate(base);
      assert.ok(sameImage(fromConfig.images[0], karras.images[0]), 'option = config');
      // false overrides a config that asks for Karras.
      const overridden = await direct.generate({ ...base, useKarrasSigmas: false });
      assert.ok(sameImage(overridden.images[0], plain.images[0]), 'false turns the config\'s Karras off');
    });
  });
}

test('Karras replaces another sigma spacing the model config asks for', async () => {
  await withSchedulerConfig({ _class_name: 'DPMSolverMultistepScheduler', use_lu_lambdas: true }, async (lu) => {
    const karras = await sd.generate({ ...base, scheduler: 'DPMSolverMultistepScheduler', useKarrasSigmas: true });
    const fromLu = await lu.generate({ ...base, useKarrasSigmas: true });
    assert.ok(sameImage(fromLu.images[0], karras.images[0]));
  });
});

test('useKarrasSigmas with a scheduler that has none is rejected, not ignored', async () => {
  for (const scheduler of ['DDIMScheduler', 'PNDMScheduler', 'EulerAncestralDiscreteScheduler', 'LCMScheduler'] as const) {
    await assert.rejects(sd.generate({ ...base, scheduler, useKarrasSigmas: true }), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'sd_engine_invalid_input');
      assert.match(error.message, new RegExp(`Karras sigmas \\(\`DPMSolverMultistepScheduler\`, \`EulerDiscreteScheduler\`\\); \`${scheduler}\` has none`));
      return true;
    });
  }
  // The fixture's default scheduler is PNDM.
  await assert.rejects(sd.generate({ ...base, useKarrasSigmas: true }), /`PNDMScheduler` has none/);
  await assert.rejects(sd.generate({ ...base, useKarrasSigmas: 'yes' } as never), /`useKarrasSigmas` to be a boolean, got `yes` \(string\)/);
});

test('batchKey keeps Karras and plain requests apart', () => {
  const options = { ...base, scheduler: 'DPMSolverMultistepScheduler' } as const;
  assert.notEqual(batchKey(options, sd.info), batchKey({ ...options, useKarrasSigmas: true }, sd.info));
  assert.equal(batchKey({ ...options, useKarrasSigmas: true }, sd.info), batchKey({ ...options, seed: 7, useKarrasSigmas: true }, sd.info));
});
