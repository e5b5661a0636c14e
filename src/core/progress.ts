// Delivery of progress views to each job's message, throttled per message: at most one edit per the platform's
// minimum interval, the latest state wins, the final state is always delivered (after any edit in flight), and a
// running update whose preview barely changed is skipped unless the message has been quiet for a while.
import { signatureDistance } from './images.ts';
import type { JobRecord, JobSurface, MessageRef, Platform, ProgressView, Reply } from './types.ts';

/** An update waiting to be sent; `build` runs only if it is actually delivered (PNG encoding is not free). */
export interface PendingUpdate {
  readonly final: boolean;
  /** For running updates with a preview: see `images.signature`. */
  readonly signature?: Float32Array;
  readonly build: () => Promise<ProgressView>;
}

export interface ThrottleOptions {
  readonly minIntervalMs: () => number;
  readonly send: (update: PendingUpdate) => Promise<void>;
  /** Previews closer than this (mean absolute difference of 8×8 thumbnails, 0..255) are "barely changed". @default 2 */
  readonly minPreviewChange?: number;
  /** Send a barely-changed update anyway after this many intervals of silence. @default 4 */
  readonly maxQuietIntervals?: number;
  readonly onError?: (error: unknown, update: PendingUpdate) => void;
  readonly now?: () => number;
}

/** Latest-wins delivery to one message. */
export class Throttle {
  readonly #o: ThrottleOptions;
  #pending: PendingUpdate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #lastSentAt = -Infinity;
  #lastSignature: Float32Array | undefined;
  #closed = false;
  #done: Promise<void>;
  #resolveDone!: () => void;
  /** Updates handed to `send`, for tests and metrics. */
  sent = 0;
  skipped = 0;

