// Prometheus metrics (prom-client), in one registry that the core and every adapter record into. Adapters reach it
// through `botMetrics()` (or an injected `BotMetrics`), so nothing here imports an adapter. Job-level figures come
// from the core's lifecycle events (`observeCore`), so the dispatcher needs no metrics code of its own.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BotCore, JobRecord, Platform } from './types.ts';

export interface BotMetrics {
  readonly registry: Registry;
  /** Job state transitions: queued, running, done, failed, cancelled. */
  readonly jobs: Counter<'platform' | 'status'>;
  /** Submit-to-finish time of finished jobs, seconds. */
  readonly jobDuration: Histogram<'kind' | 'status'>;
  /** Wall time of one denoising step as seen by the core (progress event to progress event), seconds. */
  readonly stepDuration: Histogram;
  /** Input received → acknowledged on the platform (Discord defer, Slack ack, web 202), seconds. */
  readonly ackLatency: Histogram<'platform'>;
  /** 429s (or the platform's equivalent) the bot received. */
  readonly rateLimitHits: Counter<'platform'>;
  /** Jobs failed by the engine (model errors, worker crashes), by error code. */
  readonly engineFailures: Counter<'code'>;
  /** Queued jobs per guild (`platform:guildId`), read from the queue at scrape time. */
  readonly queueDepth: Gauge<'guild'>;
  /** Jobs queued and running right now. */
  readonly jobsInFlight: Gauge<'status'>;
  /** Record an acknowledgement that took `ms` milliseconds. */
  recordAck(platform: Platform, ms: number): void;
  /** Record one rate-limit response from a platform. */
  recordRateLimit(platform: Platform): void;
  /** Where the depth gauges read the queue at scrape time (`observeCore` sets it; undefined stops reading). */
  readQueueFrom(source: DepthSource | undefined): void;
  /** Prometheus exposition text. */
  text(): Promise<string>;
}

export interface MetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event-loop lag). @default true */
  readonly processMetrics?: boolean;
}

export type DepthSource = () => Promise<{ readonly running: number; readonly queued: number; readonly byGuild: Readonly<Record<string, number>> }>;

export function createMetrics(options: MetricsOptions = {}): BotMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let depthSource: DepthSource | undefined;
  // `text()` reads the queue once per scrape; both gauges show that one snapshot.
  let depth: Awaited<ReturnType<DepthSource>> | undefined;

  const queueDepth = new Gauge({
    name: 'imagine_queue_depth',
    help: 'Queued jobs per guild/workspace (platform:guildId).',
    labelNames: ['guild'] as const,
    registers,
    collect() {
      this.reset(); // guilds whose queue emptied disappear
      for (const [guild, n] of Object.entries(depth?.byGuild ?? {})) this.set({ guild }, n);
    },
  });
  const jobsInFlight = new Gauge({
    name: 'imagine_jobs_in_flight',
    help: 'Jobs queued or running right now.',
    labelNames: ['status'] as const,
    registers,
    collect() {
      this.set({ status: 'queued' }, depth?.queued ?? 0);
      this.set({ status: 'running' }, depth?.running ?? 0);
    },
  });

  const metrics: BotMetrics = {
    registry,
    jobs: new Counter({ name: 'imagine_jobs_total', help: 'Job state transitions by platform and status.', labelNames: ['platform', 'status'] as const, registers }),
    jobDuration: new Histogram({
      name: 'imagine_job_duration_seconds',
      help: 'Time from submit to a final status, by job kind and final status.',
      labelNames: ['kind', 'status'] as const,
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    }),
    stepDuration: new Histogram({
      name: 'imagine_step_duration_seconds',
      help: 'Wall time of one denoising step.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    }),
    ackLatency: new Histogram({
      name: 'imagine_ack_latency_seconds',
      help: 'Time from receiving an input to acknowledging it on its platform.',
      labelNames: ['platform'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    rateLimitHits: new Counter({ name: 'imagine_rate_limit_hits_total', help: 'Rate-limit (429) responses received, by platform.', labelNames: ['platform'] as const, registers }),
    engineFailures: new Counter({ name: 'imagine_engine_failures_total', help: 'Jobs failed by the engine, by error code.', labelNames: ['code'] as const, registers }),
    queueDepth,
    jobsInFlight,
    recordAck(platform, ms) {
      this.ackLatency.observe({ platform }, ms / 1000);
    },
    recordRateLimit(platform) {
      this.rateLimitHits.inc({ platform });
    },
    async text() {
      depth = depthSource ? await depthSource().catch(() => undefined) : undefined;
      return registry.metrics();
    },
    readQueueFrom(source) {
      depthSource = source;
    },
  };
  // Platforms appear at 0 so a dashboard can tell "none yet" from "not exported".
  for (const platform of ['discord', 'slack', 'web'] as const) {
    metrics.rateLimitHits.inc({ platform }, 0);
    metrics.ackLatency.zero({ platform });
  }
  return metrics;
}

let shared: BotMetrics | undefined;

/** The process-wide registry that `src/main.ts` serves on /metrics; adapters record into it. */
export function botMetrics(): BotMetrics {
  shared ??= createMetrics();
  return shared;
}

/**
 * Record the core's job lifecycle into `metrics`: transitions, durations, step times, engine failures, and the queue
 * depth at scrape time. Returns a function that stops recording.
 */
export function observeCore(core: Pick<BotCore, 'on' | 'off' | 'services'>, metrics: BotMetrics = botMetrics()): () => void {
  const lastStepAt = new Map<string, number>();
  const onQueued = (job: JobRecord) => metrics.jobs.inc({ platform: job.platform, status: 'queued' });
  const onStarted = (job: JobRecord) => {
    metrics.jobs.inc({ platform: job.platform, status: 'running' });
    lastStepAt.set(job.id, performance.now());
  };
  const onProgress = (job: JobRecord) => {
    const now = performance.now();
    const last = lastStepAt.get(job.id);
    // The first step also carries prompt encoding; it is still the best per-step figure the core can see.
    if (last !== undefined) metrics.stepDuration.observe((now - last) / 1000);
    lastStepAt.set(job.id, now);
  };
  const onFinished = (job: JobRecord) => {
    lastStepAt.delete(job.id);
    metrics.jobs.inc({ platform: job.platform, status: job.status });
    const end = job.finishedAt ?? Date.now();
    metrics.jobDuration.observe({ kind: job.kind, status: job.status }, Math.max(0, end - job.createdAt) / 1000);
    const code = job.error?.code;
    if (job.status === 'failed' && code !== undefined && code.startsWith('sd_engine')) metrics.engineFailures.inc({ code });
  };
  core.on('jobQueued', onQueued);
  core.on('jobStarted', onStarted);
  core.on('jobProgress', onProgress);
  core.on('jobFinished', onFinished);
  metrics.readQueueFrom(() => core.services.jobs.depth());
  return () => {
    core.off('jobQueued', onQueued);
    core.off('jobStarted', onStarted);
    core.off('jobProgress', onProgress);
    core.off('jobFinished', onFinished);
    metrics.readQueueFrom(undefined);
  };
}
