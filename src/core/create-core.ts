// Wires the core from an engine, a store and the config: dispatcher + runner + progress hub + services + bot.
// `start()` recovers unfinished jobs from the store (queued and interrupted ones, in their original order).
import { EventEmitter } from 'node:events';
import type { BotConfig } from '../../config/schema.ts';
import { batchKey, withJobBatching } from '../../engine/index.ts';
import type { Engine } from '../../engine/index.ts';
import { Bot, type ButtonHandlers } from './bot.ts';
import { FairDispatcher } from './dispatcher.ts';
import { type JobRetention, startJobRetention } from './job-retention.ts';
import { createJobRunner } from './job-runner.ts';
import { CoreJobService } from './job-service.ts';
import type { JobStore } from './job-store.ts';
import type { Logger } from './logger.ts';
import { createModerator } from './moderation.ts';
import { ProgressHub } from './progress.ts';
import type { BotCore, Command, CoreServices, GenerationLimits, JobRecord, JobSurface, Platform } from './types.ts';
import { queuedView } from './views.ts';

export type CoreConfig = Pick<
  BotConfig,
  | 'queueMaxPerUser'
  | 'queueMaxPerGuild'
  | 'queueMaxTotal'
  | 'queueGuildWeights'
  | 'queueFollowupPriority'
  | 'queueRolePriority'
  | 'jobTimeoutMs'
  | 'maxPromptLength'
  | 'maxSteps'
  | 'defaultSteps'
  | 'defaultGuidanceScale'
  | 'defaultImages'
  | 'upscaleStrength'
  | 'variationStrength'
  | 'varyStrongStrength'
  | 'varySubtleStrength'
  | 'bannedWords'
> &
  Partial<Pick<BotConfig, 'engineBatchJobs' | 'jobRetentionDays'>>;

/** The generation bounds and defaults commands read, from the config. */
export function generationLimits(config: CoreConfig): GenerationLimits {
  return {
    maxPromptLength: config.maxPromptLength,
    maxSteps: config.maxSteps,
    defaultSteps: config.defaultSteps,
    defaultGuidanceScale: config.defaultGuidanceScale,
    defaultImages: config.defaultImages,
    upscaleStrength: config.upscaleStrength,
    variationStrength: config.variationStrength,
    varyStrongStrength: config.varyStrongStrength,
    varySubtleStrength: config.varySubtleStrength,
  };
}

export interface CoreDeps {
  readonly config: CoreConfig;
  readonly engine: Engine;
  readonly store: JobStore;
  readonly log: Logger;
  /** From commands/index.ts (injected by main, so the core does not import commands/). */
  readonly commands: readonly Command[];
  readonly buttons: ButtonHandlers;
  /** Ask the engine for a preview every N steps. @default 1 */
  readonly previewEvery?: number;
  /** How many queued jobs (from the front) get live position updates. @default 10 */
  readonly liveQueuedMessages?: number;
}

export interface Core {
  readonly bot: BotCore;
  readonly dispatcher: FairDispatcher;
  readonly hub: ProgressHub;
  readonly store: JobStore;
  /** Re-queue unfinished jobs from the store; returns how many. */
  start(): Promise<number>;
  /** Stop starting jobs, wait for the running one, close the store. */
  close(): Promise<void>;
}

