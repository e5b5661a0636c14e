// The HTTP side: operations endpoints (always) and the playground (page, SSE stream, inputs, PNG endpoints). Every
// request is checked before it reaches the core; bad ones get 400 with `{ error: { code, message } }`.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JOB_ID } from '../../core/button-id.ts';
import type { HealthReport } from '../../core/health.ts';
import type { BotMetrics } from '../../core/metrics.ts';
import type { BotCore } from '../../core/types.ts';
import type { Hub } from './hub.ts';
import { WebInputError, guildPattern, parseBody, toInput } from './input.ts';
import { WebReply, type WebSurface } from './surface.ts';

export interface RouteContext {
  readonly core: BotCore | undefined;
  readonly hub: Hub;
  readonly surface: WebSurface;
  readonly playground: boolean;
  /** False while shutting down: inputs get 503. */
  readonly accepting: boolean;
  readonly metrics: BotMetrics | undefined;
  readonly health: (() => HealthReport) | undefined;
  readonly log: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

const publicDir = new URL('./public/', import.meta.url);
const types: Record<string, string> = { html: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' };
// Read once: the page is three small files and never changes while the bot runs.
const assets = new Map(
  ['index.html', 'style.css', 'app.js'].map((name) => [name, { body: readFileSync(new URL(name, publicDir)), type: types[name.split('.').pop()!] }]),
);
const security = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const MAX_BODY = 16 * 1024;

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...security });
  res.end(JSON.stringify(value));
}

export function fail(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { error: { code, message } });
}

function png(res: ServerResponse, bytes: Uint8Array, immutable: boolean): void {
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length, 'cache-control': immutable ? 'public, max-age=86400' : 'no-store', ...security });
  res.end(bytes);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new WebInputError('Bad request: expected `content-type: application/json`');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new WebInputError(`Bad request: the body is over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new WebInputError('Bad request: the body is not valid JSON');
  }
}

export async function route(req: IncomingMessage, res: ServerResponse, c: RouteContext): Promise<void> {
  const receivedAt = performance.now();
  const url = new URL(req.url ?? '/', 'http://local');
  const path = url.pathname;
  const method = req.method ?? 'GET';

  if (path === '/healthz' && method === 'GET') {
    if (!c.health) return fail(res, 404, 'web_not_found', 'Health reporting is not configured');
    const report = c.health();
    return json(res, report.status === 'ok' ? 200 : 503, report);
  }
  if (path === '/metrics' && method === 'GET') {
    if (!c.metrics) return fail(res, 404, 'web_not_found', 'Metrics are off (METRICS=off)');
    const text = await c.metrics.text();
    res.writeHead(200, { 'content-type': c.metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(text);
    return;
  }
  if (!c.playground) return fail(res, 404, 'web_not_found', 'The playground is off (PLAYGROUND=off); only /healthz and /metrics are served');

  if (method === 'GET' && (path === '/' || path === '/index.html' || path === '/style.css' || path === '/app.js')) {
    const asset = assets.get(path === '/' ? 'index.html' : path.slice(1))!;
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...security });
    res.end(asset.body);
    return;
  }
  if (path === '/api/input' && !c.accepting) return fail(res, 503, 'web_shutting_down', 'The bot is shutting down; try again once it is back');
  const core = c.core;
  if (!core) return fail(res, 503, 'web_starting', 'The bot is still starting; try again in a moment');

  if (path === '/api/events' && method === 'GET') {
    const tabId = url.searchParams.get('tab') ?? '';
    const guildId = url.searchParams.get('guild') ?? '';
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(tabId)) return fail(res, 400, 'web_bad_request', 'Bad request: `tab` must be 8 to 64 letters, digits, - or _');
    if (!guildPattern.test(guildId)) return fail(res, 400, 'web_bad_request', 'Bad request: `guild` must be 1 to 32 letters, digits, - or _');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', ...security });
    res.flushHeaders();
    c.hub.open({ tabId, guildId, res }, { model: { name: core.model.name, width: core.model.width, height: core.model.height }, commands: core.commands });
    return;
  }
  if (path === '/api/input' && method === 'POST') {
    const body = parseBody(await readJson(req));
    const input = toInput(body, core.commands);
    // Acknowledge first: the page gets its 202 before the core does anything; answers follow on the tab's stream.
    json(res, 202, { ok: true, ephemeral: core.isEphemeral(input) });
    c.metrics?.recordAck('web', performance.now() - receivedAt);
    const reply = new WebReply(c.surface, body.tabId, body.guildId);
    await core.dispatch(input, reply).catch((error: unknown) => c.log('error', 'Core dispatch rejected', { error: String(error) }));
    return;
  }
  const image = /^\/api\/jobs\/([^/]+)\/(?:grid|images\/([^/]+))\.png$/.exec(path);
  if (image && method === 'GET') {
    const [, jobId, n] = image;
    if (!JOB_ID.test(jobId)) return fail(res, 400, 'web_bad_request', `Bad request: \`${jobId.slice(0, 20)}\` is not a job id (6 to 12 characters of 0-9, a-z without i, l, o, u)`);
    if (n === undefined) {
      const cached = c.surface.grids.get(jobId);
      if (cached) return png(res, cached.png, true);
      const job = await core.services.jobs.get(jobId);
      const view = job && (await core.services.jobs.doneView(job));
      if (!view || view.state !== 'done') return fail(res, 404, 'web_not_found', `Job \`${jobId}\` has no finished grid`);
      c.surface.grids.set(jobId, view.image);
      return png(res, view.image.png, true);
    }
    if (!/^[1-4]$/.test(n)) return fail(res, 400, 'web_bad_request', `Bad request: the image number must be 1 to 4, got \`${n.slice(0, 10)}\``);
    const single = await core.services.jobs.image(jobId, Number(n));
    if (!single) return fail(res, 404, 'web_not_found', `Job \`${jobId}\` has no finished image ${n}`);
    return png(res, single.png, true);
  }
  return fail(res, 404, 'web_not_found', `No route for ${method} ${path.slice(0, 80)}`);
}
