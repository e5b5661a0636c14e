// Jobs, their images, settings and the ordered index of pending jobs, in keyv: SQLite in a file under DATA_DIR by
// default, Redis when REDIS_URL is set. Writes go through one in-process lock, so read-modify-write updates and the
// pending index stay consistent (one bot process per store; a multi-process backend would need atomic ops).
//
// Crash safety: a new job is added to the pending index before its record is written, and leaves the index only
// after its final status is written. Recovery therefore sees every unfinished job and skips ids without a record.
//
// Retention: a job that reaches a final status is also listed in the bucket of the UTC day it finished
// (`index:finished:<day>`), so pruning reads only the buckets of expired days instead of scanning every image.
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
const DAY_MS = 86_400_000;
const FINISHED = 'index:finished:'; // + UTC day number → [jobId, finishedAt][]
const FINISHED_FROM = 'meta:finished-from-day'; // the oldest day that may still have a bucket
const FINISHED_INDEXED = 'meta:finished-indexed'; // set once jobs finished before the index existed are listed

type FinishedEntry = [id: string, at: number];

function isFinal(job: JobRecord): boolean {
  return job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';
}

/** When a final job counts as finished: its `finishedAt`, else (older records) its creation. */
function finishedAt(job: JobRecord): number {
  return job.finishedAt ?? job.createdAt;
}

export interface JobStoreOptions {
  /** Folder for `imagine-bot.sqlite`. */
  readonly dataDir: string;
  /** When set, Redis instead of SQLite. */
  readonly redisUrl?: string | undefined;
  /** Called with store errors that keyv reports as events. */
  readonly onError?: (error: unknown) => void;
  /** Clock for retention; tests inject one. @default Date.now */
  readonly now?: () => number;
}

export class JobStore {
  readonly #keyv: Keyv;
  #lock: Promise<unknown> = Promise.resolve();
  #seq: number | undefined;
  readonly #now: () => number;

  /** `ready`: set-up that must finish before the first write and before closing. */
  constructor(keyv: Keyv, ready: Promise<unknown> = Promise.resolve(), now: () => number = Date.now) {
    this.#keyv = keyv;
    this.#lock = ready.catch(() => undefined);
    this.#now = now;
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
      if (isFinal(next) && !isFinal(job)) await this.#listFinished([[id, finishedAt(next)]]);
      if (isFinal(next)) {
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

  /** Add entries to their day buckets (skipping ids already listed). Call inside `#exclusive`. */
  async #listFinished(entries: readonly FinishedEntry[]): Promise<void> {
    const byDay = new Map<number, FinishedEntry[]>();
    for (const entry of entries) {
      const day = Math.floor(entry[1] / DAY_MS);
      byDay.set(day, [...(byDay.get(day) ?? []), entry]);
    }
    for (const [day, added] of byDay) {
      const bucket = (await this.#keyv.get<FinishedEntry[]>(`${FINISHED}${day}`)) ?? [];
      const known = new Set(bucket.map(([id]) => id));
      const fresh = added.filter(([id]) => !known.has(id));
      if (fresh.length > 0) await this.#keyv.set(`${FINISHED}${day}`, [...bucket, ...fresh]);
    }
    const from = await this.#keyv.get<number>(FINISHED_FROM);
    const oldest = Math.min(...byDay.keys());
    if (byDay.size > 0 && (from === undefined || oldest < from)) await this.#keyv.set(FINISHED_FROM, oldest);
  }

  /**
   * List jobs that finished before the day index existed, once per store. Scans every key (images included) with
   * keyv's iterator outside the write lock, so the bot keeps working while an old store is indexed.
   */
  async #indexOldJobs(): Promise<void> {
    if (await this.#keyv.get<boolean>(FINISHED_INDEXED)) return;
    const found: FinishedEntry[] = [];
    if (this.#keyv.iterator) {
      for await (const [key, value] of this.#keyv.iterator(undefined)) {
        const job = value as JobRecord | undefined;
        if (typeof key === 'string' && key.startsWith('job:') && job && isFinal(job)) found.push([job.id, finishedAt(job)]);
      }
    }
    await this.#exclusive(async () => {
      await this.#listFinished(found);
      await this.#keyv.set(FINISHED_INDEXED, true);
    });
  }

  /**
   * Delete finished (done/failed/cancelled) jobs that finished more than `maxAgeMs` ago, with their images and grid.
   * Queued and running jobs are never deleted. Returns the number of jobs deleted.
   */
  async pruneFinished(maxAgeMs: number): Promise<number> {
    await this.#indexOldJobs();
    const cutoff = this.#now() - maxAgeMs;
    const from = await this.#keyv.get<number>(FINISHED_FROM);
    if (from === undefined) return 0;
    const lastDay = Math.floor(cutoff / DAY_MS);
    let deleted = 0;
    let oldestLeft: number | undefined;
    // One bucket per lock turn: new jobs are not held up by a long prune.
    for (let day = from; day <= lastDay; day++) {
      deleted += await this.#exclusive(async () => {
        const bucket = await this.#keyv.get<FinishedEntry[]>(`${FINISHED}${day}`);
        if (!bucket) return 0;
        const keep: FinishedEntry[] = [];
        let gone = 0;
        for (const entry of bucket) {
          if (entry[1] >= cutoff) keep.push(entry);
          else if (await this.#deleteJob(entry[0])) gone++;
        }
        if (keep.length > 0) await this.#keyv.set(`${FINISHED}${day}`, keep);
        else await this.#keyv.delete(`${FINISHED}${day}`);
        if (keep.length > 0) oldestLeft ??= day;
        return gone;
      });
    }
    await this.#exclusive(async () => {
      // Only move forward: a concurrent finish with an older stamp has already lowered it itself.
      const now = await this.#keyv.get<number>(FINISHED_FROM);
      const next = oldestLeft ?? lastDay + 1;
      if (now === from && next > from) await this.#keyv.set(FINISHED_FROM, next);
    });
    return deleted;
  }

  /** Delete one final job's record, images and grid; false when it is gone or (again) unfinished. */
  async #deleteJob(id: string): Promise<boolean> {
    const job = await this.#keyv.get<JobRecord>(`job:${id}`);
    if (!job || !isFinal(job)) return false;
    // Images are stored 1..n without gaps; the bound only guards against a corrupt record.
    for (let i = 1; i <= 64 && (await this.#keyv.delete(`image:${id}:${i}`)); i++);
    await this.#keyv.delete(`image:${id}:grid:1`);
    await this.#keyv.delete(`job:${id}`);
    return true;
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
  return new JobStore(keyv, ready, options.now);
}
