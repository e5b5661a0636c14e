// Restart recovery with real processes and a real SQLite file: 51 jobs (1 running + 50 queued), SIGKILL mid-job,
// restart; all 51 complete, none twice, none lost, and each guild's jobs start in their original order.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openJobStore } from '../../../src/core/job-store.ts';

const child = join(import.meta.dirname, 'recovery-child.ts');

function start(mode: 'submit' | 'resume', dataDir: string, log: string): { proc: ChildProcess; lines: string[]; waitFor: (re: RegExp) => Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, mode, dataDir, log], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += String(d)));
  let buffer = '';
  proc.stdout!.on('data', (d) => {
    buffer += String(d);
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.re.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find((l) => re.test(l));
      if (found) return resolve(found);
      waiters.push({ re, resolve });
      proc.once('exit', (code) => setTimeout(() => reject(new Error(`child exited (${code}) before ${re}: ${stderr.slice(-2000)}`)), 50));
    });
  return { proc, lines, waitFor };
}

test('SIGKILL mid-job with 50 queued: after a restart all 51 complete exactly once, in order per guild', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'recovery-'));
  const log = join(dataDir, 'finals.log');

  const first = start('submit', dataDir, log);
  await first.waitFor(/^submitted$/);
  const running = (await first.waitFor(/^step \w+ 1$/)).split(' ')[1];
  first.proc.kill('SIGKILL');
  await new Promise((resolve) => first.proc.once('exit', resolve));
  assert.equal(existsSync(log), false, 'nothing finished before the kill');

  const before = openJobStore({ dataDir });
  const pending = await before.pendingJobs();
  await before.close();
  assert.equal(pending.length, 51);
  assert.deepEqual(pending.filter((j) => j.status === 'running').map((j) => j.id), [running]);
  assert.equal(pending.filter((j) => j.status === 'queued').length, 50);

  const second = start('resume', dataDir, log);
  await second.waitFor(/^recovered 51$/);
  await second.waitFor(/^all-done$/);
  await new Promise((resolve) => (second.proc.exitCode === null ? second.proc.once('exit', resolve) : resolve(undefined)));
  assert.equal(second.proc.exitCode, 0);

  const finals = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(finals.length, 51, 'one final view per job');
  assert.equal(new Set(finals).size, 51, 'no job finished twice');
  assert.ok(finals.every((l) => l.endsWith(' done')));

  const after = openJobStore({ dataDir });
  const jobs = await Promise.all(pending.map((j) => after.getJob(j.id)));
  assert.deepEqual(await after.pendingJobs(), []);
  await after.close();
  for (const job of jobs) {
    assert.equal(job?.status, 'done', job?.id);
    assert.equal(job?.completions, 1, job?.id);
    assert.deepEqual(job?.seeds, [job!.params.seed]);
  }
  assert.equal(jobs.find((j) => j!.id === running)!.attempts, 2, 'the interrupted job ran again');
  assert.ok(jobs.filter((j) => j!.id !== running).every((j) => j!.attempts === 1));
  for (const guild of ['g0', 'g1', 'g2']) {
    const mine = jobs.filter((j) => j!.guildId === guild).map((j) => j!);
    const bySeq = mine.slice().sort((a, b) => a.seq - b.seq).map((j) => j.id);
    const byStart = mine.slice().sort((a, b) => a.startedAt! - b.startedAt! || a.seq - b.seq).map((j) => j.id);
    assert.deepEqual(byStart, bySeq, `guild ${guild} kept its order`);
  }
});
