// A local Discord for the real discord.js client: REST under /api/v10 and the gateway at /gateway on one loopback port.
// Tests drive it (dispatch interactions, inject 429/5xx, move the clock) and read back every request it received.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIApplicationCommandInteractionDataOption, APIMessage, APIUser } from 'discord-api-types/v10';
import { FakeGateway } from './gateway.ts';
import { APP_PERMISSIONS, MEMBER_PERMISSIONS, buttonInteraction, commandInteraction, makeUser, snowflake, type InteractionContext } from './payloads.ts';
import { Recorder, type RecordedFile, type RecordedRequest, type RequestFilter } from './recorder.ts';
import { validateBody } from './schemas.ts';
import { DiscordState, type ChannelAccess, type InteractionState, type Reply } from './state.ts';

/** Routes the fake serves, and which need `Authorization: Bot <token>` (interaction callbacks and webhooks don't). */
const ROUTES: { key: string; botAuth: boolean; bucket?: boolean }[] = [
  { key: 'GET /gateway/bot', botAuth: true },
  { key: 'GET /users/@me', botAuth: true },
  { key: 'GET /applications/:app/commands', botAuth: true },
  { key: 'PUT /applications/:app/commands', botAuth: true },
  { key: 'GET /applications/:app/guilds/:guild/commands', botAuth: true },
  { key: 'PUT /applications/:app/guilds/:guild/commands', botAuth: true },
  { key: 'POST /interactions/:interaction/:token/callback', botAuth: false },
  { key: 'POST /webhooks/:app/:token', botAuth: false, bucket: true },
  { key: 'GET /webhooks/:app/:token/messages/:message', botAuth: false, bucket: true },
  { key: 'PATCH /webhooks/:app/:token/messages/:message', botAuth: false, bucket: true },
  { key: 'DELETE /webhooks/:app/:token/messages/:message', botAuth: false, bucket: true },
  { key: 'POST /channels/:channel/messages', botAuth: true, bucket: true },
  { key: 'GET /channels/:channel/messages/:message', botAuth: true, bucket: true },
  { key: 'PATCH /channels/:channel/messages/:message', botAuth: true, bucket: true },
];

export interface FakeClock {
  now(): number;
}

/** Real time plus an offset the test can push forward (expire tokens without waiting). */
export class OffsetClock implements FakeClock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface FakeDiscordOptions {
  token?: string;
  applicationId?: string;
  heartbeatIntervalMs?: number;
  clock?: OffsetClock;
  /** Answer schema-invalid bodies with 400/50035 as Discord would (default true); they are recorded either way. */
  rejectInvalid?: boolean;
  /** Per-route-and-major-parameter bucket, announced in X-RateLimit-* headers; 429 when exceeded. */
  bucket?: { limit: number; windowMs: number };
}

export interface InjectRule {
  status: number;
  /** How many matching requests get this answer (default 1). */
  times?: number;
  match?: (r: RecordedRequest) => boolean;
  /** Seconds, for 429. */
  retryAfter?: number;
  global?: boolean;
}

export interface InteractionOptions {
  user?: APIUser;
  /** `null` = a DM with the bot. */
  guildId?: string | null;
  channelId?: string;
  attachmentSizeLimit?: number;
  appPermissions?: string;
  memberPermissions?: string;
  locale?: string;
}

