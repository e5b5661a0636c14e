// The Discord JobSurface: keeps a job's progress message up to date.
// - Edits go through the interaction webhook while its token is fresh (no bot permissions needed there), and through
//   the bot's own channel access once the token nears its 15-minute end; if that message can't be edited, a new one
//   is posted and the moved ref returned. When the bot lacks channel permissions, the message says so while it can.
// - Per message, edits are coalesced: at most one in flight, at least `minEditIntervalMs` apart, latest view wins,
//   and a final view (done/failed/cancelled) is never overwritten by a late progress view.
import { Routes, type APIMessage, type REST, type RawFile } from 'discord.js';
import { BotError, ErrorCode } from '../../core/errors.ts';
import type { JobSurface, MessageRef, PngImage, ProgressView } from '../../core/types.ts';
import { fitAttachment } from './attachment.ts';
import { renderProgress, type RenderedMessage } from './render.ts';
import { PERMISSION_CODES, defaultRetry, discordCode, withRetry, type RetryOptions } from './rest.ts';

/** Discord's default upload limit, used where no interaction told us a bigger one. */
export const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;
export const TOKEN_LIFETIME_MS = 15 * 60 * 1000;
/** Leave the webhook this long before the token dies, so a failing fallback can still be explained through it. */
export const TOKEN_MARGIN_MS = 60 * 1000;

/** What the adapter keeps in `MessageRef.data`. */
export interface DiscordRefData {
  /** Interaction token (null once the message is edited through the channel). */
  token: string | null;
  /** When `token` stops working (ms, adapter clock). */
  expiresAt: number | null;
  /** `attachment_size_limit` of the interaction. */
  limit: number;
  /** A warning shown under progress, e.g. missing channel permissions. */
  note: string | null;
  /** The bot could not reach the channel on its own; only the token is left. */
  stuck: boolean;
}

export function refData(ref: MessageRef): DiscordRefData {
  const d = ref.data ?? {};
  return {
    token: typeof d.token === 'string' ? d.token : null,
    expiresAt: typeof d.expiresAt === 'number' ? d.expiresAt : null,
    limit: typeof d.limit === 'number' ? d.limit : DEFAULT_ATTACHMENT_LIMIT,
    note: typeof d.note === 'string' ? d.note : null,
    stuck: d.stuck === true,
  };
}

export function makeRef(channelId: string, messageId: string, data: DiscordRefData): MessageRef {
  return { platform: 'discord', channelId, messageId, data: { ...data } };
}

export interface SurfaceOptions {
  rest: REST;
  /** Known once the client is ready when not configured. */
  applicationId: () => string;
  /** Clock for token expiry (tests move it). */
  now?: () => number;
  minEditIntervalMs?: number;
  retry?: RetryOptions;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** Where a message is sent: an interaction webhook message (edit), a new follow-up, or a channel message. */
export type Target =
  | { kind: 'webhook'; token: string; messageId: string }
  | { kind: 'followup'; token: string; messageId?: undefined }
  | { kind: 'channel'; channelId: string; messageId?: string };

interface Slot {
  ref: MessageRef;
  busy: boolean;
  pending: { view: ProgressView; settle: { resolve: (r: MessageRef | void) => void; reject: (e: unknown) => void }[] } | null;
  lastSentAt: number;
  final: boolean;
  /** The image the message currently shows, so an unchanged one is kept instead of uploaded again. */
  shown?: { png: Uint8Array; attachmentId: string };
}

const FINAL = new Set(['done', 'failed', 'cancelled']);
const MAX_SLOTS = 5000;

export class DiscordSurface implements JobSurface {
  readonly platform = 'discord' as const;
  readonly minEditIntervalMs: number;
  readonly #slots = new Map<string, Slot>();
  readonly #now: () => number;

  constructor(private readonly o: SurfaceOptions) {
    this.minEditIntervalMs = o.minEditIntervalMs ?? 1000;
    this.#now = o.now ?? Date.now;
  }

