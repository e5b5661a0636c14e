// The gateway half of the fake: HELLO → IDENTIFY/RESUME → READY/RESUMED, heartbeat ACKs, and test-driven dispatches.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { APIUser } from 'discord-api-types/v10';

interface Session {
  id: string;
  ws: WebSocket | null;
  seq: number;
  /** Sent dispatches, replayed on RESUME. */
  sent: { s: number; t: string; d: unknown }[];
}

export interface GatewayOptions {
  token: string;
  applicationId: string;
  botUser: APIUser;
  heartbeatIntervalMs: number;
  /** ws://host:port/gateway, used for READY's resume_gateway_url. */
  url: () => string;
}

export interface GatewayFrame {
  op: number;
  d: unknown;
  s?: number | null;
  t?: string | null;
}

export class FakeGateway {
  readonly wss = new WebSocketServer({ noServer: true });
  readonly sessions = new Map<string, Session>();
  /** Every frame the bot sent, in order. */
  readonly received: GatewayFrame[] = [];
  heartbeats = 0;
  #readyWaiters: (() => void)[] = [];

  constructor(private readonly options: GatewayOptions) {
    this.wss.on('connection', (ws) => this.#onConnection(ws));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** Identified sessions with an open socket. */
  get liveSessions(): Session[] {
    return [...this.sessions.values()].filter((s) => s.ws && s.ws.readyState === s.ws.OPEN);
  }

  /** Resolves once at least one session is identified and open. */
  waitForReady(): Promise<void> {
    if (this.liveSessions.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Sends a dispatch (op 0) with an increasing sequence number to every live session. */
  dispatch(t: string, d: unknown): void {
    const live = this.liveSessions;
    if (live.length === 0) throw new Error(`Fake gateway: no identified session to dispatch ${t} to; await waitForReady() first`);
    for (const session of live) this.#send(session, t, d);
  }

  /** Asks the client to reconnect and resume (op 7), as Discord does during rolling restarts. */
  requestReconnect(): void {
    for (const s of this.liveSessions) s.ws!.send(JSON.stringify({ op: 7, d: null, s: null, t: null }));
  }

  /**
   * Closes every live connection with a gateway close code, as Discord does: 4000–4003 and 4005–4009 let the client
   * resume or re-identify; 4004 (authentication failed) and 4010–4014 end the session for good.
   */
  closeSessions(code: number, reason = 'closed by the fake'): void {
    for (const s of this.liveSessions) s.ws!.close(code, reason);
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  #send(session: Session, t: string, d: unknown): void {
    const s = ++session.seq;
    session.sent.push({ s, t, d });
    session.ws?.send(JSON.stringify({ op: 0, s, t, d }));
  }

  #onConnection(ws: WebSocket): void {
    let session: Session | undefined;
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.options.heartbeatIntervalMs }, s: null, t: null }));
    ws.on('message', (raw) => {
      let frame: GatewayFrame;
      try {
        frame = JSON.parse(String(raw)) as GatewayFrame;
      } catch {
        ws.close(4002, 'Decode error');
        return;
      }
      this.received.push(frame);
      switch (frame.op) {
        case 1: // heartbeat
          this.heartbeats++;
          ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
          break;
        case 2: {
          const d = frame.d as { token?: string };
          if (d.token !== this.options.token && d.token !== `Bot ${this.options.token}`) {
            ws.close(4004, 'Authentication failed.');
            return;
          }
          session = { id: randomUUID().replaceAll('-', ''), ws, seq: 0, sent: [] };
          this.sessions.set(session.id, session);
          this.#send(session, 'READY', {
            v: 10,
            user: this.options.botUser,
            guilds: [], // listing guilds would make the client wait for GUILD_CREATEs
            session_id: session.id,
            resume_gateway_url: this.options.url(),
            shard: [0, 1],
            application: { id: this.options.applicationId, flags: 0 },
          });
          this.#readyWaiters.splice(0).forEach((f) => f());
          break;
        }
        case 6: {
          const d = frame.d as { token?: string; session_id?: string; seq?: number };
          const old = d.session_id ? this.sessions.get(d.session_id) : undefined;
          if (!old || d.token !== this.options.token) {
            ws.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
            return;
          }
          old.ws = ws;
          session = old;
          for (const e of old.sent.filter((e) => e.s > (d.seq ?? 0))) ws.send(JSON.stringify({ op: 0, ...e }));
          this.#send(old, 'RESUMED', null);
          this.#readyWaiters.splice(0).forEach((f) => f());
          break;
        }
        default:
          break; // presence/voice updates etc. are accepted and ignored
      }
    });
    ws.on('close', () => {
      if (session && session.ws === ws) session.ws = null;
    });
  }
}
