// HTTP-mode delivery: what Slack does when an app has a Request URL. It signs `v0:{timestamp}:{body}` with the app's
// signing secret and POSTs form-encoded bodies; interactions travel as `payload=<json>`. Bolt compares the content
// type with `===`, so it must be exactly `application/x-www-form-urlencoded` (pitfall 10).
import { createHmac } from 'node:crypto';

export function slackSignature(signingSecret: string, timestampSec: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex')}`;
}

/** The body Slack sends: slash commands as plain form fields, interactions as one `payload` field. */
export function encodeForHttp(payload: object): string {
  if ('command' in payload) return new URLSearchParams(payload as Record<string, string>).toString();
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface SignedPostOptions {
  /** Seconds since the epoch; default now. Older than 5 minutes must be rejected. */
  readonly timestampSec?: number;
  /** Sign with this secret instead (a bad signature). */
  readonly signWith?: string;
  readonly contentType?: string;
}

export interface SignedPostResult {
  readonly status: number;
  readonly body: string;
  readonly latencyMs: number;
}

export async function postSigned(url: string, signingSecret: string, payload: object, options: SignedPostOptions = {}): Promise<SignedPostResult> {
  const body = encodeForHttp(payload);
  const timestampSec = options.timestampSec ?? Math.floor(Date.now() / 1000);
  const started = Date.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestampSec),
      'x-slack-signature': slackSignature(options.signWith ?? signingSecret, timestampSec, body),
    },
    body,
  });
  return { status: res.status, body: await res.text(), latencyMs: Date.now() - started };
}
