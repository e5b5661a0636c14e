// Composition root (`npm start`): config → engine → store → core → adapters. The only file that wires concretes.
// Starts every platform whose credentials are configured, and always the web server: the playground (unless
// PLAYGROUND=off) with /healthz and /metrics. SIGTERM/SIGINT shut down gracefully (src/shutdown.ts).
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commands, handleButton, isEphemeralAction } from '../commands/index.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { BotConfig } from '../config/schema.ts';
import { createEngine, defaultModelDir } from '../engine/index.ts';
import { createDiscordAdapter } from './adapters/discord/index.ts';
import { SlackAdapter } from './adapters/slack/index.ts';
import { createWebAdapter } from './adapters/web/index.ts';
import { createCore } from './core/create-core.ts';
import { Health } from './core/health.ts';
import { openJobStore } from './core/job-store.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { botMetrics, observeCore } from './core/metrics.ts';
import type { Adapter, ConnectionState } from './core/types.ts';
import { shutdown } from './shutdown.ts';

/** A start-up problem the operator can fix; printed without a stack trace. */
export class StartError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The model folder to load, or a StartError that says how to get one. */
export function resolveModelDir(config: Pick<BotConfig, 'modelDir'>, embedded = defaultModelDir): string {
  if (config.modelDir) return config.modelDir;
  if (existsSync(join(embedded, 'model_index.json'))) return embedded;
  const shown = relative(process.cwd(), embedded) || embedded;
  throw new StartError(
    'bot_model_missing',
    `The embedded default model is missing: ${shown}/model_index.json does not exist.\n` +
      `  - Get it with the repository (git pull; it is committed under models/), or train it: npm run train:model\n` +
      `  - Or point MODEL_DIR at any Stable Diffusion folder in the diffusers ONNX layout, e.g.\n` +
      `    MODEL_DIR=test/fixtures/models/tiny-sd npm start   (a tiny random-weight model: noise, but every feature works)`,
  );
}

function adapterLog(log: Logger) {
  return (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => log[level](fields ?? {}, message);
}

export async function main(config: BotConfig = loadConfig()): Promise<void> {
  const log = createLogger({ level: config.logLevel });
  const modelDir = resolveModelDir(config);
  const metrics = botMetrics();
  const health = new Health();

  // The web server listens first, so /healthz answers (503, starting) while the model loads.
  const web = createWebAdapter({
    port: config.port,
    host: config.host,
    playground: config.playground,
    metrics: config.metrics ? metrics : undefined,
    health: () => health.report(),
    log: adapterLog(log),
  });
  const url = await web.listen();
  if (config.playground) health.platform('web', 'starting');

  const engine = await createEngine({
    modelDir,
    device: config.engineDevice,
    deviceId: config.engineDeviceId,
    fallbackToCpu: config.engineFallbackCpu,
    intraOpNumThreads: config.engineThreads,
    niceness: config.engineNice,
  });
  health.engine(engine.info);
  log.info({ model: engine.info.name, device: engine.info.device, modelDir }, 'model loaded');

  const store = openJobStore({ dataDir: config.dataDir, redisUrl: config.redisUrl, onError: (error) => log.error({ err: error }, 'store error') });
  const core = createCore({ config, engine, store, log, commands, buttons: { handle: handleButton, isEphemeral: isEphemeralAction } });
  observeCore(core.bot, metrics);

  const adapters: Adapter[] = [web];
  // After start, a platform's connection can still drop and come back: /healthz follows it.
  const connection = (platform: 'discord' | 'slack') => (state: ConnectionState, detail?: string) => {
    health.platform(platform, state, detail);
    if (state === 'connected') log.info({ platform }, `${platform} connection is back`);
    else log.warn({ platform, detail }, `${platform} connection ${state}`);
  };
  if (config.discordToken) {
    adapters.push(
      createDiscordAdapter({
        token: config.discordToken,
        applicationId: config.discordAppId ?? '',
        guildIds: config.discordGuildIds,
        apiBase: config.discordApiBase,
        log: adapterLog(log),
        onConnectionChange: connection('discord'),
      }),
    );
  }
  if (config.slackBotToken) {
    adapters.push(
      new SlackAdapter({
        botToken: config.slackBotToken,
        appToken: config.slackAppToken,
        signingSecret: config.slackSigningSecret,
        port: config.slackPort,
        apiUrl: config.slackApiUrl,
        log: adapterLog(log),
        onConnectionChange: connection('slack'),
      }),
    );
  }
  const started: Adapter[] = [];
  for (const adapter of adapters) {
    const platform = adapter.name as 'web' | 'discord' | 'slack';
    if (platform !== 'web' || config.playground) health.platform(platform, 'starting');
    try {
      await adapter.start(core.bot);
      started.push(adapter);
      if (platform !== 'web' || config.playground) health.platform(platform, 'connected');
    } catch (error) {
      // One platform failing (a revoked token, say) must not take the others down; /healthz shows it.
      health.platform(platform, 'failed', (error as Error).message);
      log.error({ platform, err: error }, `${platform} did not start`);
    }
  }
  // Recover after the surfaces are attached, so recovered jobs can update their messages.
  const recovered = await core.start();
  log.info({ url, playground: config.playground, platforms: started.map((a) => a.name), recovered }, 'imagine-bot is running');
  if (config.playground) process.stdout.write(`\n  Playground: ${url}\n  Health: ${url}/healthz   Metrics: ${url}/metrics\n\n`);

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received');
    shutdown({ log, health, graceMs: config.shutdownGraceMs, core, engine, adapters: started, stopAccepting: () => web.stopAccepting() })
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    // Problems the operator can fix (config, model, port) print as their message alone; anything else with its stack.
    const code = (error as { code?: unknown }).code;
    const known = error instanceof StartError || error instanceof ConfigError || (typeof code === 'string' && /^(bot_config|sd_engine)/.test(code));
    console.error(known ? `imagine-bot could not start: ${(error as Error).message}` : error);
    process.exit(1);
  });
}
