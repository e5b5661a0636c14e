import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiscordAPIError, HTTPError } from 'discord.js';
import { isRetryable, withRetry } from '../../../src/adapters/discord/rest.ts';

const http = (status: number) => new HTTPError(status, 'x', 'PATCH', '/x', { body: undefined, files: undefined });
const api = (status: number, code: number) => new DiscordAPIError({ code, message: 'm' }, code, status, 'PATCH', '/x', { body: undefined, files: undefined });

test('5xx and connection errors are retryable; 4xx (permissions, unknown message, bad body) are not', () => {
  assert.equal(isRetryable(http(502)), true);
  assert.equal(isRetryable(api(500, 0)), true);
  assert.equal(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), true);
  assert.equal(isRetryable(api(403, 50013)), false);
  assert.equal(isRetryable(api(404, 10008)), false);
  assert.equal(isRetryable(new Error('plain')), false);
});

test('withRetry backs off exponentially (with jitter, capped) and gives up after `retries`', async () => {
  const delays: number[] = [];
  let calls = 0;
  const failing = () => (calls++, Promise.reject(http(503)));
  await assert.rejects(
    withRetry(failing, { retries: 5, baseDelayMs: 100, maxDelayMs: 800, sleep: async (ms) => void delays.push(ms) }),
    (e: unknown) => e instanceof HTTPError && e.status === 503,
  );
  assert.equal(calls, 6);
  const caps = [100, 200, 400, 800, 800];
  delays.forEach((d, n) => assert.ok(d >= caps[n] / 2 && d <= caps[n], `delay ${n} = ${d}`));

  calls = 0;
  const flaky = () => (++calls < 3 ? Promise.reject(http(500)) : Promise.resolve('ok'));
  assert.equal(await withRetry(flaky, { retries: 4, baseDelayMs: 1, maxDelayMs: 1 }), 'ok');
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(withRetry(() => (calls++, Promise.reject(api(403, 50001))), { retries: 4, baseDelayMs: 1, maxDelayMs: 1 }));
  assert.equal(calls, 1, 'no retry on 4xx');
});
