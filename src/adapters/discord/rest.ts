// REST calls with the adapter's own failure policy: 429s are left to discord.js (it waits `retry_after` and retries
// that route), 5xx and network errors are retried here with exponential backoff and jitter, since discord.js would
// retry them immediately.
import { DiscordAPIError, HTTPError } from 'discord.js';

export interface RetryOptions {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export const defaultRetry: RetryOptions = { retries: 4, baseDelayMs: 250, maxDelayMs: 4000 };

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function isRetryable(error: unknown): boolean {
  if (error instanceof HTTPError) return error.status >= 500;
  if (error instanceof DiscordAPIError) return error.status >= 500;
  const code = (error as { code?: unknown } | null)?.code;
  return (error as Error | null)?.name === 'AbortError' || (typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR)/.test(code));
}

export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = defaultRetry): Promise<T> {
  const sleep = options.sleep ?? sleepFor;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= options.retries || !isRetryable(error)) throw error;
      const delay = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
      await sleep(delay / 2 + Math.random() * (delay / 2));
    }
  }
}

/** Discord error codes meaning "the bot may not do this here". */
export const PERMISSION_CODES = new Set([50001, 50013]);

export function discordCode(error: unknown): number | undefined {
  return error instanceof DiscordAPIError && typeof error.code === 'number' ? error.code : undefined;
}
