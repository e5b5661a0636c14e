// The Web API methods of the fake: each takes validated arguments and the fake's state and answers like Slack does,
// `{ ok: true, … }` or `{ ok: false, error }` with HTTP 200 (Slack uses other statuses only for 429 and outages).
import { nextId, nowTs } from './payloads.ts';
import type { FakeFile, FakeMessage, FakeTeam } from './state.ts';

export interface WebApiContext {
  readonly baseUrl: string;
  readonly team: FakeTeam;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  readonly channels: Set<string>;
  /** Users whose users.info says is_admin. */
  readonly admins: Set<string>;
  readonly messages: FakeMessage[];
  readonly files: Map<string, FakeFile>;
  readonly onFailure: (kind: 'file_in_use', detail: string) => void;
  /** Issues a one-time Socket Mode URL. */
  readonly openSocketUrl: () => string;
}

export type MethodResult = Record<string, unknown> & { ok: boolean };
type Args = Record<string, unknown>;

const str = (v: unknown) => (v === undefined ? undefined : String(v));

export const methods: Record<string, (ctx: WebApiContext, args: Args) => MethodResult> = {
  'auth.test': (ctx) => ({
    ok: true,
    url: `${ctx.baseUrl}/`,
    team: ctx.team.domain,
    user: 'imagine-bot',
    team_id: ctx.team.id,
    user_id: ctx.botUserId,
    bot_id: ctx.botId,
    is_enterprise_install: false,
  }),

  'users.info': (ctx, args) => {
    const id = String(args.user);
    const admin = ctx.admins.has(id);
    return {
      ok: true,
      user: { id, team_id: ctx.team.id, name: id.toLowerCase(), real_name: id, deleted: false, is_bot: false, is_admin: admin, is_owner: false, is_primary_owner: false, is_restricted: false, profile: { display_name: id.toLowerCase(), real_name: id } },
    };
  },

  'apps.connections.open': (ctx) => ({ ok: true, url: ctx.openSocketUrl() }),

  'chat.postMessage': (ctx, args) => {
    const channel = String(args.channel);
    if (!ctx.channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    const blockError = checkSlackFiles(ctx, args.blocks);
    if (blockError) return { ok: false, error: 'invalid_blocks', response_metadata: { messages: [blockError] } };
    const message = post(ctx, channel, args, 'chat.postMessage');
    return { ok: true, channel, ts: message.ts, message: render(ctx, message) };
  },

  'chat.update': (ctx, args) => {
    const channel = String(args.channel);
    if (!ctx.channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    const message = ctx.messages.find((m) => m.channel === channel && m.ts === args.ts && !m.ephemeralTo);
    if (!message) return { ok: false, error: 'message_not_found' };
    const blockError = checkSlackFiles(ctx, args.blocks);
    if (blockError) return { ok: false, error: 'invalid_blocks', response_metadata: { messages: [blockError] } };
    message.text = str(args.text);
    message.blocks = args.blocks as unknown[] | undefined;
    message.history.push({ at: Date.now(), text: message.text, blocks: message.blocks });
    return { ok: true, channel, ts: message.ts, text: message.text ?? '', message: render(ctx, message) };
  },

  'chat.postEphemeral': (ctx, args) => {
    const channel = String(args.channel);
    if (!ctx.channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    const message = post(ctx, channel, args, 'chat.postEphemeral', String(args.user));
    return { ok: true, message_ts: message.ts };
  },

  'files.getUploadURLExternal': (ctx, args) => {
    const id = nextId('F');
    const length = Number(args.length);
    ctx.files.set(id, { id, filename: String(args.filename), declaredLength: length, completed: false, createdAt: Date.now() });
    return { ok: true, upload_url: `${ctx.baseUrl}/upload/v1/${id}`, file_id: id };
  },

  'files.delete': (ctx, args) => {
    const id = String(args.file);
    if (!ctx.files.has(id)) return { ok: false, error: 'file_not_found' };
    const inUse = ctx.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(`"${id}"`));
    if (inUse) ctx.onFailure('file_in_use', `${id} deleted while message ${inUse.ts} still shows it`);
    ctx.files.delete(id);
    return { ok: true };
  },

  'files.completeUploadExternal': (ctx, args) => {
    const entries = args.files as { id: string; title?: string }[];
    const files: FakeFile[] = [];
    for (const entry of entries) {
      const file = ctx.files.get(entry.id);
      // Slack answers file_not_found both for unknown ids and for ids whose bytes never arrived.
      if (!file || !file.bytes) return { ok: false, error: 'file_not_found' };
      files.push(file);
    }
    const channel = str(args.channel_id);
    if (channel !== undefined && !ctx.channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    for (const [i, file] of files.entries()) {
      file.completed = true;
      file.title = entries[i].title ?? file.filename;
    }
    if (channel !== undefined) {
      const message = post(ctx, channel, { text: args.initial_comment, blocks: args.blocks }, 'files.completeUploadExternal');
      message.files = files.map((f) => f.id);
    }
    return { ok: true, files: files.map((f) => fileObject(ctx, f, channel)) };
  },
};

function post(ctx: WebApiContext, channel: string, args: Args, via: FakeMessage['via'], ephemeralTo?: string): FakeMessage {
  const text = str(args.text);
  const blocks = args.blocks as unknown[] | undefined;
  const message: FakeMessage = { channel, ts: nowTs(), text, blocks, history: [{ at: Date.now(), text, blocks }], via, ephemeralTo };
  ctx.messages.push(message);
  return message;
}

/** An image block may show an uploaded file only once its upload is complete (files.completeUploadExternal). */
function checkSlackFiles(ctx: WebApiContext, blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const [i, b] of blocks.entries()) {
    const id = (b as { slack_file?: { id?: string } }).slack_file?.id;
    if (id === undefined) continue;
    if (!ctx.files.get(id)?.completed) return `[ERROR] invalid slack file ${id} [json-pointer:/blocks/${i}/slack_file]`;
  }
  return undefined;
}

export function render(ctx: WebApiContext, m: FakeMessage): Record<string, unknown> {
  return { type: 'message', user: ctx.botUserId, bot_id: ctx.botId, app_id: ctx.appId, team: ctx.team.id, ts: m.ts, text: m.text ?? '', blocks: m.blocks ?? [] };
}

export function fileObject(ctx: WebApiContext, f: FakeFile, channel?: string): Record<string, unknown> {
  const size = pngSize(f.bytes);
  const created = Math.floor(f.createdAt / 1000);
  return {
    id: f.id,
    created,
    timestamp: created,
    name: f.filename,
    title: f.title ?? f.filename,
    mimetype: size ? 'image/png' : 'application/octet-stream',
    filetype: size ? 'png' : 'binary',
    pretty_type: size ? 'PNG' : 'Binary',
    user: ctx.botUserId,
    user_team: ctx.team.id,
    mode: 'hosted',
    editable: false,
    is_external: false,
    external_type: '',
    is_public: channel !== undefined && channel.startsWith('C'),
    public_url_shared: false,
    size: f.bytes?.length ?? 0,
    url_private: `${ctx.baseUrl}/files-pri/${ctx.team.id}-${f.id}/${encodeURIComponent(f.filename)}`,
    url_private_download: `${ctx.baseUrl}/files-pri/${ctx.team.id}-${f.id}/download/${encodeURIComponent(f.filename)}`,
    permalink: `${ctx.baseUrl}/files/${ctx.botUserId}/${f.id}/${encodeURIComponent(f.filename)}`,
    permalink_public: `${ctx.baseUrl}/${ctx.team.id}-${f.id}-public`,
    ...(size ? { original_w: size.width, original_h: size.height } : {}),
    // Sharing happens asynchronously in Slack, so the completion answer carries no shares yet.
    channels: [],
    groups: [],
    ims: [],
    shares: {},
    has_rich_preview: false,
    file_access: 'visible',
  };
}

/** Width and height from a PNG's IHDR chunk, or undefined for anything that is not a PNG. */
export function pngSize(bytes: Buffer | undefined): { width: number; height: number } | undefined {
  if (!bytes || bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