  editJobMessage(ref: MessageRef, view: ProgressView): Promise<MessageRef | void> {
    const key = ref.messageId ?? ref.channelId;
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { ref, busy: false, pending: null, lastSentAt: 0, final: false };
      this.#remember(key, slot);
    }
    if (slot.final && !FINAL.has(view.state)) return Promise.resolve();
    if (FINAL.has(view.state)) slot.final = true;
    const s = slot;
    return new Promise((resolve, reject) => {
      // Superseded views count as delivered: only the latest state matters.
      s.pending?.settle.forEach((p) => p.resolve());
      s.pending = { view, settle: [{ resolve, reject }] };
      if (!s.busy) void this.#pump(s);
    });
  }

  /** Start tracking a message another path just posted (the first reply), so pacing and image reuse include it. */
  adopt(ref: MessageRef, message: APIMessage, image: PngImage | undefined, final: boolean): void {
    this.#remember(message.id, { ref, busy: false, pending: null, lastSentAt: Date.now(), final, shown: shownOf(image, message) });
  }

  async postJobMessage(target: { readonly guildId: string; readonly channelId: string }, view: ProgressView): Promise<MessageRef> {
    const data: DiscordRefData = { token: null, expiresAt: null, limit: DEFAULT_ATTACHMENT_LIMIT, note: null, stuck: false };
    const rendered = renderProgress(view);
    const message = await this.send({ kind: 'channel', channelId: target.channelId }, rendered, data.limit);
    const ref = makeRef(target.channelId, message.id, data);
    this.#remember(message.id, { ref, busy: false, pending: null, lastSentAt: Date.now(), final: FINAL.has(view.state), shown: shownOf(rendered.image, message) });
    return ref;
  }

  /** Sends one rendered message (webhook or channel, create or edit), uploading the image only when it changed. */
  async send(target: Target, rendered: RenderedMessage, limit: number, slot?: Slot, flags?: number): Promise<APIMessage> {
    const body: Record<string, unknown> = { content: rendered.content, components: rendered.components, allowed_mentions: { parse: [] } };
    if (flags !== undefined) body.flags = flags;
    const files: RawFile[] = [];
    if (rendered.image && slot?.shown && slot.shown.png === rendered.image.png) {
      body.attachments = [{ id: slot.shown.attachmentId }];
    } else if (rendered.image) {
      const file = await fitAttachment(rendered.image, limit);
      files.push({ name: file.name, data: file.data, contentType: file.contentType });
      body.attachments = [{ id: '0', filename: file.name }];
    } else if (target.messageId) {
      body.attachments = []; // drop the previous preview
    }
    const request = { body, files, ...(target.kind === 'channel' ? {} : { auth: false }) }; // webhooks take no bot token
    const message = (await withRetry(() => {
      if (target.kind === 'webhook') {
        return this.o.rest.patch(Routes.webhookMessage(this.o.applicationId(), target.token, target.messageId), request);
      }
      if (target.kind === 'followup') {
        return this.o.rest.post(Routes.webhook(this.o.applicationId(), target.token), { ...request, query: new URLSearchParams({ wait: 'true' }) });
      }
      return target.messageId
        ? this.o.rest.patch(Routes.channelMessage(target.channelId, target.messageId), request)
        : this.o.rest.post(Routes.channelMessages(target.channelId), request);
    }, this.o.retry ?? defaultRetry)) as APIMessage;
    if (slot) slot.shown = shownOf(rendered.image, message);
    return message;
  }

