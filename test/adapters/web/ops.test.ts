// The web server's operations side, without a core: /healthz and /metrics answer while the model loads and with the
// playground off; the page and its API are refused with clear errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWebAdapter } from '../../../src/adapters/web/index.ts';
import { Health } from '../../../src/core/health.ts';
import { createMetrics } from '../../../src/core/metrics.ts';

test('PLAYGROUND=off serves only /healthz and /metrics', async () => {
  const health = new Health();
  const metrics = createMetrics({ processMetrics: false });
  metrics.recordRateLimit('discord');
  const web = createWebAdapter({ port: 0, playground: false, metrics, health: () => health.report() });
  const url = await web.listen();
  try {
    // Before the engine is loaded: starting, 503, so a load balancer holds traffic back.
    const starting = await fetch(`${url}/healthz`);
    assert.equal(starting.status, 503);
    assert.deepEqual(((await starting.json()) as { status: string; engine: unknown }).engine, { loaded: false });
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /^imagine_rate_limit_hits_total\{platform="discord"\} 1$/m);
    for (const path of ['/', '/app.js', '/api/events?tab=abcdefgh&guild=g']) {
      const r = await fetch(url + path);
      assert.equal(r.status, 404, path);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, /playground is off \(PLAYGROUND=off\)/);
    }
  } finally {
    await web.stop();
  }
});

test('with the playground on: the page and assets are served with a strict CSP; the API waits for the core', async () => {
  const web = createWebAdapter({ port: 0 });
  const url = await web.listen();
  try {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /<script src="\/app\.js" defer><\/script>/);
    assert.match((await fetch(`${url}/style.css`)).headers.get('content-type') ?? '', /^text\/css/);
    const api = await fetch(`${url}/api/events?tab=abcdefgh&guild=g`);
    assert.equal(api.status, 503);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'web_starting');
    assert.equal((await fetch(`${url}/healthz`)).status, 404, 'no health source configured');
    web.stopAccepting();
    const refused = await fetch(`${url}/api/input`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'web_shutting_down');
  } finally {
    await web.stop();
  }
});