  constructor(options: ThrottleOptions) {
    this.#o = options;
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Resolves once a final update was delivered. */
  get done(): Promise<void> {
    return this.#done;
  }

  get closed(): boolean {
    return this.#closed;
  }

  push(update: PendingUpdate): void {
    if (this.#closed) return;
    if (this.#pending?.final) return; // nothing replaces a final state
    const now = this.#now();
    if (!update.final && update.signature && this.#lastSignature && !this.#pending) {
      const quiet = now - this.#lastSentAt >= this.#o.minIntervalMs() * (this.#o.maxQuietIntervals ?? 4);
      if (!quiet && signatureDistance(update.signature, this.#lastSignature) < (this.#o.minPreviewChange ?? 2)) {
        this.skipped++;
        return;
      }
    }
    if (this.#pending) this.skipped++;
    this.#pending = update;
    if (update.final && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#schedule();
  }

  /** Deliver nothing more (the message is gone for good); `done` resolves. */
  close(): void {
    this.#closed = true;
    this.#pending = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolveDone();
  }

  /** Wake up, e.g. when a surface for the platform appeared. */
  kick(): void {
    this.#schedule();
  }

  #now(): number {
    return this.#o.now?.() ?? performance.now();
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer || !this.#pending) return;
    const wait = this.#pending.final ? 0 : Math.max(0, this.#lastSentAt + this.#o.minIntervalMs() - this.#now());
    if (wait === 0) void this.#deliver();
    else
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#deliver();
      }, wait);
  }

  async #deliver(): Promise<void> {
    const update = this.#pending;
    if (!update || this.#inFlight) return;
    this.#pending = undefined;
    this.#inFlight = true;
    this.#lastSentAt = this.#now();
    if (update.signature) this.#lastSignature = update.signature;
    this.sent++;
    try {
      await this.#o.send(update);
    } catch (error) {
      this.#o.onError?.(error, update);
      if (update.final) {
        // One retry for the final state: it is the message users keep.
        try {
          await this.#o.send(update);
        } catch (retryError) {
          this.#o.onError?.(retryError, update);
        }
      }
    } finally {
      this.#inFlight = false;
    }
    if (update.final) {
      this.#closed = true;
      this.#resolveDone();
      return;
    }
    this.#schedule();
  }
}

export interface ProgressHubOptions {
  /** Persist a job's (new) message ref. */
  readonly saveRef: (jobId: string, ref: MessageRef) => Promise<void>;
  readonly onError?: (error: unknown, jobId: string) => void;
}

interface Channel {
  readonly job: JobRecord;
  ref: MessageRef | undefined;
  /** Set while the first post through the interaction's Reply is under way. */
  posting: Promise<MessageRef | undefined> | undefined;
  posted?: (ref: MessageRef | undefined) => void;
  readonly throttle: Throttle;
}

/** One throttled channel per job message, delivered through the job platform's `JobSurface`. */
export class ProgressHub {
  readonly #o: ProgressHubOptions;
  readonly #surfaces = new Map<Platform, JobSurface>();
  readonly #channels = new Map<string, Channel>();
  readonly #waiting = new Map<Platform, ((surface: JobSurface) => void)[]>();
  /** Final views pushed and not yet delivered: shutdown waits for them before the adapters close. */
  readonly #finals = new Set<Promise<void>>();
  /** Jobs whose first message could not be posted: they get no other message (the job service cancels them). */
  readonly #dropped = new Set<string>();

  constructor(options: ProgressHubOptions) {
    this.#o = options;
  }

  attach(surface: JobSurface): void {
    this.#surfaces.set(surface.platform, surface);
    for (const resolve of this.#waiting.get(surface.platform) ?? []) resolve(surface);
    this.#waiting.delete(surface.platform);
    for (const channel of this.#channels.values()) if (channel.job.platform === surface.platform) channel.throttle.kick();
  }

  detach(platform: Platform): void {
    this.#surfaces.delete(platform);
  }

  /**
   * Announce that a new job's first view will be posted through the interaction's reply (`post`). Call before the
   * job is enqueued: updates pushed meanwhile wait for that post instead of posting a second message.
   */
  expect(job: JobRecord): void {
    const channel = this.#channel(job);
    channel.posting = new Promise((resolve) => (channel.posted = resolve));
  }

  /**
   * Post the first view through `reply` and return its ref. When the platform refuses, the job's channel is closed
   * for good (no update posts a message elsewhere) and the error is rethrown: the caller cancels the job.
   */
  async post(job: JobRecord, view: ProgressView, reply: Reply): Promise<MessageRef> {
    const channel = this.#channel(job);
    if (!channel.posting) channel.posting = new Promise((resolve) => (channel.posted = resolve));
    let ref: MessageRef;
    try {
      ref = await reply.postJobMessage(view);
    } catch (error) {
      this.#dropped.add(job.id);
      channel.throttle.close();
      channel.posting = undefined;
      channel.posted?.(undefined);
      throw error;
    }
    channel.ref = ref;
    try {
      await this.#o.saveRef(job.id, ref);
    } catch (error) {
      this.#o.onError?.(error, job.id);
    }
    channel.posting = undefined;
    channel.posted?.(ref);
    return ref;
  }

  /** Drop a job's channel (its job was rejected before its message was posted). */
  forget(jobId: string): void {
    const channel = this.#channels.get(jobId);
    channel?.posted?.(undefined);
    this.#channels.delete(jobId);
  }

  push(job: JobRecord, update: PendingUpdate): void {
    if (this.#dropped.has(job.id)) return;
    const { throttle } = this.#channel(job);
    throttle.push(update);
    if (update.final && !throttle.closed) {
      const done = throttle.done;
      this.#finals.add(done);
      void done.then(() => this.#finals.delete(done));
    }
  }

  /** Resolves when every final view pushed so far was delivered (or failed its retry). */
  async finalsDelivered(): Promise<void> {
    await Promise.all(this.#finals);
  }

  /** Resolves when the job's final view was delivered (immediately if the job has no channel). */
  settled(jobId: string): Promise<void> {
    return this.#channels.get(jobId)?.throttle.done ?? Promise.resolve();
  }

  /** Jobs with a channel open (for tests and metrics). */
  get open(): number {
    return this.#channels.size;
  }

  #surfaceFor(platform: Platform): Promise<JobSurface> {
    return new Promise((resolve) => {
      const list = this.#waiting.get(platform) ?? [];
      list.push(resolve);
      this.#waiting.set(platform, list);
    });
  }

  #channel(job: JobRecord): Channel {
    let channel = this.#channels.get(job.id);
    if (channel) return channel;
    const throttle = new Throttle({
      // No surface yet (adapters still starting): hold updates; `attach` kicks them.
      minIntervalMs: () => this.#surfaces.get(job.platform)?.minEditIntervalMs ?? 1000,
      send: (update) => this.#send(channel!, update),
      onError: (error) => this.#o.onError?.(error, job.id),
    });
    channel = { job, ref: job.message, posting: undefined, throttle };
    this.#channels.set(job.id, channel);
    void throttle.done.then(() => this.#channels.delete(job.id));
    return channel;
  }

  async #send(channel: Channel, update: PendingUpdate): Promise<void> {
    if (channel.posting) await channel.posting;
    if (this.#dropped.has(channel.job.id)) return; // its first post failed while this update waited
    // No surface yet (the adapter is still starting): wait for it without losing the update.
    const surface = this.#surfaces.get(channel.job.platform) ?? (await this.#surfaceFor(channel.job.platform));
    const view = await update.build();
    const target = surface;
    if (!channel.ref) {
      channel.ref = await target.postJobMessage({ guildId: channel.job.guildId, channelId: channel.job.channelId }, view);
      await this.#o.saveRef(channel.job.id, channel.ref);
      return;
    }
    const moved = await target.editJobMessage(channel.ref, view);
    if (moved) {
      channel.ref = moved;
      await this.#o.saveRef(channel.job.id, moved);
    }
  }
}
