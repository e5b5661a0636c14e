// What the fake Discord remembers (commands, interactions, messages, attachments) and the REST routes acting on it,
// with Discord's rules: 3 s to the first response, one callback per interaction, 15-minute webhook tokens,
// per-attachment size limits, bot-only channel edits.
import type { APIAttachment, APIMessage, APIUser } from 'discord-api-types/v10';
import type { RecordedFile, RecordedRequest } from './recorder.ts';
import { makeMessage, snowflake, type InteractionContext, type StoredMessage } from './payloads.ts';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface InteractionState {
  ctx: InteractionContext;
  type: 2 | 3;
  createdAt: number;
  /** Callback type of the initial response, once given. */
  callback?: number;
  originalMessageId?: string;
  /** For component interactions: the message whose button was pressed. */
  componentMessageId?: string;
  webhookMessages: Set<string>;
}

export type ChannelAccess = 'ok' | 'missing-access' | 'missing-permissions';

export const INITIAL_RESPONSE_MS = 3000;
export const TOKEN_LIFETIME_MS = 15 * 60 * 1000;
const LOADING = 1 << 7;
const EPHEMERAL = 1 << 6;

const error = (status: number, code: number, message: string, extra: object = {}): Reply => ({
  status,
  body: { code, message, ...extra },
});

export class DiscordState {
  readonly commands = new Map<string, Record<string, unknown>[]>();
  readonly interactions = new Map<string, InteractionState>();
  readonly byToken = new Map<string, InteractionState>();
  readonly messages = new Map<string, StoredMessage>();
  readonly attachments = new Map<string, { bytes: Buffer; contentType: string }>();
  readonly channelAccess = new Map<string, ChannelAccess>();
  /** Limit for bot-token channel uploads (interactions carry their own). */
  channelAttachmentLimit = 10 * 1024 * 1024;

  constructor(
    private readonly o: { applicationId: string; botUser: APIUser; now: () => number; baseUrl: () => string },
  ) {}

  addInteraction(ctx: InteractionContext, type: 2 | 3, componentMessageId?: string): InteractionState {
    const state: InteractionState = { ctx, type, createdAt: this.o.now(), componentMessageId, webhookMessages: new Set() };
    this.interactions.set(ctx.id, state);
    this.byToken.set(ctx.token, state);
    return state;
  }

  handle(route: string, req: RecordedRequest): Reply {
    const p = req.params;
    switch (route) {
      case 'GET /gateway/bot':
        return {
          status: 200,
          body: {
            url: this.o.baseUrl().replace(/^http/, 'ws') + '/gateway', // no query: the client appends ?v=10&encoding=json
            shards: 1,
            session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
          },
        };
      case 'GET /users/@me':
        return { status: 200, body: this.o.botUser };
      case 'GET /applications/:app/commands':
      case 'GET /applications/:app/guilds/:guild/commands':
        return this.#appCheck(p.app) ?? { status: 200, body: this.commands.get(p.guild ?? 'global') ?? [] };
      case 'PUT /applications/:app/commands':
      case 'PUT /applications/:app/guilds/:guild/commands':
        return this.#appCheck(p.app) ?? this.#setCommands(p.guild ?? 'global', req.body);
      case 'POST /interactions/:interaction/:token/callback':
        return this.#callback(req);
      case 'POST /webhooks/:app/:token':
        return this.#followUp(req);
      case 'GET /webhooks/:app/:token/messages/:message':
      case 'PATCH /webhooks/:app/:token/messages/:message':
      case 'DELETE /webhooks/:app/:token/messages/:message':
        return this.#webhookMessage(req);
      case 'POST /channels/:channel/messages':
        return this.#channelAccess(p.channel) ?? this.#createChannelMessage(req);
      case 'GET /channels/:channel/messages/:message':
      case 'PATCH /channels/:channel/messages/:message':
        return this.#channelAccess(p.channel) ?? this.#channelMessage(req);
      default:
        return error(404, 0, '404: Not Found');
    }
  }

