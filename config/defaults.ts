// Every option's default in one typed constant (discord.js `DefaultRestOptions` style).
import type { BotConfig } from './schema.ts';

export const defaultConfig = {
  dataDir: './data',
  redisUrl: undefined,
  logLevel: 'info',
  modelDir: undefined,
  engineDevice: 'cpu',
  engineDeviceId: 0,
  engineFallbackCpu: false,
  engineThreads: 0,
  engineNice: 10,
  engineBatchJobs: 1,

  queueMaxPerUser: 3,
  queueMaxPerGuild: 50,
  queueMaxTotal: 1000,
  queueGuildWeights: {},
  queueFollowupPriority: 1,
  queueRolePriority: {},
  jobTimeoutMs: 10 * 60_000,
  shutdownGraceMs: 25_000,
  jobRetentionDays: 30,

  maxPromptLength: 1000,
  maxSteps: 150,
  defaultSteps: undefined,
  defaultGuidanceScale: undefined,
  defaultImages: 4,
  upscaleStrength: 0.3,
  variationStrength: 0.6,
  varyStrongStrength: 0.75,
  varySubtleStrength: 0.35,
  bannedWords: [],

  discordToken: undefined,
  discordAppId: undefined,
  discordGuildIds: [],
  discordApiBase: undefined,

  slackBotToken: undefined,
  slackAppToken: undefined,
  slackSigningSecret: undefined,
  slackPort: 3001,
  slackApiUrl: undefined,

  port: 3000,
  host: '127.0.0.1',
  playground: true,
  metrics: true,
} as const satisfies BotConfig;
