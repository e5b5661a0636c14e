// A local Slack for tests: the Web API under /api/, the upload URL, file downloads, response_urls and Socket Mode, on
// one loopback port. Point the real Bolt app at it with `clientOptions: { slackApiUrl: fake.apiUrl }`; every other
// URL (Socket Mode, upload_url, response_url, file URLs) is handed out by the fake in its answers.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postSigned, type SignedPostOptions, type SignedPostResult } from './http-mode.ts';
import { nextId, nowTs, triggerId, verificationToken, type BlockActionsPayload, type ButtonAction, type SlashCommandInput, type SlashCommandPayload } from './payloads.ts';
import { decodeBody, decodeJsonFields, readRaw, type DecodedBody } from './request-body.ts';
import { blockRuleErrors, jsonFields, validateArgs } from './schemas.ts';
import { SocketModeHub, type Ack, type EnvelopeType } from './socket-mode.ts';
import type { FakeCall, FakeFailure, FakeFile, FakeMessage, FakeTeam, ResponseUrl } from './state.ts';
import { methods, type WebApiContext } from './web-api.ts';

export interface FakeSlackOptions {
  readonly botToken?: string;
  readonly appToken?: string;
  /** The first team is the bot's own (auth.test); payloads may name any of them. */
  readonly teams?: FakeTeam[];
  readonly channels?: string[];
  /** Users that users.info reports as workspace admins. */
  readonly admins?: string[];
  /** Slack's ack window. @default 3000 */
  readonly ackTimeoutMs?: number;
  /** Envelope types redelivered after a missed ack. @default ['events_api'] */
  readonly retryTypes?: EnvelopeType[];
  /** Per-method calls per minute per team, answered with 429 beyond; false turns limits off. @default Slack's tiers */
  readonly rateLimits?: Record<string, number> | false;
}

export interface Fault {
  /** 429 (with Retry-After) or a 5xx. */
  readonly status: number;
  /** Seconds, sent as Retry-After with a 429. @default 1 */
  readonly retryAfter?: number;
  /** How many calls in a row get the fault. @default 1 */
  readonly times?: number;
}

/** Slack's published tiers for the methods we use (Tier 2 = 20/min, 3 = 50/min, 4 = 100/min; postMessage ≈ 1/s). */
export const slackRateLimits: Record<string, number> = {
  'auth.test': 100,
  'apps.connections.open': 100,
  'chat.postMessage': 60,
  'chat.update': 50,
  'chat.postEphemeral': 100,
  'users.info': 100,
  'files.getUploadURLExternal': 100,
  'files.completeUploadExternal': 100,
  'files.delete': 50,
};

export const defaultTeams: FakeTeam[] = [
  { id: 'T0000000A', domain: 'alpha' },
  { id: 'T0000000B', domain: 'beta' },
];

