// Every REST request the bot makes, as tests want to see it: decoded path, parsed body, uploaded files with bytes.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';

export interface RecordedFile {
  /** Multipart field name, e.g. `files[0]`. */
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedRequest {
  seq: number;
  /** Fake-clock time the request arrived (ms), taken before its body was read. */
  at: number;
  method: string;
  /** Path below `/api/v10`, each segment decoded (`%40original` → `@original`). */
  path: string;
  /** Matched route, e.g. `PATCH /webhooks/:app/:token/messages/:message`; `undefined` for unknown routes. */
  route?: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the parsed `payload_json` of a multipart body. */
  body: unknown;
  files: RecordedFile[];
  /** Schema problems found in `body` (empty = valid against Discord's spec). */
  schemaErrors: string[];
  /** Filled in once the fake answered. */
  status?: number;
  response?: unknown;
}

export type RequestFilter = Partial<Pick<RecordedRequest, 'method' | 'route'>> | ((r: RecordedRequest) => boolean);

export class Recorder extends EventEmitter {
  readonly all: RecordedRequest[] = [];

  add(r: RecordedRequest): void {
    this.all.push(r);
  }

  /** Called when the response for `r` is known; waiters are woken then so they see the status. */
  answered(r: RecordedRequest): void {
    this.emit('answered', r);
  }

  list(filter?: RequestFilter): RecordedRequest[] {
    if (!filter) return [...this.all];
    if (typeof filter === 'function') return this.all.filter(filter);
    return this.all.filter((r) => (!filter.method || r.method === filter.method) && (!filter.route || r.route === filter.route));
  }

  /** Resolves with the first answered request (past or future) matching `filter`; rejects after `timeoutMs`. */
  waitFor(filter: RequestFilter, timeoutMs = 5000): Promise<RecordedRequest> {
    const match = (r: RecordedRequest) => r.status !== undefined && this.list(filter).includes(r);
    const past = this.all.find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const onAnswered = (r: RecordedRequest) => {
        if (!match(r)) return;
        clearTimeout(timer);
        this.off('answered', onAnswered);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.off('answered', onAnswered);
        const seen = this.all.map((r) => `${r.method} ${r.path} → ${r.status}`).slice(-15).join('\n  ');
        reject(new Error(`Fake Discord: no request matching the filter within ${timeoutMs} ms. Last requests:\n  ${seen}`));
      }, timeoutMs);
      this.on('answered', onAnswered);
    });
  }
}
