// Graceful shutdown (SIGTERM/SIGINT): stop taking jobs, give the running job a bounded time to finish, otherwise
// store it as queued so it runs again after the restart, then close connections, the store and the engine.
import type { Engine } from '../engine/index.ts';
import type { Core } from './core/create-core.ts';
import type { Health } from './core/health.ts';
import type { Logger } from './core/logger.ts';
import type { Adapter } from './core/types.ts';

export interface ShutdownParts {
  readonly log: Logger;
  readonly health: Health;
  /** How long the running job may take to finish (`SHUTDOWN_GRACE_MS`). */
  readonly graceMs: number;
  readonly core: Core;
  readonly engine: Engine;
  /** Started adapters; stopped in reverse order. */
  readonly adapters: readonly Adapter[];
  /** Called first, to refuse new inputs where an adapter can (the playground answers 503). */
  readonly stopAccepting?: () => void;
}

export interface ShutdownResult {
  /** The running job finished within the grace time (or none was running). */
  readonly drained: boolean;
  /** Jobs that were running and are stored as queued again. */
  readonly requeued: readonly string[];
}

const within = <T>(ms: number, promise: Promise<T>) =>
  Promise.race([promise.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref())]);

export async function shutdown(p: ShutdownParts): Promise<ShutdownResult> {
  const { log, core } = p;
  p.health.stopping();
  p.stopAccepting?.();
  log.info({ graceMs: p.graceMs }, 'shutting down: no new jobs start; waiting for the running one');
  const deadline = Date.now() + p.graceMs;
  // Queued jobs stay in the store as they are and are recovered at the next start.
  const drained = await within(p.graceMs, core.dispatcher.close());
  // A job that just finished may still have its final view (the grid) on the way to its message; the adapters must
  // stay up until it arrives. Bounded by what is left of the grace time, but a job that finished at the last moment
  // still gets up to a second.
  const deliveryMs = Math.max(deadline - Date.now(), Math.min(1_000, p.graceMs));
  if (!(await within(deliveryMs, core.hub.finalsDelivered()))) log.warn({ waitedMs: deliveryMs }, 'a final job view was not delivered before shutdown');
  const requeued: string[] = [];
  if (!drained) {
    for (const job of await core.store.pendingJobs()) {
      if (job.status !== 'running') continue;
      await core.store.updateJob(job.id, (j) => (j.status === 'running' ? { ...j, status: 'queued' } : undefined));
      requeued.push(job.id);
    }
    log.warn({ jobs: requeued }, 'the running job did not finish in time; stored as queued for the next start');
  }
  for (const adapter of [...p.adapters].reverse()) {
    const stopped = await within(5_000, adapter.stop().catch((error: unknown) => log.warn({ adapter: adapter.name, err: error }, 'adapter stop failed')));
    if (!stopped) log.warn({ adapter: adapter.name }, 'adapter did not stop within 5 s');
  }
  // Close the store before the engine: closing the engine aborts a job still running, and that abort must not be
  // written over the `queued` status above.
  await core.store.close().catch((error: unknown) => log.warn({ err: error }, 'store close failed'));
  await within(5_000, p.engine.close().catch(() => {}));
  log.info({ drained, requeued: requeued.length }, 'shut down');
  return { drained, requeued };
}
