// Keeps the store bounded: finished jobs older than JOB_RETENTION_DAYS are deleted with their images, once at start
// and then hourly. The timer is unref'd so it never keeps the process alive; prunes never overlap.
import type { JobStore } from './job-store.ts';
import type { Logger } from './logger.ts';

const DAY_MS = 86_400_000;

export interface JobRetentionOptions {
  readonly store: JobStore;
  /** Days a finished job is kept; 0 keeps everything. */
  readonly retentionDays: number;
  readonly log: Logger;
  /** @default 3_600_000 (hourly) */
  readonly intervalMs?: number;
}

export interface JobRetention {
  /** Resolves with the number of jobs the latest prune deleted. */
  pruneNow(): Promise<number>;
  /** Stop the timer and wait for a prune in progress (call before closing the store). */
  stop(): Promise<void>;
}

/** The user-facing sentence for a button whose job is gone, naming the retention when there is one. */
export function missingJobMessage(jobId: string, retentionDays: number, imagine: string): string {
  return retentionDays > 0
    ? `Job \`${jobId}\` no longer exists: finished jobs are deleted after ${retentionDays} day${retentionDays === 1 ? '' : 's'}. Run ${imagine} again.`
    : `Job \`${jobId}\` no longer exists, so this button can't do anything.`;
}

export function startJobRetention(options: JobRetentionOptions): JobRetention {
  const { store, retentionDays, log } = options;
  let running: Promise<number> | undefined;
  const pruneNow = (): Promise<number> => {
    if (retentionDays <= 0) return Promise.resolve(0);
    running ??= store
      .pruneFinished(retentionDays * DAY_MS)
      .then((deleted) => {
        if (deleted > 0) log.info({ deleted, retentionDays }, 'deleted finished jobs past the retention');
        return deleted;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const safely = () => void pruneNow().catch((error: unknown) => log.warn({ err: error }, 'pruning old jobs failed; retrying at the next interval'));
  if (retentionDays <= 0) return { pruneNow, stop: async () => undefined };
  safely();
  const timer = setInterval(safely, options.intervalMs ?? 3_600_000);
  timer.unref();
  return {
    pruneNow,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
