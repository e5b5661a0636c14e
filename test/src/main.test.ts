// `npm start` as a real child process: it serves the playground on the embedded model out of the box, refuses clearly
// without a model, and shuts down gracefully on SIGTERM (the running job finishes, or is stored as queued and runs
// after a restart). The embedded model takes seconds for 150 steps, long enough to signal a job mid-run.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { embeddedModelName } from '../../engine/index.ts';
import { openJobStore } from '../../src/core/job-store.ts';
import { StartError, resolveModelDir } from '../../src/main.ts';

const root = resolve(import.meta.dirname, '../..');

interface Bot {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

async function startBot(env: Record<string, string>): Promise<Bot> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /Playground: (http:\/\/\S+)/.exec(output)?.[1];
    // The log line is written asynchronously (pino), so it may come after the banner: wait for both.
    if (url && output.includes('imagine-bot is running')) return { child, url, output: () => output, exited };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the bot did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const who = { tabId: 'main-tab-xxxxxxx', userId: 'main-user-xxxxxx', userName: 'ops', guildId: 'ops' };
async function imagine(url: string, text: string): Promise<void> {
  const response = await fetch(`${url}/api/input`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...who, text }) });
  assert.equal(response.status, 202, await response.text());
}

/** Waits on the tab's stream for a message of the given title and state; returns its job id. */
async function waitFor(url: string, title: string, state: string, timeoutMs = 20_000, tabId = who.tabId): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const response = await fetch(`${url}/api/events?tab=${tabId}&guild=${who.guildId}`, { signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${title} was ${state}`);
      buffer += decoder.decode(value, { stream: true });
      for (const m of buffer.matchAll(/^data: (.*)$/gm)) {
        const data = JSON.parse(m[1]) as { title?: string; state?: string; jobId?: string; history?: { title: string; state: string; jobId: string }[] };
        const found = [data, ...(data.history ?? [])].find((d) => d.title === title && d.state === state);
        if (found) return found.jobId!;
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}

test('without a model, start-up fails with a message that says how to get one', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'imagine-nomodel-'));
  assert.throws(
    () => resolveModelDir({ modelDir: undefined }, empty),
    (e: unknown) => e instanceof StartError && e.code === 'bot_model_missing' && /model_index\.json does not exist[\s\S]*npm run train:model[\s\S]*MODEL_DIR=test\/fixtures\/models\/tiny-sd/.test(e.message),
  );
  assert.equal(resolveModelDir({ modelDir: '/x' }, empty), '/x');
  mkdirSync(join(empty, 'm'));
  writeFileSync(join(empty, 'm/model_index.json'), '{}');
  assert.equal(resolveModelDir({ modelDir: undefined }, join(empty, 'm')), join(empty, 'm'));

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, PORT: '0', MODEL_DIR: join(empty, 'nowhere'), DATA_DIR: join(empty, 'data') },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 1);
  assert.match(stderr, /^imagine-bot could not start: Expected a model folder .* at .*nowhere, but it does not exist/m);
});

test('SIGTERM lets the running job finish, keeps the queued one for the next start, and exits 0', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-term-'));
  const bot = await startBot({ DATA_DIR: dataDir });
  const health = (await (await fetch(`${bot.url}/healthz`)).json()) as { status: string; engine: { model: string } };
  assert.deepEqual([health.status, health.engine.model], ['ok', embeddedModelName], 'no MODEL_DIR: the embedded model');
  // Long enough (about 2 s of 4 images here) that SIGTERM lands while it runs: a short first job could finish and let
  // `second` start before the signal, which would then be drained rather than kept queued.
  await imagine(bot.url, '/imagine first --steps 150 --seed 1');
  await imagine(bot.url, '/imagine second --steps 5 --seed 2');
  // Subscribed before SIGTERM: the grid must reach the page before the web adapter closes its streams.
  const finalView = waitFor(bot.url, 'first', 'done', 30_000, 'main-tab-final00');
  finalView.catch(() => {});
  const running = await waitFor(bot.url, 'first', 'running');
  bot.child.kill('SIGTERM');
  assert.equal(await bot.exited, 0, bot.output());
  assert.match(bot.output(), /"drained":true,"requeued":0/);
  assert.equal(await finalView, running, 'the final view was delivered before shutdown');
  const store = openJobStore({ dataDir });
  try {
    assert.equal((await store.getJob(running))?.status, 'done');
    const pending = await store.pendingJobs();
    assert.deepEqual(pending.map((j) => [j.params.prompt, j.status]), [['second', 'queued']]);
  } finally {
    await store.close();
  }
});

test('a job still running after SHUTDOWN_GRACE_MS is stored as queued and completes after the restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-grace-'));
  const bot = await startBot({ DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '100' });
  await imagine(bot.url, '/imagine long --steps 150 --seed 3');
  const jobId = await waitFor(bot.url, 'long', 'running');
  const t0 = Date.now();
  bot.child.kill('SIGTERM');
  assert.equal(await bot.exited, 0, bot.output());
  assert.ok(Date.now() - t0 < 5_000, 'bounded by the grace time plus closing');
  assert.match(bot.output(), new RegExp(`"jobs":\\["${jobId}"\\].*stored as queued`));

  const again = await startBot({ DATA_DIR: dataDir });
  try {
    assert.match(again.output(), /"recovered":1/);
    await waitFor(again.url, 'long', 'done');
    const grid = await fetch(`${again.url}/api/jobs/${jobId}/grid.png`);
    assert.equal(grid.status, 200);
  } finally {
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  }
  const store = openJobStore({ dataDir });
  try {
    const job = await store.getJob(jobId);
    assert.deepEqual([job?.status, job?.completions, job?.attempts], ['done', 1, 2]);
  } finally {
    await store.close();
  }
});

