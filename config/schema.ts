// The bot's configuration: every option documented with its default (p-queue options.ts style) and validated by zod.
// Each option `fooBar` is read from the environment variable `FOO_BAR` (see `envName`) or from a JSON file.
import { z } from 'zod';
import { defaultConfig } from './defaults.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface BotConfig {
  // ── storage and logs ──
  /** Folder for the embedded SQLite store (`imagine-bot.sqlite`) and other state. @default './data' */
  readonly dataDir: string;
  /** Use Redis (`@keyv/redis`) for jobs and settings instead of SQLite. @default undefined @example 'redis://localhost:6379' */
  readonly redisUrl: string | undefined;
  /** pino log level. @default 'info' */
  readonly logLevel: LogLevel;

  // ── engine ──
  /** Model folder (diffusers ONNX layout). @default undefined (the embedded model under models/) */
  readonly modelDir: string | undefined;
  /** onnxruntime execution provider. @default 'cpu' */
  readonly engineDevice: 'cpu' | 'cuda' | 'webgpu';
  /** GPU index for cuda/webgpu. @default 0 */
  readonly engineDeviceId: number;
  /** Fall back to CPU when the GPU provider cannot load instead of failing at start. @default false */
  readonly engineFallbackCpu: boolean;
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. @default 0 */
  readonly engineThreads: number;
  /** OS niceness (0–19) of the engine's threads so that chat traffic wins the CPU (Linux only; 0 = off). @default 10 */
  readonly engineNice: number;
  /**
   * Queued jobs with the same size, steps, scheduler and CFG mode that come next in the fair order run as one UNet
   * batch, up to this many jobs (a GPU throughput gain; 1 = off, the right choice on CPU). @default 1
   */
  readonly engineBatchJobs: number;

  // ── queue ──
  /** Running-or-queued jobs one user may have. @default 3 */
  readonly queueMaxPerUser: number;
  /** Running-or-queued jobs one guild/workspace may have. @default 50 */
  readonly queueMaxPerGuild: number;
  /** Running-or-queued jobs in all. @default 1000 */
  readonly queueMaxTotal: number;
  /**
   * Share of the engine per guild, keyed `platform:guildId`; unlisted guilds weigh 1. A guild of weight 2 starts two
   * jobs for every one of a guild of weight 1 while both have work queued. @default {} @example 'discord:123=2,slack:T42=0.5'
   */
  readonly queueGuildWeights: Readonly<Record<string, number>>;
  /** Priority of upscale/variation/reroll/vary jobs over new prompts (priority 0) within a guild. @default 1 */
  readonly queueFollowupPriority: number;
  /** Priority boost per role id (the largest of a user's roles applies). @default {} @example '987654321=2' */
  readonly queueRolePriority: Readonly<Record<string, number>>;
  /** A running job is aborted after this long. @default 600000 (10 minutes) */
  readonly jobTimeoutMs: number;
  /**
   * On SIGTERM, how long the running job may take to finish; after that it is stored as queued again and runs after
   * the restart. @default 25000 (inside the usual 30 s termination grace of process managers)
   */
  readonly shutdownGraceMs: number;
  /**
   * Finished jobs (done, failed, cancelled) and their images are deleted this many days after they finished, checked
   * at start and hourly; their buttons then answer that the job was deleted. 0 keeps everything forever. @default 30
   */
  readonly jobRetentionDays: number;

  // ── generation bounds and defaults ──
  /** Longest prompt accepted, in characters (flags included). @default 1000 */
  readonly maxPromptLength: number;
  /** Largest `--steps`. @default 150 */
  readonly maxSteps: number;
  /** `--steps` when neither user nor guild set one. @default undefined (the model's default) */
  readonly defaultSteps: number | undefined;
  /** `--guidance` when neither user nor guild set one. @default undefined (the model's default) */
  readonly defaultGuidanceScale: number | undefined;
  /** `--n` when neither user nor guild set one. @default 4 (a 2×2 grid) */
  readonly defaultImages: number;
  /** img2img strength of Upscale (U1–U4, Upscale 2×). @default 0.3 */
  readonly upscaleStrength: number;
  /** img2img strength of Variation (V1–V4). @default 0.6 */
  readonly variationStrength: number;
  /** img2img strength of Vary (Strong). @default 0.75 */
  readonly varyStrongStrength: number;
  /** img2img strength of Vary (Subtle). @default 0.35 */
  readonly varySubtleStrength: number;
  /** Words rejected in every prompt (guild admins add their own). Comma-separated. @default [] */
  readonly bannedWords: readonly string[];

  // ── Discord ──
  /** Bot token; Discord starts only when set. @default undefined */
  readonly discordToken: string | undefined;
  /** Application id (for command registration). @default undefined */
  readonly discordAppId: string | undefined;
  /** Register commands in these guilds (instant) instead of globally. Comma-separated. @default [] */
  readonly discordGuildIds: readonly string[];
  /** REST base URL, for proxies and tests. @default undefined (Discord's own) */
  readonly discordApiBase: string | undefined;

  // ── Slack ──
  /** Bot token `xoxb-…`; Slack starts only when set. @default undefined */
  readonly slackBotToken: string | undefined;
  /** App-level token `xapp-…` for Socket Mode. @default undefined */
  readonly slackAppToken: string | undefined;
  /** Signing secret; set it (and leave SLACK_APP_TOKEN unset) for HTTP mode. @default undefined */
  readonly slackSigningSecret: string | undefined;
  /** HTTP-mode port. @default 3001 */
  readonly slackPort: number;
  /** Web API base URL, for tests. @default undefined (Slack's own) */
  readonly slackApiUrl: string | undefined;

  // ── web playground and operations ──
  /** Port of the playground, /healthz and /metrics. @default 3000 */
  readonly port: number;
  /** Interface to bind. @default '127.0.0.1' */
  readonly host: string;
  /** Serve the web playground (`off` keeps only /healthz and /metrics). @default true */
  readonly playground: boolean;
  /** Serve Prometheus metrics on /metrics. @default true */
  readonly metrics: boolean;
}

