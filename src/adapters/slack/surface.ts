// The Slack JobSurface: keeps a job's channel message up to date with `chat.update`.
// - Per message, edits are coalesced: at most one in flight, at least `minEditIntervalMs` apart (Slack's chat.update
//   is Tier 3, ~50/min per workspace), latest view wins, and a final view is never overwritten by a late progress one.
// - Across all messages of one workspace, chat.update calls are spaced to stay under `editsPerMinute`, since queue
//   position updates of many waiting jobs would otherwise add up past the per-workspace limit.
// - A 429 pushes the next edit back by its Retry-After and then sends whatever view is newest by then.
// - Previews are uploaded (files.uploadV2, unshared) at most every `previewIntervalMs`, a coarser cadence than the
//   text edits; in between, the message keeps showing the last uploaded preview. The final image is always uploaded.
import type { webApi } from '@slack/bolt';
import { BotError, ErrorCode } from '../../core/errors.ts';
import type { JobSurface, MessageRef, ProgressView } from '../../core/types.ts';
import { slashName } from './commands.ts';
import { defaultRetry, platformError, retryAfterOf, sleepFor, uploadImage, withRetry, type RetryOptions } from './api.ts';
import { renderProgress, type SlackMessage, type ViewFiles } from './render.ts';

export interface SurfaceOptions {
  client: webApi.WebClient;
  /** @default 3000 */
  minEditIntervalMs?: number;
  /** @default 9000 */
  previewIntervalMs?: number;
  /** chat.update calls per minute per workspace (Slack's Tier 3 is 50). @default 50 */
  editsPerMinute?: number;
  retry?: RetryOptions;
  now?: () => number;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

interface Waiter {
  resolve: (ref: MessageRef | void) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  ref: MessageRef;
  busy: boolean;
  pending: { view: ProgressView; waiters: Waiter[]; rateLimited: number } | null;
  /** Earliest time the next edit may go out. */
  notBefore: number;
  final: boolean;
  preview?: { fileId: string; uploadedAt: number };
  /** Preview files uploaded for this message and not deleted yet. */
  previewFiles: string[];
  /** The uploaded final image, kept so a retried final edit does not upload it twice. */
  image?: { png: Uint8Array; fileId: string };
}

const FINAL = new Set(['done', 'failed', 'cancelled']);
const MAX_SLOTS = 5000;
/** 429s tolerated for one view before it is given up (a newer view resets the count). */
const MAX_RATE_LIMITED = 10;

export function makeRef(guildId: string, channelId: string, ts: string): MessageRef {
  return { platform: 'slack', channelId, messageId: ts, data: { team: guildId } };
}

export class SlackSurface implements JobSurface {
  readonly platform = 'slack' as const;
  /** Help and messages name Slack's slash commands (`/imagine-settings`), not the neutral ones. */
  readonly commandName = (name: string) => slashName({ name });
  readonly minEditIntervalMs: number;
  readonly previewIntervalMs: number;
  readonly #slots = new Map<string, Slot>();
  /** Per workspace: when the next chat.update may go out. */
  readonly #teamNext = new Map<string, number>();
  readonly #editSpacingMs: number;
  readonly #now: () => number;
  readonly #retry: RetryOptions;

  constructor(private readonly o: SurfaceOptions) {
    this.minEditIntervalMs = o.minEditIntervalMs ?? 3000;
    this.previewIntervalMs = o.previewIntervalMs ?? 9000;
    this.#editSpacingMs = 60_000 / (o.editsPerMinute ?? 50);
    this.#now = o.now ?? Date.now;
    // 429s are handled by the pump (latest view wins), so the per-call retry only covers 5xx and network errors.
    this.#retry = { ...(o.retry ?? defaultRetry), rateLimitRetries: 0 };
  }

