import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openJobStore, sqlitePath } from '../../../src/core/job-store.ts';
import { concurrentUpdatesAreSerialised, pruneRoundTrip, roundTripAcrossRestart } from '../../helpers/job-store-contract.ts';

test('jobs, images, settings and the pending index survive closing and reopening the SQLite file', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'store-')), 'nested', 'data');
  await roundTripAcrossRestart(() => openJobStore({ dataDir }));
  assert.ok(existsSync(sqlitePath(dataDir)));
});

test('concurrent read-modify-write updates are not lost (SQLite)', async () => {
  await concurrentUpdatesAreSerialised(openJobStore({ dataDir: mkdtempSync(join(tmpdir(), 'store-')) }));
});

test('finished jobs past the retention are pruned with their images (SQLite)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'store-'));
  await pruneRoundTrip((now) => openJobStore({ dataDir, now }));
});
