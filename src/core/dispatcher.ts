// The in-process scheduler behind the `JobQueue` boundary: per-guild fair queues (fair-queue.ts) feeding one engine
// slot (a p-queue of concurrency 1), with per-user/guild/total limits, a per-job time limit, cancel, and positions
// with an ETA from a moving average of measured job times.
import PQueue from 'p-queue';
import { BotError, ErrorCode } from './errors.ts';
import { FairQueue } from './fair-queue.ts';
import type { JobQueue, JobRecord, JobStatus, Platform, QueuePosition } from './types.ts';

/** Runs one job to its final state. The signal aborts with a `BotError` (`bot_cancelled` or `bot_timeout`) as reason. */
export type JobRunner = (job: JobRecord, signal: AbortSignal) => Promise<JobStatus | void>;

export interface DispatcherOptions {
  readonly run: JobRunner;
  readonly maxPerUser: number;
  readonly maxPerGuild: number;
  readonly maxTotal: number;
  /** Weight per fairness key `platform:guildId`; unlisted keys weigh 1. */
  readonly weights?: Readonly<Record<string, number>>;
  readonly jobTimeoutMs: number;
  /** Jobs run at once (1 per GPU). @default 1 */
  readonly concurrency?: number;
  /** Called (synchronously) whenever the queue's order changed: a job was added, removed, started or finished. */
  readonly onChange?: () => void;
  /** Reports runner failures that escaped the runner (it should not throw). */
  readonly onError?: (error: unknown, job: JobRecord) => void;
  /** Seed for the moving average, in ms per unit of work (see `workUnits`). @default undefined (ETA unknown at first) */
  readonly initialMsPerUnit?: number;
  /** Called with the new moving average after each measured job (to persist it). */
  readonly onMeasured?: (msPerUnit: number) => void;
  /**
   * Cross-job batching (off when absent or max ≤ 1): jobs that come next in the fair order and share `key` start
   * together, up to `max`, so the engine can run them as one UNet batch. Only consecutive jobs join, so the start
   * order is exactly the unbatched one and no guild gains a turn. `key` undefined: the job runs alone.
   */
  readonly batch?: { readonly max: number; readonly key: (job: JobRecord) => string | undefined };
  /** A neutral command as users type it on a platform, for limit messages. @default `/${name}` */
  readonly commandName?: (platform: Platform, name: string) => string;
}

interface Entry {
  readonly id: string;
  readonly guild: string;
  readonly user: string;
  readonly priority: number;
  readonly job: JobRecord;
}

interface Running {
  readonly entry: Entry;
  readonly controller: AbortController;
  readonly startedAt: number;
  /** Jobs started together as one engine batch (1 when alone): they share its time. */
  readonly batchSize: number;
}

/** Work in a job, in units of one 512×512 denoising step of one image; img2img runs `strength` of the steps. */
export function workUnits(job: JobRecord): number {
  const p = job.params;
  const steps = p.strength !== undefined ? Math.max(1, Math.floor(p.numInferenceSteps * p.strength)) : p.numInferenceSteps;
  return Math.max(1e-3, (steps * p.numImagesPerPrompt * p.width * p.height) / (512 * 512));
}

export const guildKey = (platform: Platform, guildId: string) => `${platform}:${guildId}`;
const userKey = (platform: Platform, userId: string) => `${platform}:${userId}`;

