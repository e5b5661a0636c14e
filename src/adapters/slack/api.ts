// Web API calls with the adapter's own failure policy. The WebClient is built with `rejectRateLimitedCalls` and no
// retries, so every 429 and 5xx surfaces here: a 429 waits its Retry-After (Slack's rule), a 5xx or network error is
// retried with exponential backoff and jitter, and a platform error (`ok: false`) is thrown at once.
import type { webApi } from '@slack/bolt';

export interface RetryOptions {
  /** Attempts after the first, for 5xx and network errors. */
  retries: number;
  /** 429s honoured before giving up (each waits Retry-After). */
  rateLimitRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export const defaultRetry: RetryOptions = { retries: 3, rateLimitRetries: 5, baseDelayMs: 250, maxDelayMs: 4000 };

export const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds to wait when the error is a 429, else undefined. */
export function retryAfterOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; retryAfter?: unknown } | null;
  return e?.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number' ? e.retryAfter : undefined;
}

export function isTransient(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown } | null;
  if (e?.code === 'slack_webapi_http_error') return typeof e.statusCode === 'number' && e.statusCode >= 500;
  return e?.code === 'slack_webapi_request_error';
}

/** The `error` string of an `ok: false` answer (`channel_not_found`, `invalid_blocks`, …). */
export function platformError(error: unknown): string | undefined {
  const e = error as { code?: unknown; data?: { error?: unknown } } | null;
  return e?.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = defaultRetry): Promise<T> {
  const sleep = options.sleep ?? sleepFor;
  let transient = 0;
  let limited = 0;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      const retryAfter = retryAfterOf(error);
      if (retryAfter !== undefined && limited++ < options.rateLimitRetries) {
        await sleep(retryAfter * 1000);
        continue;
      }
      if (retryAfter === undefined && isTransient(error) && transient < options.retries) {
        const delay = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** transient++);
        await sleep(delay / 2 + Math.random() * (delay / 2));
        continue;
      }
      throw error;
    }
  }
}

/** Client options that hand 429s and 5xx to `withRetry` instead of the SDK's silent 30-minute retry policy. */
export function clientOptions(slackApiUrl: string | undefined): webApi.WebClientOptions {
  return {
    ...(slackApiUrl !== undefined && { slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/` }),
    rejectRateLimitedCalls: true,
    // Explicit, so socket-mode Bolt does not set its 100-retry default on the shared options object.
    retryConfig: { retries: 0 },
    timeout: 30_000,
  };
}

/** Uploads a PNG without sharing it to a channel; an image block can then show it as `slack_file: { id }`. */
export async function uploadImage(client: webApi.WebClient, png: Uint8Array, filename: string, title: string, retry?: RetryOptions): Promise<string> {
  const result = (await withRetry(() => client.files.uploadV2({ file: Buffer.from(png), filename, title, alt_text: title.slice(0, 1000) }), retry)) as unknown as {
    files?: { files?: { id?: string }[] }[];
  };
  const id = result.files?.[0]?.files?.[0]?.id;
  if (typeof id !== 'string') throw new Error(`files.uploadV2 returned no file id for ${filename}`);
  return id;
}