  async postJobMessage(target: { readonly guildId: string; readonly channelId: string }, view: ProgressView): Promise<MessageRef> {
    const slot: Slot = { ref: makeRef(target.guildId, target.channelId, ''), busy: false, pending: null, notBefore: 0, final: FINAL.has(view.state), previewFiles: [] };
    const message = await this.#render(slot, view);
    const posted = await this.#call(() => this.o.client.chat.postMessage({ channel: target.channelId, ...message }), 5);
    const ref = makeRef(target.guildId, target.channelId, String(posted.ts));
    slot.ref = ref;
    slot.notBefore = this.#now() + this.minEditIntervalMs;
    this.#remember(ref, slot);
    return ref;
  }

  /** Resolves when no edit is waiting or in flight (or after `timeoutMs`); for a graceful stop. */
  async idle(timeoutMs = 5000): Promise<void> {
    const deadline = this.#now() + timeoutMs;
    while ([...this.#slots.values()].some((s) => s.busy || s.pending) && this.#now() < deadline) await sleepFor(50);
  }

  editJobMessage(ref: MessageRef, view: ProgressView): Promise<MessageRef | void> {
    const key = slotKey(ref);
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { ref, busy: false, pending: null, notBefore: 0, final: false, previewFiles: [] };
      this.#remember(ref, slot);
    }
    if (slot.final && !FINAL.has(view.state)) return Promise.resolve();
    if (FINAL.has(view.state)) slot.final = true;
    const s = slot;
    return new Promise((resolve, reject) => {
      // Superseded views count as delivered: only the latest state matters.
      s.pending?.waiters.forEach((w) => w.resolve());
      s.pending = { view, waiters: [{ resolve, reject }], rateLimited: 0 };
      if (!s.busy) void this.#pump(s);
    });
  }

  async #pump(slot: Slot): Promise<void> {
    slot.busy = true;
    try {
      while (slot.pending) {
        const wait = slot.notBefore - this.#now();
        if (wait > 0) await sleepFor(wait);
        await this.#turn(String(slot.ref.data?.team ?? ''));
        // Taken only now, so a view that arrived while waiting for the turn is the one sent.
        const job = slot.pending;
        slot.pending = null;
        try {
          const moved = await this.#edit(slot, job.view);
          slot.notBefore = this.#now() + this.minEditIntervalMs;
          this.#dropOldPreviews(slot, job.view);
          job.waiters.forEach((w) => w.resolve(moved));
        } catch (error) {
          const retryAfter = retryAfterOf(error);
          if (retryAfter !== undefined && job.rateLimited < MAX_RATE_LIMITED) {
            slot.notBefore = this.#now() + Math.max(retryAfter * 1000, this.minEditIntervalMs);
            // Keep the view unless a newer one arrived meanwhile; its waiters then settle with the newer one.
            const newer = slot.pending as Slot['pending'];
            if (newer) newer.waiters.push(...job.waiters);
            else slot.pending = { ...job, rateLimited: job.rateLimited + 1 };
            continue;
          }
          slot.notBefore = this.#now() + this.minEditIntervalMs;
          job.waiters.forEach((w) => w.reject(error));
        }
      }
    } finally {
      slot.busy = false;
    }
  }

