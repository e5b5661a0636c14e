import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headlineRows } from '../../bench/index.ts';

test('a script benchmark’s bold table rows become its headline figures', () => {
  const printed = [
    '## Engine',
    '| measure | in-process pipeline | worker engine (bot path) |',
    '|---|---|---|',
    '| wall time per generation (median) | 412.0 ms | 430.1 ms |',
    '| **overhead ratio** (wall / bare model time) | **1.042** (per-run median 1.040) | 1.081 |',
  ].join('\n');
  assert.deepEqual(headlineRows('engine', printed), [
    {
      benchmark: 'engine',
      metric: 'overhead ratio (wall / bare model time)',
      value: '1.042 (per-run median 1.040) (in-process pipeline)',
      notes: 'worker engine (bot path): 1.081',
    },
  ]);
  assert.deepEqual(headlineRows('x', 'no tables here'), []);
  assert.deepEqual(headlineRows('q', '| **p99** | 40 ms |'), [{ benchmark: 'q', metric: 'p99', value: '40 ms', notes: '' }]);
});
