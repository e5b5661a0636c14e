// The Slack adapter: a @slack/bolt App in Socket Mode (no public URL needed; `SLACK_BOT_TOKEN` + `SLACK_APP_TOKEN`)
// or HTTP mode (`SLACK_SIGNING_SECRET`, Bolt verifies every request's signature and answers 401 to bad or stale
// ones), registered on the shared core through its JobSurface.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, LogLevel, SocketModeReceiver, webApi } from '@slack/bolt';
import { BotError, ErrorCode } from '../../core/errors.ts';
import { botMetrics, type BotMetrics } from '../../core/metrics.ts';
import type { Adapter, BotCore, ConnectionState } from '../../core/types.ts';
import { clientOptions, defaultRetry, platformError, type RetryOptions } from './api.ts';
import { registerHandlers } from './handler.ts';
import { SlackSurface } from './surface.ts';

export { slashName, optionsFromText } from './commands.ts';
export { SlackSurface } from './surface.ts';

export interface SlackAdapterOptions {
  /** Bot token `xoxb-…`. */
  readonly botToken: string;
  /** App-level token `xapp-…` (scope `connections:write`): Socket Mode. */
  readonly appToken?: string;
  /** Signing secret: HTTP mode, used when no app token is given. */
  readonly signingSecret?: string;
  /** HTTP-mode port (0 picks a free one). @default 3001 */
  readonly port?: number;
  /** HTTP-mode interface. @default '0.0.0.0' (Slack must reach it) */
  readonly host?: string;
  /** Web API base URL, for tests. @default Slack's own */
  readonly apiUrl?: string;
  /** @default 3000 */
  readonly minEditIntervalMs?: number;
  /** @default 9000 */
  readonly previewIntervalMs?: number;
  /** chat.update calls per minute per workspace. @default 50 (Slack's Tier 3) */
  readonly editsPerMinute?: number;
  readonly retry?: Partial<RetryOptions>;
  /** Bolt's own log level. @default 'warn' */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  readonly log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Where ack latency and rate-limit hits are recorded. @default the process-wide registry */
  readonly metrics?: BotMetrics;
  /** Socket Mode connection changes after start (Slack rotating the connection, a network drop). */
  readonly onConnectionChange?: (state: ConnectionState, detail?: string) => void;
}

const levels = { debug: LogLevel.DEBUG, info: LogLevel.INFO, warn: LogLevel.WARN, error: LogLevel.ERROR } as const;

export class SlackAdapter implements Adapter {
  readonly name = 'slack';
  readonly mode: 'socket' | 'http';
  #app: App | undefined;
  #core: BotCore | undefined;
  #surface: SlackSurface | undefined;
  #stopping = false;
  /** The HTTP-mode events URL once started (`http://host:port/slack/events`). */
  eventsUrl: string | undefined;

  constructor(private readonly o: SlackAdapterOptions) {
    if (!o.botToken) throw new BotError(ErrorCode.Config, 'Expected `SLACK_BOT_TOKEN` (xoxb-…) to be set to start Slack');
    if (!o.appToken && !o.signingSecret) {
      throw new BotError(
        ErrorCode.Config,
        'Expected `SLACK_APP_TOKEN` (xapp-…, Socket Mode) or `SLACK_SIGNING_SECRET` (HTTP mode) to be set, got neither; see README § Slack',
      );
    }
    this.mode = o.appToken ? 'socket' : 'http';
  }

  async start(core: BotCore): Promise<void> {
    const o = this.o;
    this.#stopping = false;
    const retry = { ...defaultRetry, ...o.retry };
    // deferInitialization: otherwise Bolt calls auth.test in its constructor and a bad token becomes an unhandled
    // rejection that takes the whole process (and the other platforms) down.
    const common = { token: o.botToken, logLevel: levels[o.logLevel ?? 'warn'], clientOptions: clientOptions(o.apiUrl), deferInitialization: true };
    // The receiver is built here (as Bolt would) to reach its SocketModeClient's connection events.
    const receiver = this.mode === 'socket' ? new SocketModeReceiver({ appToken: o.appToken!, logLevel: common.logLevel, installerOptions: { clientOptions: common.clientOptions } }) : undefined;
    const app = receiver ? new App({ ...common, receiver, socketMode: true }) : new App({ ...common, signingSecret: o.signingSecret });
    await app.init().catch((error: unknown) => {
      throw new BotError(
        ErrorCode.Config,
        `Slack rejected \`SLACK_BOT_TOKEN\` (auth.test: ${platformError(error) ?? String(error)}); expected the Bot User OAuth Token (xoxb-…) from the app's Install App page`,
        undefined,
        { cause: error },
      );
    });
    const surface = new SlackSurface({ client: app.client, minEditIntervalMs: o.minEditIntervalMs, previewIntervalMs: o.previewIntervalMs, editsPerMinute: o.editsPerMinute, retry, log: o.log });
    const metrics = o.metrics ?? botMetrics();
    app.client.on(webApi.WebClientEvent.RATE_LIMITED, () => metrics.recordRateLimit('slack'));
    registerHandlers(app, { core, surface, client: app.client, retry, log: o.log, onAck: (ms) => metrics.recordAck('slack', ms) });
    app.error(async (error) => {
      o.log?.('error', 'Slack listener failed', { code: error.code, error: String(error) });
    });
    // Attached before the first event can arrive; recovered jobs' updates flow from here on.
    core.attachSurface(surface);
    this.#surface = surface;
    this.#core = core;
    if (receiver) {
      await app.start().catch(async (error: unknown) => {
        core.detachSurface('slack');
        await app.stop().catch(() => {});
        throw new BotError(
          ErrorCode.Config,
          `Slack refused the Socket Mode connection (apps.connections.open: ${platformError(error) ?? String(error)}); expected \`SLACK_APP_TOKEN\` to be an app-level token (xapp-…) with the connections:write scope, and Socket Mode enabled for the app`,
          undefined,
          { cause: error },
        );
      });
      const changed = o.onConnectionChange;
      if (changed) {
        const report = (state: ConnectionState, detail?: string) => {
          if (!this.#stopping) changed(state, detail);
        };
        // 'close' comes first when the connection drops; 'reconnecting' only after the back-off delay.
        receiver.client.on('close', () => report('reconnecting'));
        receiver.client.on('reconnecting', () => report('reconnecting'));
        receiver.client.on('connected', () => report('connected'));
        receiver.client.on('disconnected', () => report('disconnected', 'the Socket Mode connection closed and will not reconnect'));
      }
    } else {
      const server = (await app.start({ port: o.port ?? 3001, host: o.host ?? '0.0.0.0' }).catch((error: unknown) => {
        core.detachSurface('slack');
        throw error;
      })) as Server;
      const { port } = server.address() as AddressInfo;
      this.eventsUrl = `http://${o.host && o.host !== '0.0.0.0' ? o.host : '127.0.0.1'}:${port}/slack/events`;
    }
    this.#app = app;
  }

  async stop(): Promise<void> {
    this.#core?.detachSurface('slack');
    // Let final views already handed over (a drained job's grid) reach Slack before the connection closes.
    await this.#surface?.idle();
    this.#stopping = true;
    await this.#app?.stop();
    this.#app = undefined;
  }
}

export function createSlackAdapter(options: SlackAdapterOptions): SlackAdapter {
  return new SlackAdapter(options);
}
