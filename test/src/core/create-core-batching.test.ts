// ENGINE_BATCH_JOBS through the core on the real engine (worker thread, tiny fixture): jobs that queue up behind a
// running one start together and reach the engine as one generateBatch; each job still finishes with its own images.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { commands, handleButton, isEphemeralAction } from '../../../commands/index.ts';
import { defaultConfig } from '../../../config/defaults.ts';
import { createEngine } from '../../../engine/index.ts';
import type { Engine } from '../../../engine/index.ts';
import { createCore } from '../../../src/core/create-core.ts';
import { openJobStore } from '../../../src/core/job-store.ts';
import { actor, memoryLog, RecordingReply, RecordingSurface } from '../../helpers/core-harness.ts';

const fixture = resolve(import.meta.dirname, '../../fixtures/models/tiny-sd');

test('ENGINE_BATCH_JOBS=4: queued compatible jobs run as one engine batch, each with its own result', { timeout: 60_000 }, async () => {
  const worker = await createEngine({ modelDir: fixture, intraOpNumThreads: 1 });
  const calls: number[] = [];
  // Observe the real engine's calls, and hold the first job until every job is submitted (a loaded machine could
  // otherwise finish it before the others queue up).
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const engine: Engine = {
    get info() {
      return worker.info;
    },
    generate: async (o) => {
      calls.push(1);
      if (calls.length === 1) await gate;
      return worker.generate(o);
    },
    generateBatch: (rs) => {
      calls.push(rs.length);
      return worker.generateBatch!(rs);
    },
    close: () => worker.close(),
  };
  const store = openJobStore({ dataDir: mkdtempSync(join(tmpdir(), 'batch-core-')) });
  const { log } = memoryLog();
  const core = createCore({ config: { ...defaultConfig, engineBatchJobs: 4 }, engine, store, log, commands, buttons: { handle: handleButton, isEphemeral: isEphemeralAction } });
  const surface = new RecordingSurface('web', 0);
  core.bot.attachSurface(surface);
  await core.start();
  try {
    const submit = async (user: string, prompt: string) => {
      const reply = new RecordingReply(surface);
      await core.bot.dispatch({ type: 'command', actor: actor(user), name: 'imagine', options: { prompt } }, reply);
      return surface.messages.get(reply.refs[0].messageId!)!.views[0].job.jobId;
    };
    // The first job starts at once and alone; the next four queue behind it (one at 128², another batch key).
    const ids = [
      await submit('ana', 'a red circle --steps 12 --seed 1 --n 1'),
      await submit('bob', 'a blue square --steps 12 --seed 2 --n 1'),
      await submit('cy', 'a green star --steps 12 --seed 3 --n 2'),
      await submit('dee', 'a yellow moon --steps 12 --seed 4 --n 1'),
      await submit('eve', 'wide --steps 12 --seed 5 --n 1 --ar 2:1'),
    ];
    open();
    for (const id of ids) {
      for (let i = 0; i < 3000; i++) {
        const job = await store.getJob(id);
        if (job && ['done', 'failed', 'cancelled'].includes(job.status)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const jobs = await Promise.all(ids.map((id) => store.getJob(id)));
    assert.deepEqual(jobs.map((j) => j?.status), ['done', 'done', 'done', 'done', 'done']);
    assert.deepEqual(jobs.map((j) => j?.seeds), [[1], [2], [3, 4], [4], [5]]);
    // bob, cy and dee were queued together with the same size and steps: one batch of three.
    assert.ok(calls.includes(3), `engine calls: ${JSON.stringify(calls)}`);
    assert.equal(calls.reduce((a, b) => a + b, 0), 5);
  } finally {
    await core.close();
    await engine.close();
  }
});
