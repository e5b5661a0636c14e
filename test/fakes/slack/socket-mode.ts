// Socket Mode on the fake: one-time tickets from apps.connections.open, `hello` on connect, envelopes pushed to the
// app, and acks timed against Slack's 3 s window. @slack/socket-mode never enforces that window itself (pitfall 13).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { nextId } from './payloads.ts';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Ack {
  readonly envelopeId: string;
  readonly type: EnvelopeType;
  /** What the app put in the ack frame's `payload` (Bolt sends `{}` for a bare `ack()`). */
  readonly payload: Record<string, unknown> | undefined;
  readonly latencyMs: number;
  /** When the fake received it (ms since the epoch). */
  readonly receivedAt: number;
  /** The attempt that was acked: 0 for the first delivery. */
  readonly attempt: number;
}

export interface SocketModeOptions {
  readonly ackTimeoutMs: number;
  /**
   * Which envelope types are redelivered when the ack window passes. Slack retries Events API envelopes (up to 3
   * times); a slash command or interaction that is not acked shows the user `operation_timeout` instead.
   */
  readonly retryTypes: ReadonlySet<EnvelopeType>;
  readonly maxRetries: number;
  readonly appId: string;
  readonly onFailure: (kind: 'late_ack' | 'missing_ack' | 'unexpected_ack', detail: string) => void;
  readonly onAck: (ack: Ack, body: unknown) => void;
}

interface Pending {
  readonly envelopeId: string;
  readonly type: EnvelopeType;
  readonly payload: unknown;
  sentAt: number;
  attempt: number;
  timer?: NodeJS.Timeout;
  expired: boolean;
  readonly settle: (ack: Ack | undefined) => void;
}

export class SocketModeHub {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #tickets = new Set<string>();
  readonly #sockets: WebSocket[] = [];
  readonly #pending = new Map<string, Pending>();
  readonly #waiters: (() => void)[] = [];
  /** Every frame the app sent, parsed. */
  readonly received: unknown[] = [];
  connections = 0;

  constructor(
    readonly baseWsUrl: string,
    readonly options: SocketModeOptions,
  ) {}

  /** A one-time URL, like `wss://wss-primary.slack.com/link/?ticket=…&app_id=…`. */
  openUrl(): string {
    const ticket = nextId('tk').toLowerCase();
    this.#tickets.add(ticket);
    return `${this.baseWsUrl}/link/?ticket=${ticket}&app_id=${this.options.appId}`;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !this.#tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
  }

  #accept(ws: WebSocket): void {
    this.connections++;
    this.#sockets.push(ws);
    ws.on('message', (data) => this.#onFrame(String(data)));
    ws.on('close', () => {
      const i = this.#sockets.indexOf(ws);
      if (i >= 0) this.#sockets.splice(i, 1);
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.#sockets.length, debug_info: { host: 'fake-slack', approximate_connection_time: 18060 }, connection_info: { app_id: this.options.appId } }));
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #onFrame(text: string): void {
    let frame: { envelope_id?: string; payload?: Record<string, unknown> };
    try {
      frame = JSON.parse(text);
    } catch {
      this.options.onFailure('unexpected_ack', `not JSON: ${text.slice(0, 100)}`);
      return;
    }
    this.received.push(frame);
    const pending = frame.envelope_id ? this.#pending.get(frame.envelope_id) : undefined;
    if (!pending) {
      this.options.onFailure('unexpected_ack', `ack for unknown envelope ${frame.envelope_id}`);
      return;
    }
    const latencyMs = Date.now() - pending.sentAt;
    clearTimeout(pending.timer);
    this.#pending.delete(pending.envelopeId);
    if (pending.expired || latencyMs > this.options.ackTimeoutMs) {
      this.options.onFailure('late_ack', `${pending.type} envelope ${pending.envelopeId} acked after ${latencyMs} ms`);
    }
    const ack: Ack = { envelopeId: pending.envelopeId, type: pending.type, payload: frame.payload, latencyMs, receivedAt: Date.now(), attempt: pending.attempt };
    this.options.onAck(ack, pending.payload);
    // A late ack of a redelivered envelope does not stand for the redelivery.
    if (!pending.expired) pending.settle(ack);
  }

  /** Resolves once a socket that got `hello` is open. */
  async connected(timeoutMs = 5000): Promise<void> {
    if (this.#live()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake Slack: no Socket Mode connection (did the app start?)')), timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #live(): WebSocket | undefined {
    return this.#sockets.findLast((s) => s.readyState === WebSocket.OPEN);
  }

  /** Pushes an envelope; resolves with the ack, or undefined once the ack window (and any retries) passed. */
  async send(type: EnvelopeType, payload: unknown): Promise<Ack | undefined> {
    await this.connected();
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ack: Ack | undefined) => {
        if (!settled) resolve(ack);
        settled = true;
      };
      const pending: Pending = { envelopeId: crypto.randomUUID(), type, payload, sentAt: 0, attempt: 0, expired: false, settle };
      this.#pending.set(pending.envelopeId, pending);
      this.#deliver(pending);
    });
  }

  #deliver(p: Pending): void {
    const ws = this.#live();
    p.sentAt = Date.now();
    ws?.send(
      JSON.stringify({
        envelope_id: p.envelopeId,
        type: p.type,
        payload: p.payload,
        accepts_response_payload: p.type === 'slash_commands',
        ...(p.attempt > 0 ? { retry_attempt: p.attempt, retry_reason: 'timeout' } : {}),
      }),
    );
    p.timer = setTimeout(() => {
      this.options.onFailure('missing_ack', `${p.type} envelope ${p.envelopeId} not acked within ${this.options.ackTimeoutMs} ms (attempt ${p.attempt})`);
      // Kept in #pending so a later ack is still recorded, as late.
      p.expired = true;
      if (this.options.retryTypes.has(p.type) && p.attempt < this.options.maxRetries) {
        // A redelivery is a new envelope carrying the same payload.
        const retry: Pending = { ...p, envelopeId: crypto.randomUUID(), attempt: p.attempt + 1, expired: false, timer: undefined };
        this.#pending.set(retry.envelopeId, retry);
        this.#deliver(retry);
        return;
      }
      p.settle(undefined);
    }, this.options.ackTimeoutMs);
  }

  /** Asks the app to reconnect, as Slack does when it rotates connections. */
  disconnectAll(reason = 'refresh_requested'): void {
    for (const ws of this.#sockets) ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-slack' } }));
  }

  async close(): Promise<void> {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    // Give clients the close handshake (pitfall 12), then cut what is left.
    const open = this.#sockets.filter((s) => s.readyState === WebSocket.OPEN);
    await Promise.all(
      open.map(
        (ws) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              ws.terminate();
              resolve();
            }, 500);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(1001, 'fake Slack closing');
          }),
      ),
    );
    this.#wss.close();
  }
}