export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly appId = 'A0FAKEAPP';
  readonly botUserId = 'U0BOTUSER';
  readonly botId = 'B0BOT';
  readonly teams: FakeTeam[];
  readonly channels: Set<string>;
  readonly admins: Set<string>;
  readonly calls: FakeCall[] = [];
  readonly failures: FakeFailure[] = [];
  readonly messages: FakeMessage[] = [];
  readonly files = new Map<string, FakeFile>();
  readonly acks: Ack[] = [];
  readonly responseUrls = new Map<string, ResponseUrl>();
  readonly events = new EventEmitter();
  readonly ackTimeoutMs: number;
  readonly #faults = new Map<string, Fault[]>();
  readonly #rateLimits: Record<string, number> | false;
  readonly #windows = new Map<string, number[]>();
  readonly #server: Server;
  #socket!: SocketModeHub;
  url = '';

  private constructor(options: FakeSlackOptions) {
    this.botToken = options.botToken ?? 'xoxb-0000-fake-bot-token';
    this.appToken = options.appToken ?? 'xapp-1-A0FAKEAPP-0000-fake-app-token';
    this.teams = options.teams ?? defaultTeams;
    this.channels = new Set(options.channels ?? ['C0000000A', 'C0000000B']);
    this.admins = new Set(options.admins ?? []);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 3000;
    this.#rateLimits = options.rateLimits === undefined ? slackRateLimits : options.rateLimits;
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((error: Error) => {
        this.#fail('invalid_arguments', `fake Slack crashed on ${req.url}: ${error.stack}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.events.setMaxListeners(100);
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    const { port } = fake.#server.address() as AddressInfo;
    fake.url = `http://127.0.0.1:${port}`;
    fake.#socket = new SocketModeHub(`ws://127.0.0.1:${port}`, {
      ackTimeoutMs: fake.ackTimeoutMs,
      retryTypes: new Set(options.retryTypes ?? ['events_api']),
      maxRetries: 3,
      appId: fake.appId,
      onFailure: (kind, detail) => fake.#fail(kind, detail),
      onAck: (ack, payload) => fake.#onAck(ack, payload),
    });
    fake.#server.on('upgrade', (req, socket, head) => fake.#socket.handleUpgrade(req, socket, head));
    return fake;
  }

  /** `slackApiUrl` for the app (with the trailing slash @slack/web-api expects). */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  get socketMode(): SocketModeHub {
    return this.#socket;
  }

  // ── test knobs ──────────────────────────────────────────────────────────────────────────────────────────────

  /** The next `times` calls to `method` (a Web API method, `upload` or `response_url`) fail with `status`. */
  inject(method: string, fault: Fault): void {
    const queue = this.#faults.get(method) ?? [];
    for (let i = 0; i < (fault.times ?? 1); i++) queue.push(fault);
    this.#faults.set(method, queue);
  }

  callsTo(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Channel messages (not ephemeral), oldest first. */
  channelMessages(channel: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && !m.ephemeralTo);
  }

  ephemeralsFor(user: string): FakeMessage[] {
    return this.messages.filter((m) => m.ephemeralTo === user);
  }

  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts && !m.ephemeralTo);
  }

  /**
   * Resolves with the probe's first truthy answer; rejects after `timeoutMs`. The probe runs on every change of the
   * fake and every 25 ms, so it may also watch things outside the fake (a job store, another platform's fake).
   */
  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const now = probe();
    if (now) return now;
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (!value) return;
        cleanup();
        resolve(value);
      };
      const poll = setInterval(check, 25);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake Slack: timed out after ${timeoutMs} ms waiting for ${what}; last calls: ${this.calls.slice(-5).map((c) => `${c.method}→${c.status}`).join(', ')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.events.off('change', check);
      };
      this.events.on('change', check);
    });
  }

  // ── what users do ───────────────────────────────────────────────────────────────────────────────────────────

  slashCommand(input: SlashCommandInput): SlashCommandPayload {
    const team = this.#team(input.teamId);
    const channel = input.channelId ?? [...this.channels][0];
    const user = input.userId ?? 'U0000USER1';
    return {
      token: verificationToken,
      team_id: team.id,
      team_domain: team.domain,
      channel_id: channel,
      channel_name: 'general',
      user_id: user,
      user_name: input.userName ?? user.toLowerCase(),
      command: input.command,
      text: input.text ?? '',
      api_app_id: this.appId,
      is_enterprise_install: 'false',
      response_url: this.#newResponseUrl(channel, user),
      trigger_id: triggerId(),
    };
  }

  /** A press of the button `actionId` on a message the app posted; throws if the message has no such button. */
  blockActions(input: { channel: string; ts: string; actionId: string; userId?: string; teamId?: string }): BlockActionsPayload {
    const message = this.message(input.channel, input.ts);
    if (!message) throw new Error(`fake Slack: no message ${input.ts} in ${input.channel}`);
    const found = findButton(message.blocks, input.actionId);
    if (!found) throw new Error(`fake Slack: message ${input.ts} has no button with action_id ${input.actionId}`);
    const team = this.#team(input.teamId);
    const user = input.userId ?? 'U0000USER1';
    const action: ButtonAction = {
      action_id: input.actionId,
      block_id: found.blockId,
      text: found.button.text as ButtonAction['text'],
      ...(found.button.value !== undefined ? { value: String(found.button.value) } : {}),
      ...(found.button.style !== undefined ? { style: String(found.button.style) } : {}),
      type: 'button',
      action_ts: nowTs(),
    };
    return {
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: team.id },
      api_app_id: this.appId,
      token: verificationToken,
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      trigger_id: triggerId(),
      team: { id: team.id, domain: team.domain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: message.channel, name: 'general' },
      message: { type: 'message', user: this.botUserId, bot_id: this.botId, app_id: this.appId, team: team.id, ts: message.ts, text: message.text ?? '', blocks: message.blocks ?? [] },
      state: { values: {} },
      response_url: this.#newResponseUrl(message.channel, user, message.ts),
      actions: [action],
    };
  }

  /** Delivers a payload over Socket Mode; resolves with the ack, or undefined when none came in time. */
  async deliver(payload: SlashCommandPayload | BlockActionsPayload): Promise<Ack | undefined> {
    return this.#socket.send('command' in payload ? 'slash_commands' : 'interactive', payload);
  }

  /** Delivers a payload to an HTTP-mode app, signed like Slack signs it; records the ack and its latency. */
  async deliverHttp(url: string, signingSecret: string, payload: SlashCommandPayload | BlockActionsPayload, options?: SignedPostOptions): Promise<SignedPostResult> {
    const result = await postSigned(url, signingSecret, payload, options);
    const type: EnvelopeType = 'command' in payload ? 'slash_commands' : 'interactive';
    if (result.status === 200) {
      let body: Record<string, unknown> | undefined;
      try {
        body = result.body ? JSON.parse(result.body) : undefined;
      } catch {
        body = { text: result.body };
      }
      if (result.latencyMs > this.ackTimeoutMs) this.#fail('late_ack', `HTTP ${type} acked after ${result.latencyMs} ms`);
      this.#onAck({ envelopeId: `http-${nextId('')}`, type, payload: body, latencyMs: result.latencyMs, receivedAt: Date.now(), attempt: 0 }, payload);
    }
    return result;
  }

  async close(): Promise<void> {
    await this.#socket?.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────────────────────

  #team(id: string | undefined): FakeTeam {
    const team = id === undefined ? this.teams[0] : this.teams.find((t) => t.id === id);
    if (!team) throw new Error(`fake Slack: unknown team ${id}; known: ${this.teams.map((t) => t.id).join(', ')}`);
    return team;
  }

  #newResponseUrl(channel: string, user: string, messageTs?: string): string {
    const id = nextId('R');
    this.responseUrls.set(id, { id, channel, user, messageTs, createdAt: Date.now(), uses: 0 });
    return `${this.url}/response/${id}`;
  }

  #fail(kind: FakeFailure['kind'], detail: string): void {
    this.failures.push({ kind, detail, at: Date.now() });
    this.events.emit('change');
  }

  #onAck(ack: Ack, envelopePayload: unknown): void {
    this.acks.push(ack);
    const body = ack.payload;
    if (ack.type === 'slash_commands' && body && (body.text !== undefined || body.blocks !== undefined)) {
      const verdict = validateArgs('response_url', body);
      if (!verdict.valid) this.#fail('invalid_arguments', `ack payload: ${verdict.errors.join('; ')}`);
      const p = envelopePayload as SlashCommandPayload;
      const text = body.text === undefined ? undefined : String(body.text);
      const blocks = body.blocks as unknown[] | undefined;
      const ephemeralTo = body.response_type === 'in_channel' ? undefined : p.user_id;
      this.messages.push({ channel: p.channel_id, ts: nowTs(), text, blocks, history: [{ at: Date.now(), text, blocks }], via: 'ack', ephemeralTo });
    }
    this.events.emit('change');
  }

  #record(call: FakeCall, res: ServerResponse, status: number, body: Record<string, unknown> | string, headers: Record<string, string> = {}): void {
    call.status = status;
    if (typeof body !== 'string') call.response = body;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8', ...headers }).end(text);
    this.events.emit('change');
  }

  /** Injected faults first, then Slack's own rate limits; true when the call was answered. */
  #edge(method: string, call: FakeCall, res: ServerResponse): boolean {
    const fault = this.#faults.get(method)?.shift();
    if (fault) {
      if (fault.status === 429) this.#record(call, res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(fault.retryAfter ?? 1) });
      else this.#record(call, res, fault.status, `fake Slack: injected ${fault.status}`);
      return true;
    }
    const limit = this.#rateLimits === false ? undefined : this.#rateLimits[method];
    if (limit === undefined) return false;
    const key = `${method}:${String(call.args.team_id ?? this.teams[0].id)}`;
    const now = Date.now();
    const window = (this.#windows.get(key) ?? []).filter((t) => t > now - 60_000);
    if (window.length >= limit) {
      const retryAfter = Math.max(1, Math.ceil((window[0] + 60_000 - now) / 1000));
      this.#fail('rate_limit_exceeded', `${method}: more than ${limit} calls in a minute`);
      this.#record(call, res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
      return true;
    }
    window.push(now);
    this.#windows.set(key, window);
    return false;
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = await readRaw(req);
    const body = await decodeBody(req, raw);
    const token = bearer(req);
    const [, head, ...rest] = url.pathname.split('/');
    if (req.method === 'POST' && head === 'api' && rest.length === 1) return this.#webApi(rest[0], body, token, res);
    if (req.method === 'POST' && head === 'upload') return this.#upload(rest.at(-1) ?? '', body, token, res);
    if (req.method === 'POST' && head === 'response') return this.#responseUrl(rest[0] ?? '', body, res);
    if (req.method === 'GET' && (head === 'files-pri' || head === 'files')) return this.#download(url.pathname, token, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`fake Slack: no route ${req.method} ${url.pathname}`);
  }

  #webApi(method: string, body: DecodedBody, headerToken: string | undefined, res: ServerResponse): void {
    const args = decodeJsonFields(body.args, jsonFields);
    const token = headerToken ?? (typeof args.token === 'string' ? args.token : undefined);
    const call: FakeCall = { method, at: Date.now(), token, contentType: body.contentType, args, status: 0, schemaErrors: [] };
    this.calls.push(call);
    if (this.#edge(method, call, res)) return;
    const handler = methods[method];
    if (!handler) {
      this.#fail('unknown_method', method);
      return this.#record(call, res, 200, { ok: false, error: 'unknown_method' });
    }
    if (body.parseError) return this.#record(call, res, 200, { ok: false, error: 'invalid_form_data', response_metadata: { messages: [body.parseError] } });
    if (token === undefined) return this.#record(call, res, 200, { ok: false, error: 'not_authed' });
    const wantsAppToken = method === 'apps.connections.open';
    if (token === (wantsAppToken ? this.botToken : this.appToken)) return this.#record(call, res, 200, { ok: false, error: 'not_allowed_token_type' });
    if (token !== (wantsAppToken ? this.appToken : this.botToken)) {
      this.#fail('invalid_auth', `${method} with token ${token.slice(0, 10)}…`);
      return this.#record(call, res, 200, { ok: false, error: 'invalid_auth' });
    }
    const verdict = validateArgs(method, args);
    const ruleErrors = blockRuleErrors(args.blocks);
    call.schemaErrors.push(...verdict.errors, ...ruleErrors);
    if (call.schemaErrors.length > 0) {
      const error = verdict.valid || verdict.blocksOnly ? 'invalid_blocks' : 'invalid_arguments';
      this.#fail('invalid_arguments', `${method}: ${call.schemaErrors.join('; ')}`);
      return this.#record(call, res, 200, { ok: false, error, response_metadata: { messages: call.schemaErrors } });
    }
    this.#record(call, res, 200, handler(this.#context(), args));
  }

  #context(): WebApiContext {
    return {
      baseUrl: this.url,
      team: this.teams[0],
      botUserId: this.botUserId,
      botId: this.botId,
      appId: this.appId,
      channels: this.channels,
      admins: this.admins,
      messages: this.messages,
      files: this.files,
      openSocketUrl: () => this.#socket.openUrl(),
      onFailure: (kind, detail) => this.#fail(kind, detail),
    };
  }

  #upload(fileId: string, body: DecodedBody, token: string | undefined, res: ServerResponse): void {
    const part = body.files.find((f) => f.field === 'body') ?? body.files[0];
    const bytes = part?.bytes ?? (body.files.length === 0 && !body.contentType.startsWith('multipart/') ? body.raw : undefined);
    const call: FakeCall = { method: 'upload', at: Date.now(), token, contentType: body.contentType, args: { fileId, field: part?.field, bytes: bytes?.length }, status: 0, schemaErrors: [] };
    this.calls.push(call);
    if (this.#edge('upload', call, res)) return;
    const file = this.files.get(fileId);
    if (!file || file.completed) return this.#record(call, res, 404, 'file not found');
    if (!bytes || bytes.length === 0) return this.#record(call, res, 400, 'no file data');
    if (bytes.length !== file.declaredLength) this.#fail('upload_mismatch', `${fileId}: declared ${file.declaredLength} bytes, uploaded ${bytes.length}`);
    file.bytes = bytes;
    this.#record(call, res, 200, `OK - ${bytes.length}`);
  }

  #responseUrl(id: string, body: DecodedBody, res: ServerResponse): void {
    const call: FakeCall = { method: 'response_url', at: Date.now(), contentType: body.contentType, args: body.args, status: 0, schemaErrors: [] };
    this.calls.push(call);
    if (this.#edge('response_url', call, res)) return;
    const entry = this.responseUrls.get(id);
    // Slack allows 5 uses within 30 minutes (anchors.md §4).
    if (!entry || entry.uses >= 5 || Date.now() - entry.createdAt > 30 * 60_000) {
      this.#fail('response_url_expired', `response_url ${id} (uses ${entry?.uses ?? 'unknown'})`);
      return this.#record(call, res, 404, 'expired_url');
    }
    const verdict = validateArgs('response_url', body.args);
    call.schemaErrors.push(...verdict.errors, ...blockRuleErrors(body.args.blocks));
    if (call.schemaErrors.length > 0 || body.parseError) {
      this.#fail('invalid_arguments', `response_url: ${call.schemaErrors.join('; ') || body.parseError}`);
      return this.#record(call, res, 400, 'invalid_payload');
    }
    entry.uses++;
    const a = body.args;
    const text = a.text === undefined ? undefined : String(a.text);
    const blocks = a.blocks as unknown[] | undefined;
    const original = entry.messageTs ? this.message(entry.channel, entry.messageTs) : undefined;
    if (a.delete_original === true && original) {
      this.messages.splice(this.messages.indexOf(original), 1);
    } else if (a.replace_original === true && original) {
      original.text = text;
      original.blocks = blocks;
      original.history.push({ at: Date.now(), text, blocks });
    } else {
      const ephemeralTo = a.response_type === 'in_channel' ? undefined : entry.user;
      this.messages.push({ channel: entry.channel, ts: nowTs(), text, blocks, history: [{ at: Date.now(), text, blocks }], via: 'response_url', ephemeralTo });
    }
    this.#record(call, res, 200, { ok: true });
  }

  #download(path: string, token: string | undefined, res: ServerResponse): void {
    const id = /(F[A-Z0-9]+)/.exec(path)?.[1];
    const file = id ? this.files.get(id) : undefined;
    if (token !== this.botToken) return void res.writeHead(302, { location: `${this.url}/?redir=login` }).end();
    if (!file?.bytes || !file.completed) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.bytes.readUInt32BE(0) === 0x89504e47 ? 'image/png' : 'application/octet-stream' }).end(file.bytes);
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
  return match?.[1];
}

function findButton(blocks: unknown[] | undefined, actionId: string): { blockId: string; button: Record<string, unknown> } | undefined {
  for (const b of blocks ?? []) {
    const block = b as { type?: string; block_id?: string; elements?: Record<string, unknown>[]; accessory?: Record<string, unknown> };
    const candidates = [...(block.type === 'actions' ? (block.elements ?? []) : []), ...(block.accessory ? [block.accessory] : [])];
    const button = candidates.find((e) => e.type === 'button' && e.action_id === actionId);
    // Slack generates a block_id when the app sets none.
    if (button) return { blockId: block.block_id ?? 'generated', button };
  }
  return undefined;
}
