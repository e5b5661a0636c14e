// The `JobService` commands use: submit (store → enqueue → post the progress message), cancel with permission
// checks, positions, and finished images. Scheduling itself stays behind the `JobQueue` boundary.
import { BotError, ErrorCode, asBotError } from './errors.ts';
import type { JobStore } from './job-store.ts';
import type { Logger } from './logger.ts';
import type { ProgressHub } from './progress.ts';
import type { Actor, JobDraft, JobQueue, JobRecord, JobService, PngImage, ProgressView, QueuePosition, Reply } from './types.ts';
import { cancelledView, doneView, gridFilename, queuedView } from './views.ts';

export interface JobServiceDeps {
  readonly store: JobStore;
  readonly queue: JobQueue;
  readonly hub: ProgressHub;
  readonly log: Logger;
  /** Priority of upscale/variation/reroll/vary over new prompts (0). */
  readonly followupPriority: number;
  /** Boost per role id; the largest of the actor's roles applies. */
  readonly rolePriority: Readonly<Record<string, number>>;
  readonly onQueued?: (job: JobRecord) => void;
  readonly onFinished?: (job: JobRecord) => void;
}

/** Follow-ups (upscale/variation/reroll/vary) get `followup`; the largest boost of the actor's roles is added. */
export function jobPriority(draft: JobDraft, followup: number, ...boosts: readonly Readonly<Record<string, number>>[]): number {
  const base = draft.kind === 'imagine' ? 0 : followup;
  const boost = Math.max(0, ...draft.actor.roles.flatMap((r) => boosts.map((b) => b[r] ?? 0)));
  return base + boost;
}

export class CoreJobService implements JobService {
  readonly #d: JobServiceDeps;

  constructor(deps: JobServiceDeps) {
    this.#d = deps;
  }

  async submit(draft: JobDraft, reply: Reply): Promise<JobRecord> {
    const { store, queue, hub, log } = this.#d;
    const { actor } = draft;
    const guildBoosts = actor.roles.length > 0 ? ((await store.guildSettings(actor.platform, actor.guildId)).roleBoosts ?? {}) : {};
    const job: JobRecord = {
      id: await store.newJobId(),
      seq: await store.nextSeq(),
      platform: actor.platform,
      guildId: actor.guildId,
      channelId: actor.channelId,
      ownerId: actor.userId,
      ...(actor.userName !== undefined && { ownerName: actor.userName }),
      kind: draft.kind,
      params: draft.params,
      ...(draft.parent && { parent: draft.parent }),
      priority: jobPriority(draft, this.#d.followupPriority, this.#d.rolePriority, guildBoosts),
      status: 'queued',
      createdAt: Date.now(),
      attempts: 0,
      completions: 0,
    };
    await store.createJob(job);
    hub.expect(job);
    try {
      await queue.enqueue(job);
    } catch (error) {
      hub.forget(job.id);
      const e = asBotError(error);
      // Keep the record as an audit trail of the rejection; it leaves the pending index.
      await store.updateJob(job.id, (j) => ({ ...j, status: 'failed', finishedAt: Date.now(), error: { code: e.code, message: e.userMessage } }));
      throw e;
    }
    this.#d.onQueued?.(job);
    log.info({ jobId: job.id, kind: job.kind, guild: job.guildId, user: job.ownerId, priority: job.priority }, 'job queued');
    const at = await queue.position(job.id);
    try {
      await hub.post(job, queuedView(job, at?.position || 1, at?.etaMs), reply);
    } catch (error) {
      throw await this.#abandon(job, error);
    }
    return job;
  }

  /**
   * The job's message could not be posted (e.g. the bot may not post in the channel): a job nobody can watch must
   * not hold the GPU, so it is stored as failed and cancelled. Returns the error the user is shown privately: the
   * adapter's explanation when it gave one (e.g. Slack's "invite me"), else a generic one.
   */
  async #abandon(job: JobRecord, error: unknown): Promise<BotError> {
    const { store, queue, log } = this.#d;
    const explained = error instanceof BotError ? `${error.userMessage} ` : 'I could not post your job\'s message in this channel. ';
    const e = new BotError(
      ErrorCode.NoMessage,
      `the message of job ${job.id} could not be posted: ${error instanceof Error ? error.message : String(error)}`,
      `${explained}Job \`${job.id}\` was cancelled, so it does not run where nobody can see it.`,
      { cause: error },
    );
    const failed = await store.updateJob(job.id, (j) =>
      j.status === 'queued' || j.status === 'running'
        ? { ...j, status: 'failed', finishedAt: Date.now(), error: { code: e.code, message: e.userMessage } }
        : undefined,
    );
    // After the status: a runner that picks the job up now sees it final and skips it.
    await queue.cancel(job.id, 'system').catch((cancelError: unknown) => log.warn({ jobId: job.id, err: cancelError }, 'cancel after failed post failed'));
    log.warn({ jobId: job.id, guild: job.guildId, channel: job.channelId, err: error }, 'job cancelled: its message could not be posted');
    if (failed?.status === 'failed') this.#d.onFinished?.(failed);
    return e;
  }

