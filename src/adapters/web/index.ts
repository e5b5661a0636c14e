// Web adapter: the local playground (a chat-like page over the same core and commands as Discord and Slack) plus the
// operations endpoints /healthz and /metrics, on one small node:http server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthReport } from '../../core/health.ts';
import type { BotMetrics } from '../../core/metrics.ts';
import type { Adapter, BotCore } from '../../core/types.ts';
import { Hub } from './hub.ts';
import { WebInputError } from './input.ts';
import { fail, route, type RouteContext } from './server.ts';
import { GridCache, WebSurface } from './surface.ts';

export interface WebAdapterOptions {
  /** `PORT`; 0 picks a free one (tests). @default 3000 */
  readonly port?: number;
  /** `HOST`: the interface to bind. Anyone who can reach it can act as any playground user. @default '127.0.0.1' */
  readonly host?: string;
  /** `PLAYGROUND`: serve the page and its API; off keeps only /healthz and /metrics. @default true */
  readonly playground?: boolean;
  /** Served on /metrics when set. */
  readonly metrics?: BotMetrics;
  /** Served on /healthz when set. */
  readonly health?: () => HealthReport;
  /** Minimum time between two updates of one job message. @default 100 */
  readonly minEditIntervalMs?: number;
  readonly log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface WebAdapter extends Adapter {
  /** Listen before the core exists, so /healthz answers while the model loads. Idempotent. */
  listen(): Promise<string>;
  /** Shutting down: refuse new inputs (503) while the running job finishes; /healthz and /metrics stay up. */
  stopAccepting(): void;
  /** `http://host:port`, once listening. */
  readonly url: string | undefined;
  readonly server: Server;
}

export function createWebAdapter(options: WebAdapterOptions = {}): WebAdapter {
  const hub = new Hub();
  const surface = new WebSurface(hub, new GridCache(), options.minEditIntervalMs ?? 100);
  const log = options.log ?? (() => {});
  const context: { -readonly [K in keyof RouteContext]: RouteContext[K] } = {
    core: undefined,
    hub,
    surface,
    playground: options.playground ?? true,
    accepting: true,
    metrics: options.metrics,
    health: options.health,
    log,
  };
  const server = createServer((req, res) => {
    route(req, res, context).catch((error: unknown) => {
      if (res.headersSent) return void res.end();
      if (error instanceof WebInputError) return fail(res, 400, error.code, error.message);
      log('error', 'Playground request failed', { url: req.url, error: String(error) });
      fail(res, 500, 'web_internal', 'The bot failed on this request; see its log');
    });
  });
  const ping = setInterval(() => hub.ping(), 15_000).unref();
  let listening: Promise<string> | undefined;
  let url: string | undefined;

  return {
    name: 'web',
    server,
    get url() {
      return url;
    },
    listen() {
      listening ??= new Promise<string>((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            error.code === 'EADDRINUSE'
              ? Object.assign(new Error(`Port ${options.port ?? 3000} on ${options.host ?? '127.0.0.1'} is in use; set PORT to a free port (or PLAYGROUND=off with METRICS=off)`), { code: 'bot_config' })
              : error,
          ),
        );
        server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => {
          const a = server.address() as AddressInfo;
          url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
          resolve(url);
        });
      });
      return listening;
    },
    stopAccepting() {
      context.accepting = false;
    },
    async start(core: BotCore) {
      await this.listen();
      context.core = core;
      if (context.playground) core.attachSurface(surface);
    },
    async stop() {
      clearInterval(ping);
      if (context.playground) context.core?.detachSurface('web');
      hub.closeAll('The bot is shutting down.');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export { Hub } from './hub.ts';
export { parseLine, WebInputError } from './input.ts';
