// Discord adapter: a discord.js gateway client that registers the core's commands, turns interactions into neutral
// inputs (acknowledging first) and keeps job messages up to date through the DiscordSurface.
import { Client, Events, RESTEvents, Routes, WebSocketShardEvents } from 'discord.js';
import { BotError, ErrorCode } from '../../core/errors.ts';
import { botMetrics, type BotMetrics } from '../../core/metrics.ts';
import type { Adapter, BotCore, ConnectionState } from '../../core/types.ts';
import { toSlashCommands } from './commands.ts';
import { handleInteraction } from './handler.ts';
import { withRetry } from './rest.ts';
import { DiscordSurface } from './surface.ts';

export interface DiscordAdapterOptions {
  /** `DISCORD_TOKEN`: the bot token from the Developer Portal's Bot page. */
  token: string;
  /** `DISCORD_APP_ID`: the application id (General Information page); when unset, read from the gateway's READY. */
  applicationId?: string;
  /** `DISCORD_GUILD_IDS`: register commands in these guilds (instant) instead of globally. */
  guildIds?: readonly string[];
  /** `DISCORD_API_BASE`: REST base without version, e.g. `http://127.0.0.1:8080/api`; default Discord's own. */
  apiBase?: string;
  /** Clock for interaction-token expiry; tests move it. */
  now?: () => number;
  /** Minimum time between two edits of one job message (default 1000 ms). */
  minEditIntervalMs?: number;
  /** REST request timeout (default 15 s). */
  requestTimeoutMs?: number;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Where ack latency and rate-limit hits are recorded (default: the process-wide registry). */
  metrics?: BotMetrics;
  /** Gateway connection changes after start (a resume, a reconnect, a close Discord does not allow to resume). */
  onConnectionChange?: (state: ConnectionState, detail?: string) => void;
}

export interface DiscordAdapter extends Adapter {
  readonly client: Client;
}

export function createDiscordAdapter(options: DiscordAdapterOptions): DiscordAdapter {
  if (!options.token) throw new BotError(ErrorCode.Config, 'Expected `DISCORD_TOKEN` to be the bot token from the Developer Portal (Bot → Reset Token), got nothing');
  if (options.applicationId !== undefined && options.applicationId !== '' && !/^\d{5,25}$/.test(options.applicationId)) {
    throw new BotError(ErrorCode.Config, `Expected \`DISCORD_APP_ID\` to be the numeric application id (General Information → Application ID), got \`${options.applicationId}\``);
  }
  const client = new Client({
    intents: [], // interactions arrive without any intent
    rest: {
      ...(options.apiBase ? { api: options.apiBase.replace(/\/+$/, '') } : {}),
      retries: 0, // 5xx are retried with backoff in rest.ts; 429s are still waited out by discord.js
      timeout: options.requestTimeoutMs ?? 15_000,
    },
  });
  let applicationId = options.applicationId || undefined;
  const appId = () => {
    applicationId ??= client.application?.id;
    if (!applicationId) throw new BotError(ErrorCode.Config, 'The Discord application id is not known yet: set `DISCORD_APP_ID` or wait for the client to be ready');
    return applicationId;
  };
  const surface = new DiscordSurface({
    rest: client.rest,
    applicationId: appId,
    now: options.now,
    minEditIntervalMs: options.minEditIntervalMs,
    log: options.log,
  });
  let core: BotCore | undefined;
  const metrics = options.metrics ?? botMetrics();
  // Count real 429s only: RateLimited also fires when discord.js merely paces itself from the headers.
  client.rest.on(RESTEvents.Response, (_request, response) => {
    if (response.status === 429) metrics.recordRateLimit('discord');
  });

  return {
    name: 'discord',
    client,
    async start(c: BotCore) {
      core = c;
      client.on(Events.InteractionCreate, (interaction) => {
        void handleInteraction(interaction, {
          core: c,
          surface,
          now: options.now,
          log: options.log,
          onAck: (ms) => metrics.recordAck('discord', ms),
        });
      });
      c.attachSurface(surface); // REST-only: job messages can be edited before the gateway is up
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve())); // attach before login
      await client.login(options.token);
      await ready;
      const changed = options.onConnectionChange;
      if (changed) {
        client.on(Events.ShardReconnecting, () => changed('reconnecting'));
        client.on(Events.ShardDisconnect, ({ code }) => changed('disconnected', `the gateway closed with code ${code}, which does not allow reconnecting (a reset token?)`));
        client.on(Events.ShardReady, () => changed('connected'));
        // discord.js 14 announces a resume on the shard only, not on the client.
        for (const shard of client.ws.shards.values()) shard.on(WebSocketShardEvents.Resumed, () => changed('connected'));
      }
      const body = toSlashCommands(c.commands);
      const guilds = options.guildIds ?? [];
      if (guilds.length === 0) await withRetry(() => client.rest.put(Routes.applicationCommands(appId()), { body }));
      for (const guild of guilds) await withRetry(() => client.rest.put(Routes.applicationGuildCommands(appId(), guild), { body }));
    },
    async stop() {
      core?.detachSurface('discord');
      client.removeAllListeners(Events.InteractionCreate);
      await client.destroy();
    },
  };
}