export function createCore(deps: CoreDeps): Core {
  const { config, engine, store, log } = deps;
  const events = new EventEmitter();
  const liveQueued = deps.liveQueuedMessages ?? 10;

  // Platforms name commands their own way (Slack prefixes them); the attached surface says how.
  const surfaces = new Map<Platform, JobSurface>();
  const commandName = (platform: Platform, name: string) => surfaces.get(platform)?.commandName?.(name) ?? `/${name}`;

  const hub = new ProgressHub({
    saveRef: async (jobId, ref) => {
      await store.updateJob(jobId, (j) => ({ ...j, message: ref }));
    },
    onError: (error, jobId) => log.warn({ jobId, err: error }, 'progress delivery failed'),
  });

  // Position updates for the front of the queue, coalesced: many changes in a burst cost one pass.
  const lastPosition = new Map<string, string>();
  let refresh: NodeJS.Timeout | undefined;
  const scheduleRefresh = () => {
    refresh ??= setTimeout(() => {
      refresh = undefined;
      const ids = dispatcher.predictedIds(liveQueued);
      for (const id of ids) {
        const at = dispatcher.positionNow(id);
        const job = dispatcher.queuedJob(id);
        if (!at || !job) continue;
        // Update when the place changes, or when the first measured job makes an ETA known.
        const key = `${at.position}:${at.etaMs === undefined}`;
        if (lastPosition.get(id) === key) continue;
        lastPosition.set(id, key);
        hub.push(job, { final: false, build: async () => queuedView(job, at.position, at.etaMs) });
      }
      for (const id of lastPosition.keys()) if (!dispatcher.queuedJob(id)) lastPosition.delete(id);
    }, 50);
  };

  // Cross-job batching (ENGINE_BATCH_JOBS > 1): the dispatcher starts compatible jobs together and the engine
  // wrapper turns their generate calls into one UNet batch.
  const batchJobs = config.engineBatchJobs ?? 1;
  const jobBatchKey = (job: JobRecord) => (job.params.initImage ? undefined : batchKey(job.params, engine.info));
  const runJob = createJobRunner({
    engine: batchJobs > 1 ? withJobBatching(engine, { maxBatch: batchJobs, windowMs: 50 }) : engine,
    store,
    hub,
    log,
    etaOf: (id) => dispatcher.positionNow(id)?.etaMs,
    ...(deps.previewEvery !== undefined && { previewEvery: deps.previewEvery }),
    onStarted: (job) => events.emit('jobStarted', job),
    onProgress: (job, step, total) => events.emit('jobProgress', job, step, total),
    onFinished: (job) => events.emit('jobFinished', job),
  });

  const dispatcher: FairDispatcher = new FairDispatcher({
    run: runJob,
    maxPerUser: config.queueMaxPerUser,
    maxPerGuild: config.queueMaxPerGuild,
    maxTotal: config.queueMaxTotal,
    weights: config.queueGuildWeights,
    jobTimeoutMs: config.jobTimeoutMs,
    ...(batchJobs > 1 && { batch: { max: batchJobs, key: jobBatchKey } }),
    onChange: scheduleRefresh,
    onMeasured: (ms) => void store.setMsPerUnit(ms).catch((error: unknown) => log.warn({ err: error }, 'could not store the job time average')),
    onError: (error, job) => log.error({ jobId: job.id, err: error }, 'job runner crashed'),
    commandName,
  });

  const jobs = new CoreJobService({
    store,
    queue: dispatcher,
    hub,
    log,
    followupPriority: config.queueFollowupPriority,
    rolePriority: config.queueRolePriority,
    onQueued: (job) => events.emit('jobQueued', job),
    onFinished: (job) => events.emit('jobFinished', job),
  });

  const limits = generationLimits(config);

  const services: CoreServices = {
    model: engine.info,
    jobs,
    limits,
    commands: deps.commands.map((c) => c.data),
    commandName,
    settings: {
      user: (platform, userId) => store.userSettings(platform, userId),
      guild: (platform, guildId) => store.guildSettings(platform, guildId),
      setUser: (platform, userId, value) => store.setUserSettings(platform, userId, value),
      setGuild: (platform, guildId, value) => store.setGuildSettings(platform, guildId, value),
    },
    moderate: createModerator({
      globalWords: config.bannedWords,
      guildWords: async (actor) => (await store.guildSettings(actor.platform, actor.guildId)).bannedWords ?? [],
      onReject: (actor, word, text) =>
        log.warn({ platform: actor.platform, guild: actor.guildId, user: actor.userId, word, prompt: text.slice(0, 200) }, 'prompt rejected: banned word'),
    }),
  };

  const retentionDays = config.jobRetentionDays ?? 0;
  let retention: JobRetention | undefined;
  const bot = new Bot({
    retentionDays,
    commands: deps.commands,
    buttons: deps.buttons,
    services,
    log,
    events,
    attachSurface: (surface) => {
      surfaces.set(surface.platform, surface);
      hub.attach(surface);
    },
    detachSurface: (platform) => {
      surfaces.delete(platform);
      hub.detach(platform);
    },
  });

  return {
    bot,
    dispatcher,
    hub,
    store,
    async start() {
      const remembered = await store.msPerUnit();
      if (remembered !== undefined) dispatcher.seedEstimate(remembered);
      const pending = await store.pendingJobs();
      for (const found of pending) {
        let job: JobRecord = found;
        if (job.status === 'running') {
          // Interrupted by a crash or kill: it runs again from the start with the same seed.
          job = (await store.updateJob(job.id, (j) => (j.status === 'running' ? { ...j, status: 'queued' } : undefined))) ?? job;
          log.warn({ jobId: job.id, attempts: job.attempts }, 'job was interrupted; re-queued');
        }
        dispatcher.restore(job);
      }
      if (pending.length > 0) log.info({ jobs: pending.length }, 'recovered unfinished jobs');
      // After recovery, so the first prune never delays re-queued jobs.
      retention ??= startJobRetention({ store, retentionDays, log });
      return pending.length;
    },
    async close() {
      clearTimeout(refresh);
      await retention?.stop();
      await dispatcher.close();
      await store.close();
    },
  };
}
