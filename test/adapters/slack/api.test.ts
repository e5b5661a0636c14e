// The adapter's own retry policy: 429 waits exactly Retry-After, 5xx and network errors back off and give up after
// `retries`, platform errors (`ok: false`) are never retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withRetry } from '../../../src/adapters/slack/api.ts';

const rateLimited = (retryAfter: number) => Object.assign(new Error('429'), { code: 'slack_webapi_rate_limited_error', retryAfter });
const http = (statusCode: number) => Object.assign(new Error(String(statusCode)), { code: 'slack_webapi_http_error', statusCode });
const platform = (error: string) => Object.assign(new Error(error), { code: 'slack_webapi_platform_error', data: { ok: false, error } });

function script(...outcomes: (Error | string)[]) {
  let calls = 0;
  const fn = async () => {
    const next = outcomes[calls++];
    if (next instanceof Error) throw next;
    return next;
  };
  return { fn, calls: () => calls };
}

test('a 429 sleeps Retry-After seconds, then retries', async () => {
  const slept: number[] = [];
  const s = script(rateLimited(2), rateLimited(1), 'ok');
  assert.equal(await withRetry(s.fn, { retries: 0, rateLimitRetries: 5, baseDelayMs: 1, maxDelayMs: 1, sleep: async (ms) => void slept.push(ms) }), 'ok');
  assert.deepEqual(slept, [2000, 1000]);
});

test('5xx back off exponentially (with jitter, capped) and stop after `retries`', async () => {
  const slept: number[] = [];
  const options = { retries: 3, rateLimitRetries: 0, baseDelayMs: 100, maxDelayMs: 300, sleep: async (ms: number) => void slept.push(ms) };
  const s = script(http(503), http(500), http(502), http(504));
  await assert.rejects(withRetry(s.fn, options), /504/);
  assert.equal(s.calls(), 4);
  // Delay n is in [d/2, d) with d = min(300, 100·2ⁿ).
  [100, 200, 300].forEach((d, i) => assert.ok(slept[i] >= d / 2 && slept[i] < d, `delay ${i}: ${slept[i]}`));
});

test('platform errors and 4xx are thrown at once', async () => {
  const sleep = async () => assert.fail('no sleep expected');
  for (const error of [platform('channel_not_found'), http(404)]) {
    const s = script(error, 'ok');
    await assert.rejects(withRetry(s.fn, { retries: 3, rateLimitRetries: 3, baseDelayMs: 1, maxDelayMs: 1, sleep }), error);
    assert.equal(s.calls(), 1);
  }
});

test('429s beyond rateLimitRetries are thrown, so a caller can decide (the surface re-queues the newest view)', async () => {
  const s = script(rateLimited(1), 'ok');
  await assert.rejects(withRetry(s.fn, { retries: 3, rateLimitRetries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} }), /429/);
});
