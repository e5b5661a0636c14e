// The Redis backend (REDIS_URL) against a real redis-server on a free loopback port, with the same round trips as
// the SQLite test. redis-server is required: a missing binary fails with the install command.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openJobStore } from '../../../src/core/job-store.ts';
import { concurrentUpdatesAreSerialised, pruneRoundTrip, roundTripAcrossRestart } from '../../helpers/job-store-contract.ts';

let server: ChildProcess | undefined;
let dir = '';
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function ping(): Promise<boolean> {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8', timeout: 2000 });
  return r.stdout?.trim() === 'PONG';
}

before(async () => {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  assert.equal(probe.error, undefined, 'redis-server is not installed; this test needs it: apt-get install redis-server');
  dir = mkdtempSync(join(tmpdir(), 'store-redis-'));
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const exited = new Promise<never>((_, reject) => server?.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`))));
  const up = (async () => {
    for (let i = 0; i < 100 && !(await ping()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await ping(), `redis-server did not answer on 127.0.0.1:${port} within 5 s`);
  })();
  await Promise.race([up, exited]);
});

after(async () => {
  if (server && server.exitCode === null) {
    const gone = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await gone;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('jobs, images, settings and the pending index survive a restart on the same Redis server', async () => {
  await roundTripAcrossRestart(() => openJobStore({ dataDir: dir, redisUrl: `redis://127.0.0.1:${port}/1` }));
  // Really in Redis, under keyv's namespace (not in a SQLite file under dataDir).
  const keys = spawnSync('redis-cli', ['-p', String(port), '-n', '1', '--scan', '--pattern', '*job:bbbbbb*'], { encoding: 'utf8' });
  assert.match(keys.stdout, /imagine-bot.*job:bbbbbb/);
});

test('concurrent read-modify-write updates are not lost (Redis, one process)', async () => {
  await concurrentUpdatesAreSerialised(openJobStore({ dataDir: dir, redisUrl: `redis://127.0.0.1:${port}/2` }));
});

test('finished jobs past the retention are pruned with their images (Redis)', async () => {
  await pruneRoundTrip((now) => openJobStore({ dataDir: dir, redisUrl: `redis://127.0.0.1:${port}/3`, now }));
});