export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly botUser: APIUser;
  readonly clock: OffsetClock;
  readonly recorder = new Recorder();
  readonly state: DiscordState;
  readonly gateway: FakeGateway;
  /** 429s sent, organic (bucket exhausted) or injected. */
  rateLimited = 0;
  /** Per-route-and-major-parameter bucket (tests may change it); see FakeDiscordOptions.bucket. */
  bucket: { limit: number; windowMs: number };
  readonly defaultGuildId = snowflake();
  readonly defaultChannelId = snowflake();
  #server: Server;
  #port = 0;
  #rules: (InjectRule & { left: number })[] = [];
  #buckets = new Map<string, { resetAt: number; remaining: number }>();
  #users = new Map<string, APIUser>();
  #seq = 0;

  constructor(private readonly options: FakeDiscordOptions = {}) {
    this.token = options.token ?? 'fake-bot-token';
    this.applicationId = options.applicationId ?? snowflake();
    this.botUser = makeUser(this.applicationId, 'imagine-bot', true);
    this.clock = options.clock ?? new OffsetClock();
    this.bucket = options.bucket ?? { limit: 5, windowMs: 2000 };
    this.state = new DiscordState({ applicationId: this.applicationId, botUser: this.botUser, now: () => this.clock.now(), baseUrl: () => this.baseUrl });
    this.gateway = new FakeGateway({
      token: this.token,
      applicationId: this.applicationId,
      botUser: this.botUser,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      url: () => this.baseUrl.replace(/^http/, 'ws') + '/gateway',
    });
    this.#server = createServer((req, res) => void this.#onRequest(req, res));
    this.#server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://x').pathname === '/gateway') this.gateway.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
  }

  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** What to pass as discord.js `rest.api` (no version: the client appends /v10). */
  get apiBase(): string {
    return `${this.baseUrl}/api`;
  }

  async close(): Promise<void> {
    this.gateway.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- test helpers -------------------------------------------------------------------------------------------

  requests(filter?: RequestFilter): RecordedRequest[] {
    return this.recorder.list(filter);
  }

  waitFor(filter: RequestFilter, timeoutMs?: number): Promise<RecordedRequest> {
    return this.recorder.waitFor(filter, timeoutMs);
  }

  /** Every schema problem in every body the bot sent so far (assert it stays empty). */
  schemaErrors(): string[] {
    return this.recorder.all.flatMap((r) => r.schemaErrors);
  }

  /** Answer the next `times` matching requests with `status` (429 carries retry_after and rate-limit headers). */
  inject(rule: InjectRule): void {
    this.#rules.push({ ...rule, left: rule.times ?? 1 });
  }

  setChannelAccess(channelId: string, access: ChannelAccess): void {
    this.state.channelAccess.set(channelId, access);
  }

  /** A stable user per name. */
  user(name: string): APIUser {
    let u = this.#users.get(name);
    if (!u) this.#users.set(name, (u = makeUser(snowflake(), name)));
    return u;
  }

  waitForReady(): Promise<void> {
    return this.gateway.waitForReady();
  }

  dispatch(t: string, d: unknown): void {
    this.gateway.dispatch(t, d);
  }

  /** Dispatches a slash command; option values are typed from the command the bot registered (unknown ones throw). */
  sendCommand(name: string, values: Record<string, string | number | boolean> = {}, o: InteractionOptions = {}): InteractionState {
    const ctx = this.#context(o);
    const scopes = [ctx.guildId, 'global'].filter((s): s is string => Boolean(s));
    const command = scopes.map((s) => this.state.commands.get(s)?.find((c) => c.name === name)).find(Boolean);
    if (!command) throw new Error(`Fake Discord: the bot registered no command /${name} (in ${scopes.join(' or ')})`);
    const defs = (command.options ?? []) as { name: string; type: number }[];
    const options: APIApplicationCommandInteractionDataOption[] = Object.entries(values).map(([key, value]) => {
      const def = defs.find((d) => d.name === key);
      if (!def) throw new Error(`Fake Discord: /${name} has no option \`${key}\` (has ${defs.map((d) => d.name).join(', ')})`);
      return { name: key, type: def.type, value } as APIApplicationCommandInteractionDataOption;
    });
    const state = this.state.addInteraction(ctx, 2);
    this.dispatch('INTERACTION_CREATE', commandInteraction(ctx, { id: String(command.id), name, options }));
    return state;
  }

  /** Presses a button on a message the bot created. */
  sendButton(messageId: string, customId: string, o: InteractionOptions = {}): InteractionState {
    const stored = this.state.messages.get(messageId);
    if (!stored) throw new Error(`Fake Discord: no message ${messageId}`);
    const message = stored.message as APIMessage & { guild_id?: string };
    const ctx = this.#context({ guildId: message.guild_id ?? null, channelId: message.channel_id, ...o });
    const state = this.state.addInteraction(ctx, 3, messageId);
    this.dispatch('INTERACTION_CREATE', buttonInteraction(ctx, customId, message));
    return state;
  }

  /** The current state of a message (after all edits). */
  message(id: string): APIMessage | undefined {
    return this.state.messages.get(id)?.message;
  }

  /** Bytes of an attachment URL the fake handed out. */
  attachmentBytes(url: string): Buffer | undefined {
    return this.state.attachments.get(new URL(url).pathname)?.bytes;
  }

  #context(o: InteractionOptions): InteractionContext {
    const guildId = o.guildId === null ? undefined : (o.guildId ?? this.defaultGuildId);
    return {
      id: snowflake(),
      token: `aW50ZXJhY3Rpb246${snowflake()}${Math.random().toString(36).slice(2)}`.padEnd(80, 'x'),
      applicationId: this.applicationId,
      user: o.user ?? this.user('alice'),
      guildId,
      channelId: o.channelId ?? (guildId ? this.defaultChannelId : snowflake()),
      attachmentSizeLimit: o.attachmentSizeLimit ?? 10 * 1024 * 1024,
      appPermissions: o.appPermissions ?? APP_PERMISSIONS,
      memberPermissions: o.memberPermissions ?? MEMBER_PERMISSIONS,
      locale: o.locale ?? 'en-US',
    };
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = this.clock.now(); // before the body is read: when "Discord" got the request
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);

    if (req.method === 'GET' && url.pathname.startsWith('/attachments/')) {
      const a = this.state.attachments.get(url.pathname);
      res.writeHead(a ? 200 : 404, { 'content-type': a?.contentType ?? 'text/plain' }).end(a?.bytes ?? 'not found');
      return;
    }

    const prefix = '/api/v10';
    const segments = url.pathname.startsWith(prefix + '/') ? url.pathname.slice(prefix.length + 1).split('/').map(decodeURIComponent) : [];
    const path = '/' + segments.join('/');
    const method = req.method ?? 'GET';
    const match = this.#match(method, segments);
    const record: RecordedRequest = {
      seq: ++this.#seq,
      at: arrivedAt,
      method,
      path,
      route: match?.route.key,
      params: match?.params ?? {},
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: undefined,
      files: [],
      schemaErrors: [],
    };
    this.recorder.add(record);

    let reply: Reply;
    try {
      await this.#parseBody(record, raw);
      reply = this.#answer(record, match?.route);
    } catch (e) {
      reply = { status: 400, body: { code: 50109, message: `The request body contains invalid JSON. (${(e as Error).message})` } };
    }
    record.status = reply.status;
    record.response = reply.body;
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.body !== undefined) headers['content-type'] = 'application/json'; // discord.js parses JSON only with it
    res.writeHead(reply.status, headers).end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    this.recorder.answered(record);
  }

  #match(method: string, segments: string[]) {
    for (const route of ROUTES) {
      const [m, pattern] = route.key.split(' ');
      const parts = pattern.slice(1).split('/');
      if (m !== method || parts.length !== segments.length) continue;
      const params: Record<string, string> = {};
      if (parts.every((p, i) => (p.startsWith(':') ? ((params[p.slice(1)] = segments[i]), true) : p === segments[i]))) return { route, params };
    }
    return undefined;
  }

  async #parseBody(record: RecordedRequest, raw: Buffer): Promise<void> {
    const type = String(record.headers['content-type'] ?? '');
    if (raw.length === 0) return;
    if (type.startsWith('multipart/form-data')) {
      // Node's fetch Request parses multipart for us.
      const form = await new Request('http://x/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
      for (const [field, value] of form) {
        if (typeof value === 'string') {
          if (field === 'payload_json') record.body = JSON.parse(value);
        } else {
          const file: RecordedFile = { field, filename: value.name, contentType: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
          record.files.push(file);
        }
      }
    } else {
      record.body = JSON.parse(raw.toString('utf8'));
    }
    if (record.route) record.schemaErrors = validateBody(record.route, record.body);
  }

  #answer(record: RecordedRequest, route: (typeof ROUTES)[number] | undefined): Reply {
    const rule = this.#rules.find((r) => r.left > 0 && (!r.match || r.match(record)));
    if (rule) {
      rule.left--;
      return rule.status === 429 ? this.#tooMany(rule.retryAfter ?? 0.05, rule.global ?? false, 'injected') : { status: rule.status, body: { code: 0, message: `${rule.status}: injected failure` } };
    }
    if (!route) return { status: 404, body: { code: 0, message: '404: Not Found' } };
    if (route.botAuth && record.headers.authorization !== `Bot ${this.token}`) return { status: 401, body: { code: 0, message: '401: Unauthorized' } };
    if (record.schemaErrors.length > 0 && this.options.rejectInvalid !== false) {
      return { status: 400, body: { code: 50035, message: 'Invalid Form Body', errors: record.schemaErrors } };
    }
    const bucket = route.bucket ? this.#bucket(record) : undefined;
    if (bucket?.limited) return bucket.limited;
    const reply = this.state.handle(route.key, record);
    return bucket ? { ...reply, headers: { ...reply.headers, ...bucket.headers } } : reply;
  }

  /** Same keying as @discordjs/rest: webhooks per id/token, channels per channel id. */
  #bucket(record: RecordedRequest): { limited?: Reply; headers?: Record<string, string> } {
    const { limit, windowMs } = this.bucket;
    const major = record.params.channel ?? `${record.params.app}/${record.params.token}`;
    const key = `${record.route}|${major}`;
    const now = Date.now();
    let b = this.#buckets.get(key);
    if (!b || now >= b.resetAt) this.#buckets.set(key, (b = { resetAt: now + windowMs, remaining: limit }));
    if (b.remaining <= 0) return { limited: this.#tooMany((b.resetAt - now) / 1000, false, record.route!) };
    b.remaining--;
    return { headers: rateLimitHeaders(limit, b.remaining, (b.resetAt - now) / 1000, record.route!) };
  }

  #tooMany(retryAfter: number, global: boolean, bucket: string): Reply {
    this.rateLimited++;
    return {
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: retryAfter, global, code: 0 },
      headers: {
        ...rateLimitHeaders(1, 0, retryAfter, bucket),
        'retry-after': String(Math.ceil(retryAfter)),
        'x-ratelimit-scope': global ? 'global' : 'user',
        ...(global ? { 'x-ratelimit-global': 'true' } : {}),
      },
    };
  }
}

function rateLimitHeaders(limit: number, remaining: number, resetAfter: number, bucket: string): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': ((Date.now() / 1000) + resetAfter).toFixed(3),
    'x-ratelimit-reset-after': resetAfter.toFixed(3),
    'x-ratelimit-bucket': Buffer.from(bucket).toString('hex').slice(0, 32),
  };
}