  #appCheck(app: string): Reply | undefined {
    return app === this.o.applicationId ? undefined : error(403, 50001, 'Missing Access');
  }

  #setCommands(scope: string, body: unknown): Reply {
    const list = (Array.isArray(body) ? body : []) as Record<string, unknown>[];
    const previous = this.commands.get(scope) ?? [];
    const stored = list.map((c) => ({
      id: previous.find((x) => x.name === c.name)?.id ?? snowflake(this.o.now()),
      application_id: this.o.applicationId,
      version: snowflake(this.o.now()),
      type: 1,
      default_member_permissions: null,
      dm_permission: true,
      nsfw: false,
      options: [],
      ...c,
      ...(scope === 'global' ? {} : { guild_id: scope }),
    }));
    this.commands.set(scope, stored);
    return { status: 200, body: stored };
  }

  #callback(req: RecordedRequest): Reply {
    const it = this.interactions.get(req.params.interaction);
    if (!it || it.ctx.token !== req.params.token) return error(404, 10062, 'Unknown interaction');
    if (it.callback !== undefined) return error(400, 40060, 'Interaction has already been acknowledged.');
    if (this.o.now() - it.createdAt > INITIAL_RESPONSE_MS) return error(404, 10062, 'Unknown interaction');
    const body = req.body as { type: number; data?: Record<string, unknown> };
    const data = body.data ?? {};
    const tooBig = this.#sizeCheck(req.files, it.ctx.attachmentSizeLimit);
    if (tooBig) return tooBig;
    switch (body.type) {
      case 4:
      case 5: {
        const flags = (Number(data.flags ?? 0) & EPHEMERAL) | (body.type === 5 ? LOADING : 0);
        const stored = this.#create(it.ctx.channelId, { ...data, flags }, req.files, it.ctx.token, it.ctx.guildId);
        it.originalMessageId = stored.message.id;
        break;
      }
      case 6:
      case 7: {
        if (it.type !== 3 || !it.componentMessageId) return error(400, 40004, 'Interaction is not a message component');
        it.originalMessageId = it.componentMessageId;
        if (body.type === 7) this.#edit(this.messages.get(it.componentMessageId)!, data, req.files);
        break;
      }
      case 9:
      case 8:
        break;
      default:
        return error(400, 50035, 'Invalid Form Body', { errors: { type: { _errors: [{ code: 'BASE_TYPE_CHOICES' }] } } });
    }
    it.callback = body.type;
    if (it.originalMessageId) it.webhookMessages.add(it.originalMessageId);
    if (req.query.with_response !== 'true') return { status: 204 };
    const message = it.originalMessageId ? this.messages.get(it.originalMessageId)?.message : undefined;
    return {
      status: 200,
      body: {
        interaction: { id: it.ctx.id, type: it.type, response_message_id: it.originalMessageId, response_message_loading: body.type === 5, response_message_ephemeral: Boolean((Number(data.flags ?? 0)) & EPHEMERAL) },
        resource: { type: body.type, ...(message ? { message } : {}) },
      },
    };
  }

  #webhook(req: RecordedRequest): InteractionState | Reply {
    const it = this.byToken.get(req.params.token);
    if (!it || req.params.app !== this.o.applicationId) return error(404, 10015, 'Unknown Webhook');
    if (this.o.now() - it.createdAt > TOKEN_LIFETIME_MS) return error(401, 50027, 'Invalid Webhook Token');
    return it;
  }

  #followUp(req: RecordedRequest): Reply {
    const it = this.#webhook(req);
    if ('status' in it) return it;
    if (it.callback === undefined) return error(404, 10015, 'Unknown Webhook');
    const tooBig = this.#sizeCheck(req.files, it.ctx.attachmentSizeLimit);
    if (tooBig) return tooBig;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const original = it.originalMessageId ? this.messages.get(it.originalMessageId) : undefined;
    let stored: StoredMessage;
    // Discord's (deprecated) rule: the first follow-up after a deferred reply replaces the loading message.
    if (original && (original.message.flags ?? 0) & LOADING) {
      stored = this.#edit(original, body, req.files);
    } else {
      stored = this.#create(it.ctx.channelId, body, req.files, it.ctx.token, it.ctx.guildId);
      it.webhookMessages.add(stored.message.id);
    }
    return req.query.wait === 'true' ? { status: 200, body: stored.message } : { status: 204 };
  }

  #webhookMessage(req: RecordedRequest): Reply {
    const it = this.#webhook(req);
    if ('status' in it) return it;
    const id = req.params.message === '@original' ? it.originalMessageId : req.params.message;
    const stored = id && it.webhookMessages.has(id) ? this.messages.get(id) : undefined;
    if (!stored) return error(404, 10008, 'Unknown Message');
    if (req.method === 'GET') return { status: 200, body: stored.message };
    if (req.method === 'DELETE') {
      this.messages.delete(stored.message.id);
      return { status: 204 };
    }
    const tooBig = this.#sizeCheck(req.files, it.ctx.attachmentSizeLimit);
    if (tooBig) return tooBig;
    return { status: 200, body: this.#edit(stored, (req.body ?? {}) as Record<string, unknown>, req.files).message };
  }

  #channelAccess(channel: string): Reply | undefined {
    const access = this.channelAccess.get(channel) ?? 'ok';
    if (access === 'missing-access') return error(403, 50001, 'Missing Access');
    if (access === 'missing-permissions') return error(403, 50013, 'Missing Permissions');
    return undefined;
  }

  #createChannelMessage(req: RecordedRequest): Reply {
    const tooBig = this.#sizeCheck(req.files, this.channelAttachmentLimit);
    if (tooBig) return tooBig;
    const guildId = [...this.interactions.values()].find((i) => i.ctx.channelId === req.params.channel)?.ctx.guildId;
    const stored = this.#create(req.params.channel, (req.body ?? {}) as Record<string, unknown>, req.files, undefined, guildId);
    return { status: 200, body: stored.message };
  }

  #channelMessage(req: RecordedRequest): Reply {
    const stored = this.messages.get(req.params.message);
    if (!stored || stored.ephemeral || stored.message.channel_id !== req.params.channel) return error(404, 10008, 'Unknown Message');
    if (req.method === 'GET') return { status: 200, body: stored.message };
    if (stored.message.author.id !== this.o.botUser.id) return error(403, 50005, 'Cannot edit a message authored by another user');
    const tooBig = this.#sizeCheck(req.files, this.channelAttachmentLimit);
    if (tooBig) return tooBig;
    return { status: 200, body: this.#edit(stored, (req.body ?? {}) as Record<string, unknown>, req.files).message };
  }

  #sizeCheck(files: RecordedFile[], limit: number): Reply | undefined {
    const big = files.find((f) => f.bytes.length > limit);
    return big ? error(413, 40005, 'Request entity too large') : undefined;
  }

  #create(channelId: string, data: Record<string, unknown>, files: RecordedFile[], token?: string, guildId?: string): StoredMessage {
    const id = snowflake(this.o.now());
    const flags = Number(data.flags ?? 0);
    const message = makeMessage({
      id,
      channelId,
      guildId,
      author: this.o.botUser,
      content: typeof data.content === 'string' ? data.content : '',
      components: data.components,
      attachments: this.#attachments(channelId, [], data.attachments, files),
      flags,
      applicationId: token ? this.o.applicationId : undefined,
      now: this.o.now(),
    });
    const stored: StoredMessage = { message, token, ephemeral: Boolean(flags & EPHEMERAL) };
    this.messages.set(id, stored);
    return stored;
  }

  #edit(stored: StoredMessage, data: Record<string, unknown>, files: RecordedFile[]): StoredMessage {
    const m = stored.message;
    const next = makeMessage({
      id: m.id,
      channelId: m.channel_id,
      guildId: (m as APIMessage & { guild_id?: string }).guild_id,
      author: m.author,
      content: typeof data.content === 'string' ? data.content : data.content === null ? '' : m.content,
      components: data.components !== undefined ? (data.components ?? []) : m.components,
      attachments: this.#attachments(m.channel_id, m.attachments, data.attachments, files),
      flags: (m.flags ?? 0) & ~LOADING,
      applicationId: m.application_id,
      now: Date.parse(m.timestamp),
    });
    stored.message = { ...next, edited_timestamp: new Date(this.o.now()).toISOString() };
    return stored;
  }

  /** Discord's rule: with `attachments` listed, keep exactly those (old ids or new `files[n]` indexes); else append. */
  #attachments(channelId: string, existing: APIAttachment[], listed: unknown, files: RecordedFile[]): APIAttachment[] {
    const fresh = (file: RecordedFile, meta: Record<string, unknown> = {}): APIAttachment => {
      const id = snowflake(this.o.now());
      const filename = typeof meta.filename === 'string' ? meta.filename : file.filename;
      const path = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
      this.attachments.set(path, { bytes: file.bytes, contentType: file.contentType });
      const url = this.o.baseUrl() + path;
      return {
        id,
        filename,
        size: file.bytes.length,
        url,
        proxy_url: url,
        content_type: file.contentType,
        ...(typeof meta.description === 'string' ? { description: meta.description } : {}),
      } as APIAttachment;
    };
    if (!Array.isArray(listed)) return [...existing, ...files.map((f) => fresh(f))];
    const out: APIAttachment[] = [];
    for (const item of listed as Record<string, unknown>[]) {
      const old = existing.find((a) => a.id === String(item.id));
      if (old) {
        out.push(old);
        continue;
      }
      const file = files.find((f) => f.field === `files[${item.id}]`);
      if (file) out.push(fresh(file, item));
    }
    return out;
  }
}
