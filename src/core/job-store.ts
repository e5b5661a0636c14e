// Jobs, their images, settings and the ordered index of pending jobs, in keyv: SQLite in a file under DATA_DIR by
// default, Redis when REDIS_URL is set. Writes go through one in-process lock, so read-modify-write updates and the
// pending index stay consistent (one bot process per store; a multi-process backend would need atomic ops).
//
// Crash safety: a new job is added to the pending index before its record is written, and leaves the index only
// after its final status is written. Recovery therefore sees every unfinished job and skips ids without a record.
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import type { GenerationDefaults, GuildSettings, JobRecord, Platform } from './types.ts';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case
const PENDING = 'index:pending';
const SEQ = 'meta:seq';

export interface JobStoreOptions {
  /** Folder for `imagine-bot.sqlite`. */
  readonly dataDir: string;
  /** When set, Redis instead of SQLite. */
  readonly redisUrl?: string | undefined;
  /** Called with store errors that keyv reports as events. */
  readonly onError?: (error: unknown) => void;
}

export class JobStore {
  readonly #keyv: Keyv;
  #lock: Promise<unknown> = Promise.resolve();
  #seq: number | undefined;

  /** `ready`: set-up that must finish before the first write and before closing. */
  constructor(keyv: Keyv, ready: Promise<unknown> = Promise.resolve()) {
    this.#keyv = keyv;
    this.#lock = ready.catch(() => undefined);
  }

  /** Serialise writes: each `fn` runs after the previous one settled. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** A fresh short id, e.g. `k3f9qz`. */
  async newJobId(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const length = attempt < 5 ? 6 : 8;
      const id = Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
      if (!(await this.#keyv.has(`job:${id}`))) return id;
    }
  }

  /** The next value of the global submit order; survives restarts. */
  nextSeq(): Promise<number> {
    return this.#exclusive(async () => {
      this.#seq ??= (await this.#keyv.get<number>(SEQ)) ?? 0;
      this.#seq += 1;
      await this.#keyv.set(SEQ, this.#seq);
      return this.#seq;
    });
  }

  /** Store a new queued job and add it to the pending index (index first: see the header). */
  createJob(job: JobRecord): Promise<void> {
    return this.#exclusive(async () => {
      const pending = (await this.#keyv.get<string[]>(PENDING)) ?? [];
      pending.push(job.id);
      await this.#keyv.set(PENDING, pending);
      await this.#keyv.set(`job:${job.id}`, job);
    });
  }

  getJob(id: string): Promise<JobRecord | undefined> {
    return this.#keyv.get<JobRecord>(`job:${id}`);
  }

  /**
   * Read-modify-write one job. A job that reaches a final status leaves the pending index. `update` may return
   * undefined to leave the job unchanged (e.g. it is already final).
   */
  updateJob(id: string, update: (job: JobRecord) => JobRecord | undefined): Promise<JobRecord | undefined> {
    return this.#exclusive(async () => {
      const job = await this.#keyv.get<JobRecord>(`job:${id}`);
      if (!job) return undefined;
      const next = update(job);
      if (!next) return job;
      await this.#keyv.set(`job:${id}`, next);
      if (next.status === 'done' || next.status === 'failed' || next.status === 'cancelled') {
        const pending = (await this.#keyv.get<string[]>(PENDING)) ?? [];
        const at = pending.indexOf(id);
        if (at >= 0) {
          pending.splice(at, 1);
          await this.#keyv.set(PENDING, pending);
        }
      }
      return next;
    });
  }

  /** Unfinished jobs (queued or running when the process stopped), in submit order. Drops dangling index ids. */
  pendingJobs(): Promise<JobRecord[]> {
    return this.#exclusive(async () => {
      const ids = (await this.#keyv.get<string[]>(PENDING)) ?? [];
      const jobs: JobRecord[] = [];
      for (const id of ids) {
        const job = await this.#keyv.get<JobRecord>(`job:${id}`);
        if (job && (job.status === 'queued' || job.status === 'running')) jobs.push(job);
      }
      if (jobs.length !== ids.length) await this.#keyv.set(PENDING, jobs.map((j) => j.id));
      return jobs.sort((a, b) => a.seq - b.seq);
    });
  }

  /** Store a finished job's images (PNG), 1-based by index. */
  async putImages(jobId: string, pngs: readonly Uint8Array[]): Promise<void> {
    for (let i = 0; i < pngs.length; i++) {
      await this.#keyv.set(`image:${jobId}:${i + 1}`, Buffer.from(pngs[i]).toString('base64'));
    }
  }

  async getImage(jobId: string, index: number): Promise<Uint8Array | undefined> {
    const base64 = await this.#keyv.get<string>(`image:${jobId}:${index}`);
    return base64 === undefined ? undefined : new Uint8Array(Buffer.from(base64, 'base64'));
  }

  async userSettings(platform: Platform, userId: string): Promise<GenerationDefaults> {
    return (await this.#keyv.get<GenerationDefaults>(`settings:user:${platform}:${userId}`)) ?? {};
  }

  async guildSettings(platform: Platform, guildId: string): Promise<GuildSettings> {
    return (await this.#keyv.get<GuildSettings>(`settings:guild:${platform}:${guildId}`)) ?? {};
  }

  async setUserSettings(platform: Platform, userId: string, value: GenerationDefaults): Promise<void> {
    await this.#keyv.set(`settings:user:${platform}:${userId}`, value);
  }

  async setGuildSettings(platform: Platform, guildId: string, value: GuildSettings): Promise<void> {
    await this.#keyv.set(`settings:guild:${platform}:${guildId}`, value);
  }

  /** The queue's moving average of ms per unit of work, kept so ETAs are known right after a restart. */
  async msPerUnit(): Promise<number | undefined> {
    return this.#keyv.get<number>('meta:ms-per-unit');
  }

  setMsPerUnit(value: number): Promise<void> {
    return this.#exclusive(async () => {
      await this.#keyv.set('meta:ms-per-unit', value);
    });
  }

  /** Wait for queued writes, then close the connection. */
  async close(): Promise<void> {
    await this.#exclusive(async () => undefined);
    await this.#keyv.disconnect();
  }
}

/** The SQLite file used under `dataDir`. */
export function sqlitePath(dataDir: string): string {
  return resolve(join(dataDir, 'imagine-bot.sqlite'));
}

export function openJobStore(options: JobStoreOptions): JobStore {
  let keyv: Keyv;
  let ready: Promise<unknown> = Promise.resolve();
  if (options.redisUrl) {
    keyv = new Keyv({ store: new KeyvRedis(options.redisUrl), namespace: 'imagine-bot' });
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    const sqlite = new KeyvSqlite({ uri: `sqlite://${sqlitePath(options.dataDir)}`, busyTimeout: 5000 });
    // WAL with synchronous=NORMAL survives a killed process (only a power cut can lose the last commits) and
    // makes each write several times cheaper than the default rollback journal.
    ready = sqlite.query('PRAGMA journal_mode=WAL').then(() => sqlite.query('PRAGMA synchronous=NORMAL'));
    ready.catch((error: unknown) => options.onError?.(error));
    keyv = new Keyv({ store: sqlite, namespace: 'imagine-bot' });
  }
  keyv.on('error', (error: unknown) => options.onError?.(error));
  return new JobStore(keyv, ready);
}