  get(jobId: string): Promise<JobRecord | undefined> {
    return this.#d.store.getJob(jobId);
  }

  async cancel(jobId: string, actor: Actor): Promise<'removed' | 'aborted'> {
    const { store, queue, hub, log } = this.#d;
    const job = await store.getJob(jobId);
    if (!job || job.platform !== actor.platform) {
      throw new BotError(ErrorCode.NotFound, `no job ${jobId}`, `No job \`${jobId}\` here. Check the id.`);
    }
    const owner = job.ownerId === actor.userId;
    const admin = actor.isAdmin && job.guildId === actor.guildId;
    if (!owner && !admin) {
      log.info({ jobId, by: actor.userId }, 'cancel refused: not owner or admin');
      throw new BotError(ErrorCode.Forbidden, `${actor.userId} may not cancel ${jobId}`, `Only the person who started \`${jobId}\` or a server admin can cancel it.`);
    }
    if (job.status !== 'queued' && job.status !== 'running') {
      throw new BotError(ErrorCode.Validation, `job ${jobId} is ${job.status}`, `Job \`${jobId}\` is already ${job.status}; there is nothing to cancel.`);
    }
    const result = await queue.cancel(jobId, actor.userId);
    if (result === 'missing') {
      throw new BotError(ErrorCode.Validation, `job ${jobId} not in the queue`, `Job \`${jobId}\` has just finished; there is nothing to cancel.`);
    }
    if (result === 'removed') {
      const cancelled = await store.updateJob(jobId, (j) =>
        j.status === 'queued' ? { ...j, status: 'cancelled', finishedAt: Date.now(), cancelledBy: actor.userId } : undefined,
      );
      if (cancelled?.status === 'cancelled') {
        hub.push(cancelled, { final: true, build: async () => cancelledView(cancelled, actor.userId) });
        this.#d.onFinished?.(cancelled);
      }
    }
    log.info({ jobId, by: actor.userId, result }, 'job cancel');
    return result;
  }

  position(jobId: string): Promise<QueuePosition | undefined> {
    return this.#d.queue.position(jobId);
  }

  async mine(actor: Actor): Promise<readonly JobRecord[]> {
    const ids = await this.#d.queue.jobsOf(actor.platform, actor.userId);
    const jobs = await Promise.all(ids.map((id) => this.#d.store.getJob(id)));
    return jobs.filter((j): j is JobRecord => j !== undefined);
  }

  depth() {
    return this.#d.queue.depth();
  }

  async image(jobId: string, index: number): Promise<PngImage | undefined> {
    const job = await this.#d.store.getJob(jobId);
    const png = await this.#d.store.getImage(jobId, index);
    if (!job || !png) return undefined;
    return { png, width: job.params.width, height: job.params.height, filename: `imagine-${jobId}-${index}.png` };
  }

  async doneView(job: JobRecord): Promise<ProgressView | undefined> {
    const png = await this.#d.store.getImage(`${job.id}:grid`, 1);
    if (job.status !== 'done' || !png) return undefined;
    const n = job.seeds?.length ?? 1;
    const width = n === 1 ? job.params.width : 2 * job.params.width;
    const height = n <= 2 ? job.params.height : 2 * job.params.height;
    return doneView(job, { png, width, height, filename: gridFilename(job) });
  }
}
