import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Health } from '../../../src/core/health.ts';
import type { ModelInfo } from '../../../src/core/types.ts';

const model: ModelInfo = {
  name: 'tiny-sd', modelDir: '/m', width: 64, height: 64, defaultSteps: 20, defaultGuidanceScale: 7.5,
  defaultScheduler: 'PNDMScheduler', supportsImg2Img: true, sizeMultiple: 16, device: 'cpu',
};

test('starting until the engine is loaded and every platform connected, then ok', () => {
  let now = 1_000;
  const health = new Health(() => now);
  assert.deepEqual(health.report(), { status: 'starting', engine: { loaded: false }, platforms: {}, uptimeSeconds: 0 });
  health.platform('web', 'connected');
  health.platform('discord', 'starting');
  health.engine(model);
  assert.equal(health.report().status, 'starting');
  health.platform('discord', 'connected');
  now += 12_400;
  assert.deepEqual(health.report(), {
    status: 'ok',
    engine: { loaded: true, model: 'tiny-sd', device: 'cpu', size: '64x64' },
    platforms: { web: { state: 'connected' }, discord: { state: 'connected' } },
    uptimeSeconds: 12,
  });
});

test('a connection lost after start degrades the status until it is back', () => {
  const health = new Health();
  health.engine(model);
  health.platform('discord', 'connected');
  health.platform('discord', 'reconnecting');
  assert.equal(health.report().status, 'degraded');
  health.platform('discord', 'connected');
  assert.equal(health.report().status, 'ok');
  health.platform('discord', 'disconnected', 'the gateway closed with code 4004');
  assert.deepEqual(health.report(), { ...health.report(), status: 'degraded', platforms: { discord: { state: 'disconnected', detail: 'the gateway closed with code 4004' } } });
});

test('a failed platform or an unloaded engine is reported, and stopping wins', () => {
  const health = new Health();
  health.engine(model);
  health.platform('slack', 'failed', 'invalid_auth');
  assert.equal(health.report().status, 'degraded');
  assert.deepEqual(health.report().platforms.slack, { state: 'failed', detail: 'invalid_auth' });
  health.platform('slack', 'connected');
  assert.equal(health.report().status, 'ok');
  health.engine(undefined);
  assert.equal(health.report().status, 'starting');
  assert.equal(health.report().engine.loaded, false);
  health.stopping();
  assert.equal(health.report().status, 'stopping');
});