  async #pump(slot: Slot): Promise<void> {
    slot.busy = true;
    while (slot.pending) {
      const wait = slot.lastSentAt + this.minEditIntervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const { view, settle } = slot.pending;
      slot.pending = null;
      try {
        const moved = await this.#deliver(slot, view);
        settle.forEach((p) => p.resolve(moved));
      } catch (error) {
        settle.forEach((p) => p.reject(error));
      }
      slot.lastSentAt = Date.now();
    }
    slot.busy = false;
  }

  async #deliver(slot: Slot, view: ProgressView): Promise<MessageRef | void> {
    const ref = slot.ref;
    const data = refData(ref);
    const messageId = ref.messageId!;
    const now = this.#now();
    const tokenAlive = data.token !== null && data.expiresAt !== null && now < data.expiresAt;
    const note = data.note ?? undefined;

    if (tokenAlive && (data.stuck || now < data.expiresAt! - TOKEN_MARGIN_MS)) {
      await this.send({ kind: 'webhook', token: data.token!, messageId }, renderProgress(view, note), data.limit, slot);
      return;
    }
    if (data.stuck) {
      this.o.log?.('warn', 'Discord job message can no longer be updated', { jobId: view.job.jobId, channelId: ref.channelId });
      throw new BotError(ErrorCode.Unknown, `The interaction token of job ${view.job.jobId} expired and the bot cannot edit channel ${ref.channelId}`);
    }

    // The token is about to expire (or already has): continue with the bot's own access to the channel.
    const channelData: DiscordRefData = { ...data, token: null, expiresAt: null };
    const rendered = renderProgress(view, note);
    try {
      await this.send({ kind: 'channel', channelId: ref.channelId, messageId }, rendered, DEFAULT_ATTACHMENT_LIMIT, slot);
      slot.ref = makeRef(ref.channelId, messageId, channelData);
      return data.token ? slot.ref : undefined;
    } catch (error) {
      const code = discordCode(error);
      if (code === undefined || PERMISSION_CODES.has(code)) {
        if (code !== undefined) return this.#explain(slot, view, data, tokenAlive);
        throw error;
      }
      // The message is gone or not editable any more (10008 unknown, 30046 too many edits of an old message, …).
    }
    try {
      slot.shown = undefined;
      const posted = await this.send({ kind: 'channel', channelId: ref.channelId }, rendered, DEFAULT_ATTACHMENT_LIMIT, slot);
      slot.ref = makeRef(ref.channelId, posted.id, channelData);
      this.#remember(posted.id, slot);
      return slot.ref;
    } catch (error) {
      const code = discordCode(error);
      if (code !== undefined && PERMISSION_CODES.has(code)) return this.#explain(slot, view, data, tokenAlive);
      throw error;
    }
  }

  /** Missing channel permissions: say so in the message while the token still allows it. */
  async #explain(slot: Slot, view: ProgressView, data: DiscordRefData, tokenAlive: boolean): Promise<MessageRef | void> {
    const note =
      `⚠️ I can't keep this message updated: Discord interaction tokens expire after 15 minutes and I'm missing the ` +
      `**View Channel**, **Send Messages** or **Read Message History** permission in this channel to continue on my own. ` +
      `The job goes on; use \`/show ${view.job.jobId}\` to get the result. An admin can grant these in the channel settings.`;
    this.o.log?.('warn', 'Discord channel permissions missing for job message', { jobId: view.job.jobId, channelId: slot.ref.channelId });
    if (!tokenAlive) throw new BotError(ErrorCode.Forbidden, `Missing channel permissions for job ${view.job.jobId} and its token expired`, note);
    const messageId = slot.ref.messageId!;
    await this.send({ kind: 'webhook', token: data.token!, messageId }, renderProgress(view, note), data.limit, slot);
    slot.ref = makeRef(slot.ref.channelId, messageId, { ...data, note, stuck: true });
    return slot.ref;
  }

  #remember(key: string, slot: Slot): void {
    this.#slots.set(key, slot);
    if (this.#slots.size > MAX_SLOTS) {
      for (const [k, s] of this.#slots) {
        if (this.#slots.size <= MAX_SLOTS * 0.8) break;
        if (!s.busy) this.#slots.delete(k);
      }
    }
  }
}

function shownOf(image: PngImage | undefined, message: APIMessage): Slot['shown'] {
  const attachmentId = message.attachments?.[0]?.id;
  return image && attachmentId ? { png: image.png, attachmentId } : undefined;
}