// Each validator gives every issue the same text: what is expected. load.ts prefixes the variable and the value.
function int(min: number, max: number) {
  const error = `an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}
function num(min: number, max: number) {
  const error = `a number from ${min} to ${max}`;
  return z.coerce.number({ error }).min(min, { error }).max(max, { error });
}
const optional = <T extends z.ZodType>(schema: T) => schema.optional();

const truthy = ['true', 'on', 'yes', '1'];
const falsy = ['false', 'off', 'no', '0'];
const bool = z.preprocess(
  (v) => (typeof v === 'boolean' ? v : typeof v === 'string' ? v.trim().toLowerCase() : v),
  z.union([z.boolean(), z.enum([...truthy, ...falsy]).transform((v) => truthy.includes(v))], {
    error: 'one of true/false, on/off, yes/no, 1/0',
  }),
);

const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.string().min(1), { error: 'a comma-separated list' }),
);

const weightError = 'a comma-separated list of key=number pairs with numbers from 0 to 1000, like `discord:123=2,slack:T42=0.5`';
const weightMap = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? Object.fromEntries(
          v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
            .map((pair) => {
              const at = pair.lastIndexOf('=');
              return at < 0 ? [pair, Number.NaN] : [pair.slice(0, at).trim(), Number(pair.slice(at + 1))];
            }),
        )
      : v,
  z.record(z.string().min(1, { error: weightError }), z.number({ error: weightError }).min(0, { error: weightError }).max(1000, { error: weightError }), {
    error: weightError,
  }),
);

const url = z.url({ error: 'a URL like http://host:port' });
const text = z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' });

type Shape = { readonly [K in keyof BotConfig]-?: z.ZodType<BotConfig[K], unknown> };

export const configShape = {
  dataDir: text.default(defaultConfig.dataDir),
  redisUrl: optional(url),
  logLevel: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'one of fatal, error, warn, info, debug, trace, silent',
    })
    .default(defaultConfig.logLevel),
  modelDir: optional(text),
  engineDevice: z.enum(['cpu', 'cuda', 'webgpu'], { error: 'one of cpu, cuda, webgpu' }).default(defaultConfig.engineDevice),
  engineDeviceId: int(0, 64).default(defaultConfig.engineDeviceId),
  engineFallbackCpu: bool.default(defaultConfig.engineFallbackCpu),
  engineThreads: int(0, 256).default(defaultConfig.engineThreads),
  engineNice: int(0, 19).default(defaultConfig.engineNice),
  engineBatchJobs: int(1, 16).default(defaultConfig.engineBatchJobs),

  queueMaxPerUser: int(1, 1000).default(defaultConfig.queueMaxPerUser),
  queueMaxPerGuild: int(1, 100_000).default(defaultConfig.queueMaxPerGuild),
  queueMaxTotal: int(1, 1_000_000).default(defaultConfig.queueMaxTotal),
  queueGuildWeights: weightMap.default(defaultConfig.queueGuildWeights),
  queueFollowupPriority: int(-100, 100).default(defaultConfig.queueFollowupPriority),
  queueRolePriority: weightMap.default(defaultConfig.queueRolePriority),
  jobTimeoutMs: int(1000, 24 * 3_600_000).default(defaultConfig.jobTimeoutMs),
  shutdownGraceMs: int(0, 3_600_000).default(defaultConfig.shutdownGraceMs),
  jobRetentionDays: int(0, 36_500).default(defaultConfig.jobRetentionDays),

  maxPromptLength: int(1, 6000).default(defaultConfig.maxPromptLength),
  maxSteps: int(1, 1000).default(defaultConfig.maxSteps),
  defaultSteps: optional(int(1, 1000)),
  defaultGuidanceScale: optional(num(0, 50)),
  defaultImages: int(1, 4).default(defaultConfig.defaultImages),
  upscaleStrength: num(0.01, 1).default(defaultConfig.upscaleStrength),
  variationStrength: num(0.01, 1).default(defaultConfig.variationStrength),
  varyStrongStrength: num(0.01, 1).default(defaultConfig.varyStrongStrength),
  varySubtleStrength: num(0.01, 1).default(defaultConfig.varySubtleStrength),
  bannedWords: list.default([...defaultConfig.bannedWords]),

  discordToken: optional(text),
  discordAppId: optional(z.string().regex(/^\d{5,25}$/, { error: 'a numeric Discord application id' })),
  discordGuildIds: list.default([...defaultConfig.discordGuildIds]),
  discordApiBase: optional(url),

  slackBotToken: optional(text),
  slackAppToken: optional(text),
  slackSigningSecret: optional(text),
  slackPort: int(1, 65535).default(defaultConfig.slackPort),
  slackApiUrl: optional(url),

  port: int(0, 65535).default(defaultConfig.port),
  host: text.default(defaultConfig.host),
  playground: bool.default(defaultConfig.playground),
  metrics: bool.default(defaultConfig.metrics),
} satisfies Shape;

export const configSchema = z.object(configShape).strict();

/** `discordApiBase` → `DISCORD_API_BASE`. */
export function envName(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