export class FairDispatcher implements JobQueue {
  readonly #options: DispatcherOptions;
  readonly #queue: FairQueue<Entry>;
  readonly #slot: PQueue;
  readonly #running = new Map<string, Running>();
  readonly #perUser = new Map<string, number>();
  readonly #perGuild = new Map<string, number>();
  #msPerUnit: number | undefined;
  #closed = false;
  #order: { version: number; ids: Map<string, number>; entries: Entry[]; work: Float64Array } | undefined;
  #version = 0;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    const weights = options.weights ?? {};
    this.#queue = new FairQueue<Entry>((guild) => weights[guild] ?? 1);
    // A batch's jobs run side by side in one engine slot.
    this.#slot = new PQueue({ concurrency: (options.concurrency ?? 1) * Math.max(1, options.batch?.max ?? 1) });
    this.#msPerUnit = options.initialMsPerUnit;
  }

  /** Admit a job, enforcing the limits. */
  async enqueue(job: JobRecord): Promise<void> {
    this.#checkLimits(job);
    this.#admit(job);
  }

  /** Re-admit a job after a restart: no limit checks (it was admitted before). */
  restore(job: JobRecord): void {
    this.#admit(job);
  }

  async cancel(jobId: string, by: string): Promise<'removed' | 'aborted' | 'missing'> {
    const removed = this.#queue.remove(jobId);
    if (removed) {
      this.#release(removed);
      this.#changed();
      return 'removed';
    }
    const running = this.#running.get(jobId);
    if (running) {
      if (!running.controller.signal.aborted) {
        running.controller.abort(new BotError(ErrorCode.Cancelled, `cancelled by ${by}`, 'Cancelled.', { cause: { by } }));
      }
      return 'aborted';
    }
    return 'missing';
  }

  async position(jobId: string): Promise<QueuePosition | undefined> {
    return this.positionNow(jobId);
  }

  /** Synchronous `position`, for the core's own use. */
  positionNow(jobId: string): QueuePosition | undefined {
    const running = this.#running.get(jobId);
    if (running) return { position: 0, ahead: [], etaMs: this.#remaining(running) };
    const order = this.#predicted();
    const index = order.ids.get(jobId);
    if (index === undefined) return undefined;
    const ahead = order.entries.slice(0, index);
    let etaMs: number | undefined;
    if (this.#msPerUnit !== undefined) {
      const runningLeft = [...this.#running.values()].reduce((sum, r) => sum + (this.#remaining(r) ?? 0), 0);
      etaMs = runningLeft / (this.#options.concurrency ?? 1) + this.#msPerUnit * order.work[index];
    }
    return {
      position: index + 1,
      ahead: ahead.map((e) => ({ jobId: e.id, ownerId: e.job.ownerId, guildId: e.job.guildId })),
      etaMs,
    };
  }

  /** Queued job ids in predicted start order (for refreshing progress messages). */
  predictedIds(limit = Infinity): string[] {
    return this.#predicted().entries.slice(0, limit).map((e) => e.id);
  }

  async jobsOf(platform: Platform, userId: string): Promise<readonly string[]> {
    const user = userKey(platform, userId);
    const running = [...this.#running.values()].filter((r) => r.entry.user === user).map((r) => r.entry.id);
    return [...running, ...this.#predicted().entries.filter((e) => e.user === user).map((e) => e.id)];
  }

  async depth(): Promise<{ running: number; queued: number; byGuild: Record<string, number> }> {
    return { running: this.#running.size, queued: this.#queue.size, byGuild: this.#queue.sizes() };
  }

  /** The record of a queued (not running) job. */
  queuedJob(jobId: string): JobRecord | undefined {
    return this.#queue.get(jobId)?.job;
  }

  isRunning(jobId: string): boolean {
    return this.#running.has(jobId);
  }

  /** The moving average of measured work, in ms per unit (undefined before the first job). */
  get msPerUnit(): number | undefined {
    return this.#msPerUnit;
  }

  /** Stop starting jobs; resolves when the running ones settled. Queued jobs stay in the store for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#slot.onIdle();
  }

  #checkLimits(job: JobRecord): void {
    const o = this.#options;
    const total = this.#queue.size + this.#running.size;
    if (total >= o.maxTotal) {
      throw new BotError(
        ErrorCode.QueueFull,
        `total limit ${o.maxTotal} reached`,
        `The bot is at capacity (${total} jobs queued or running, the limit is ${o.maxTotal}). Please try again in a few minutes.`,
      );
    }
    const guild = this.#perGuild.get(guildKey(job.platform, job.guildId)) ?? 0;
    if (guild >= o.maxPerGuild) {
      throw new BotError(
        ErrorCode.GuildLimit,
        `guild limit ${o.maxPerGuild} reached for ${job.guildId}`,
        `This server already has ${guild} jobs queued or running (the limit is ${o.maxPerGuild}). Please try again when some have finished.`,
      );
    }
    const user = this.#perUser.get(userKey(job.platform, job.ownerId)) ?? 0;
    if (user >= o.maxPerUser) {
      throw new BotError(
        ErrorCode.UserLimit,
        `user limit ${o.maxPerUser} reached for ${job.ownerId}`,
        `You already have ${user} jobs queued or running (the limit is ${o.maxPerUser}). Wait for one to finish, or cancel one with ${o.commandName?.(job.platform, 'cancel') ?? '/cancel'}.`,
      );
    }
  }

  #admit(job: JobRecord): void {
    if (this.#queue.has(job.id) || this.#running.has(job.id)) return;
    const entry: Entry = {
      id: job.id,
      guild: guildKey(job.platform, job.guildId),
      user: userKey(job.platform, job.ownerId),
      priority: job.priority,
      job,
    };
    this.#queue.add(entry);
    this.#perUser.set(entry.user, (this.#perUser.get(entry.user) ?? 0) + 1);
    this.#perGuild.set(entry.guild, (this.#perGuild.get(entry.guild) ?? 0) + 1);
    this.#changed();
    this.#pump();
  }

  #release(entry: Entry): void {
    const dec = (map: Map<string, number>, key: string) => {
      const n = (map.get(key) ?? 1) - 1;
      if (n <= 0) map.delete(key);
      else map.set(key, n);
    };
    dec(this.#perUser, entry.user);
    dec(this.#perGuild, entry.guild);
  }

  #pump(): void {
    const concurrency = this.#options.concurrency ?? 1;
    while (!this.#closed && this.#running.size < concurrency) {
      const entry = this.#queue.next();
      if (!entry) return;
      const companions = this.#companions(entry);
      for (const e of [entry, ...companions]) this.#start(e, 1 + companions.length);
    }
  }

  /** Queued jobs right after `entry` in the fair order with its batch key (taken from the queue), up to batch.max − 1. */
  #companions(entry: Entry): Entry[] {
    const batch = this.#options.batch;
    const key = batch && batch.max > 1 ? batch.key(entry.job) : undefined;
    if (key === undefined) return [];
    const taken: Entry[] = [];
    for (const next of this.#queue.predictedOrder()) {
      if (taken.length >= batch!.max - 1 || batch!.key(next.job) !== key) break;
      // next() takes exactly this entry (same order as predicted) and charges its guild's turn.
      taken.push(this.#queue.next()!);
    }
    return taken;
  }

  #start(entry: Entry, batchSize = 1): void {
    const controller = new AbortController();
    const running: Running = { entry, controller, startedAt: performance.now(), batchSize };
    this.#running.set(entry.id, running);
    this.#changed();
    const timer = setTimeout(() => {
      controller.abort(
        new BotError(
          ErrorCode.Timeout,
          `job ${entry.id} ran past ${this.#options.jobTimeoutMs} ms`,
          `This job took longer than the limit of ${Math.round(this.#options.jobTimeoutMs / 1000)} s and was stopped. Try fewer steps or images.`,
        ),
      );
    }, this.#options.jobTimeoutMs);
    // The running job keeps the process alive, not its deadline.
    timer.unref();
    void this.#slot.add(async () => {
      let status: JobStatus | void = undefined;
      try {
        status = await this.#options.run(entry.job, controller.signal);
      } catch (error) {
        this.#options.onError?.(error, entry.job);
      } finally {
        clearTimeout(timer);
        // A batch's jobs finish together: each ran for a share of the batch's time, as the ETA should count it.
        if (status === 'done') this.#measure(entry.job, (performance.now() - running.startedAt) / running.batchSize);
        this.#running.delete(entry.id);
        this.#release(entry);
        this.#changed();
        this.#pump();
      }
    });
  }

  #measure(job: JobRecord, ms: number): void {
    const sample = ms / workUnits(job);
    // Exponential moving average: recent jobs count most, one outlier does not swing the ETA.
    this.#msPerUnit = this.#msPerUnit === undefined ? sample : 0.7 * this.#msPerUnit + 0.3 * sample;
    this.#options.onMeasured?.(this.#msPerUnit);
  }

  /** Start the moving average from a remembered value (e.g. after a restart), unless jobs were measured already. */
  seedEstimate(msPerUnit: number): void {
    if (this.#msPerUnit === undefined && Number.isFinite(msPerUnit) && msPerUnit > 0) {
      this.#msPerUnit = msPerUnit;
      this.#changed();
    }
  }

  #estimate(job: JobRecord): number | undefined {
    return this.#msPerUnit === undefined ? undefined : this.#msPerUnit * workUnits(job);
  }

  #remaining(running: Running): number | undefined {
    const estimate = this.#estimate(running.entry.job);
    return estimate === undefined ? undefined : Math.max(0, estimate - (performance.now() - running.startedAt));
  }

  /** The predicted start order, with the cumulative work up to and including each job (for ETAs). */
  #predicted(): { ids: Map<string, number>; entries: Entry[]; work: Float64Array } {
    if (this.#order?.version !== this.#version) {
      const entries = this.#queue.predictedOrder();
      const work = new Float64Array(entries.length);
      let sum = 0;
      entries.forEach((e, i) => (work[i] = sum += workUnits(e.job)));
      this.#order = { version: this.#version, entries, ids: new Map(entries.map((e, i) => [e.id, i])), work };
    }
    return this.#order;
  }

  #changed(): void {
    this.#version++;
    this.#options.onChange?.();
  }
}