  /**
   * Previews the message no longer shows are deleted (best effort, in the background), so a long job does not leave
   * dozens of stray files in the workspace; the final image stays.
   */
  #dropOldPreviews(slot: Slot, shown: ProgressView): void {
    const keep = shown.state === 'running' ? slot.preview?.fileId : undefined;
    const drop = slot.previewFiles.filter((id) => id !== keep);
    slot.previewFiles = keep && slot.previewFiles.includes(keep) ? [keep] : [];
    if (!keep) slot.preview = undefined;
    for (const file of drop) {
      withRetry(() => this.o.client.files.delete({ file }), this.#retry).catch((error: unknown) => {
        this.o.log?.('warn', 'Slack preview delete failed', { file, error: String(error) });
      });
    }
  }

  /** Waits for this workspace's next chat.update slot; slots are handed out first come, first served. */
  async #turn(team: string): Promise<void> {
    const now = this.#now();
    const at = Math.max(now, this.#teamNext.get(team) ?? 0);
    this.#teamNext.set(team, at + this.#editSpacingMs);
    if (at > now) await sleepFor(at - now);
  }

  /** One edit; returns a new ref when the message was gone and had to be posted again. */
  async #edit(slot: Slot, view: ProgressView): Promise<MessageRef | void> {
    const message = await this.#render(slot, view);
    const { channelId, messageId } = slot.ref;
    try {
      await this.#call(() => this.o.client.chat.update({ channel: channelId, ts: String(messageId), ...message }));
    } catch (error) {
      if (platformError(error) !== 'message_not_found') throw error;
      // Someone deleted the message: carry on in a fresh one.
      const guildId = String(slot.ref.data?.team ?? '');
      const posted = await this.#call(() => this.o.client.chat.postMessage({ channel: channelId, ...message }));
      const ref = makeRef(guildId, channelId, String(posted.ts));
      this.#slots.delete(slotKey(slot.ref));
      slot.ref = ref;
      this.#remember(ref, slot);
      return ref;
    }
  }

  async #render(slot: Slot, view: ProgressView): Promise<SlackMessage> {
    const files: ViewFiles = {};
    const title = view.title.slice(0, 200);
    if (view.state === 'running' && view.preview) {
      const due = !slot.preview || this.#now() - slot.preview.uploadedAt >= this.previewIntervalMs;
      if (due) {
        try {
          const fileId = await uploadImage(this.o.client, view.preview.png, `preview-${view.job.jobId}-${view.step}.png`, `preview: ${title}`, this.#retry);
          slot.preview = { fileId, uploadedAt: this.#now() };
          slot.previewFiles.push(fileId);
        } catch (error) {
          // A preview is a nicety: the edit goes on with the previous one (or none).
          this.o.log?.('warn', 'Slack preview upload failed', { jobId: view.job.jobId, error: String(error) });
        }
      }
      files.preview = slot.preview?.fileId;
    }
    if (view.state === 'done') {
      if (slot.image?.png !== view.image.png) {
        slot.image = { png: view.image.png, fileId: await uploadImage(this.o.client, view.image.png, view.image.filename, title, this.#retry) };
      }
      files.image = slot.image.fileId;
    }
    return renderProgress(view, files);
  }

  /**
   * One Web API call with 5xx retries. `invalid_blocks` right after an upload can mean Slack has not finished
   * processing the file yet, so that one error is retried once after a second.
   */
  async #call<T>(fn: () => Promise<T>, rateLimitRetries = 0): Promise<T> {
    const retry = { ...this.#retry, rateLimitRetries };
    try {
      return await withRetry(fn, retry);
    } catch (error) {
      if (platformError(error) !== 'invalid_blocks') throw mapPlatformError(error);
      await sleepFor(1000);
      return withRetry(fn, retry).catch((e: unknown) => {
        throw mapPlatformError(e);
      });
    }
  }

  #remember(ref: MessageRef, slot: Slot): void {
    if (this.#slots.size >= MAX_SLOTS) {
      // Forget idle finished messages first; Map iteration is oldest first.
      for (const [key, s] of this.#slots) {
        if (!s.busy && !s.pending) this.#slots.delete(key);
        if (this.#slots.size < MAX_SLOTS / 2) break;
      }
    }
    this.#slots.set(slotKey(ref), slot);
  }
}

function slotKey(ref: MessageRef): string {
  return `${ref.channelId}:${ref.messageId ?? ''}`;
}

/** Errors that mean "the bot cannot post here" become a BotError the user can act on. */
function mapPlatformError(error: unknown): unknown {
  const code = platformError(error);
  if (code === 'not_in_channel' || code === 'channel_not_found' || code === 'is_archived') {
    return new BotError(
      ErrorCode.Forbidden,
      `Slack refused to post: ${code}`,
      code === 'is_archived' ? 'This channel is archived, so I cannot post here.' : 'I cannot post in this channel. Invite me with `/invite @imagine-bot` (or add the app to the channel), then try again.',
      { cause: error },
    );
  }
  return error;
}
