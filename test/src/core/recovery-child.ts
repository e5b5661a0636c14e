// Child process for the restart-recovery test: the core on a FakeEngine and a real SQLite file.
//   submit <dataDir> <log>: submit 51 jobs with a slow engine (so one runs and 50 wait), then keep running.
//   resume <dataDir> <log>: recover from the store with a fast engine, run everything, exit 0 when all are final.
// Final views are appended to <log> as `final <jobId> <state>`; progress is printed as `step <jobId> <n>`.
import { appendFileSync } from 'node:fs';
import { commands, handleButton, isEphemeralAction } from '../../../commands/index.ts';
import { defaultConfig } from '../../../config/defaults.ts';
import { createCore } from '../../../src/core/create-core.ts';
import { FakeEngine } from '../../../src/core/fake-engine.ts';
import { openJobStore } from '../../../src/core/job-store.ts';
import { createLogger } from '../../../src/core/logger.ts';
import type { JobSurface, MessageRef, ProgressView, Reply } from '../../../src/core/types.ts';

const [mode, dataDir, logFile] = process.argv.slice(2);
const engine = new FakeEngine({ stepMs: mode === 'submit' ? 2000 : 3 });
const store = openJobStore({ dataDir });
const core = createCore({
  config: defaultConfig,
  engine,
  store,
  log: createLogger({ level: 'silent' }),
  commands,
  buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
});

let next = 1;
const surface: JobSurface = {
  platform: 'web',
  minEditIntervalMs: 0,
  async editJobMessage(_ref: MessageRef, view: ProgressView) {
    if (view.state === 'done' || view.state === 'failed' || view.state === 'cancelled') appendFileSync(logFile, `final ${view.job.jobId} ${view.state}\n`);
  },
  async postJobMessage(target, view) {
    await this.editJobMessage({ platform: 'web', channelId: target.channelId }, view);
    return { platform: 'web', channelId: target.channelId, messageId: `m${next++}` };
  },
};
core.bot.attachSurface(surface);
core.bot.on('jobProgress', (job, step) => process.stdout.write(`step ${job.id} ${step}\n`));

if (mode === 'submit') {
  await core.start();
  for (let i = 0; i < 51; i++) {
    const actor = { platform: 'web' as const, guildId: `g${i % 3}`, channelId: 'c', userId: `u${i % 17}`, isAdmin: false, roles: [] };
    let failed: string | undefined;
    const reply: Reply = {
      acknowledge: async () => undefined,
      ephemeral: async (m) => void (failed = m.text),
      postJobMessage: (view) => surface.postJobMessage({ guildId: actor.guildId, channelId: 'c' }, view),
    };
    await core.bot.dispatch({ type: 'command', actor, name: 'imagine', options: { prompt: `job ${i} --steps 3 --n 1 --seed ${i}` } }, reply);
    if (failed) throw new Error(failed);
  }
  process.stdout.write('submitted\n');
} else {
  const recovered = await core.start();
  process.stdout.write(`recovered ${recovered}\n`);
  const check = setInterval(async () => {
    const depth = await core.dispatcher.depth();
    if (depth.queued === 0 && depth.running === 0 && core.hub.open === 0) {
      clearInterval(check);
      await core.close();
      process.stdout.write('all-done\n');
      process.exit(0);
    }
  }, 20);
}
