import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { createMetrics, observeCore } from '../../../src/core/metrics.ts';
import type { BotCore, CoreEvents, JobRecord } from '../../../src/core/types.ts';

/** Exposition text → samples, e.g. `imagine_jobs_total{platform="web",status="done"}` → 1. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return samples;
}

function job(over: Partial<JobRecord>): JobRecord {
  return {
    id: 'k3f9qz', seq: 1, platform: 'web', guildId: 'g1', channelId: 'c', ownerId: 'u', kind: 'imagine', priority: 0,
    status: 'queued', createdAt: 1_000, attempts: 0, completions: 0,
    params: { prompt: 'fox', negativePrompt: '', width: 64, height: 64, numInferenceSteps: 2, guidanceScale: 7.5, seed: 1, numImagesPerPrompt: 4 },
    ...over,
  };
}

/** The core's event surface and queue depth; metrics only listen, so this is all they can see of a core. */
function fakeCore(depth: { running: number; queued: number; byGuild: Record<string, number> }) {
  const events = new EventEmitter();
  const core = {
    on: (e: keyof CoreEvents, l: (...a: unknown[]) => void) => events.on(e, l),
    off: (e: keyof CoreEvents, l: (...a: unknown[]) => void) => events.off(e, l),
    services: { jobs: { depth: async () => depth } },
  } as unknown as Pick<BotCore, 'on' | 'off' | 'services'>;
  return { core, emit: <E extends keyof CoreEvents>(e: E, ...args: CoreEvents[E]) => events.emit(e, ...args) };
}

test('job lifecycle events become counters and histograms in the exposition text', async () => {
  const metrics = createMetrics({ processMetrics: false });
  const depth: { running: number; queued: number; byGuild: Record<string, number> } = { running: 1, queued: 3, byGuild: { 'web:g1': 2, 'discord:42': 1 } };
  const { core, emit } = fakeCore(depth);
  const stop = observeCore(core, metrics);
  emit('jobQueued', job({}));
  emit('jobStarted', job({ status: 'running' }));
  emit('jobProgress', job({}), 1, 2);
  await new Promise((r) => setTimeout(r, 20));
  emit('jobProgress', job({}), 2, 2);
  emit('jobFinished', job({ status: 'done', finishedAt: 4_000 }));
  emit('jobFinished', job({ id: 'a1b2c3', status: 'failed', finishedAt: 2_000, error: { code: 'sd_engine_worker_crashed', message: 'x' } }));
  emit('jobFinished', job({ id: 'a1b2c4', status: 'failed', error: { code: 'bot_timeout', message: 'x' } }));

  const s = parse(await metrics.text());
  assert.equal(s.get('imagine_jobs_total{platform="web",status="queued"}'), 1);
  assert.equal(s.get('imagine_jobs_total{platform="web",status="running"}'), 1);
  assert.equal(s.get('imagine_jobs_total{platform="web",status="done"}'), 1);
  assert.equal(s.get('imagine_jobs_total{platform="web",status="failed"}'), 2);
  // 3 s from submit to done lands in the le=5 bucket and not in le=2.
  assert.equal(s.get('imagine_job_duration_seconds_bucket{le="2",kind="imagine",status="done"}'), 0);
  assert.equal(s.get('imagine_job_duration_seconds_bucket{le="5",kind="imagine",status="done"}'), 1);
  assert.equal(s.get('imagine_job_duration_seconds_sum{kind="imagine",status="done"}'), 3);
  // Two progress events after the start: two steps, the second at least 20 ms.
  assert.equal(s.get('imagine_step_duration_seconds_count'), 2);
  assert.ok(s.get('imagine_step_duration_seconds_sum')! >= 0.019);
  // Only engine codes count as engine failures.
  assert.equal(s.get('imagine_engine_failures_total{code="sd_engine_worker_crashed"}'), 1);
  assert.equal(s.get('imagine_engine_failures_total{code="bot_timeout"}'), undefined);
  assert.equal(s.get('imagine_queue_depth{guild="web:g1"}'), 2);
  assert.equal(s.get('imagine_queue_depth{guild="discord:42"}'), 1);
  assert.equal(s.get('imagine_jobs_in_flight{status="queued"}'), 3);
  assert.equal(s.get('imagine_jobs_in_flight{status="running"}'), 1);

  // A guild whose queue emptied disappears from the next scrape; unsubscribed events are no longer counted.
  depth.byGuild = { 'web:g1': 1 };
  stop();
  emit('jobQueued', job({}));
  const t = parse(await metrics.text());
  assert.equal(t.get('imagine_queue_depth{guild="discord:42"}'), undefined);
  assert.equal(t.get('imagine_queue_depth{guild="web:g1"}'), undefined, 'no source after stop');
  assert.equal(t.get('imagine_jobs_total{platform="web",status="queued"}'), 1);
});

test('acknowledgement latency and rate-limit hits are per platform, exported at zero before the first', async () => {
  const metrics = createMetrics({ processMetrics: false });
  let s = parse(await metrics.text());
  for (const p of ['discord', 'slack', 'web']) {
    assert.equal(s.get(`imagine_rate_limit_hits_total{platform="${p}"}`), 0);
    assert.equal(s.get(`imagine_ack_latency_seconds_count{platform="${p}"}`), 0);
  }
  metrics.recordAck('discord', 30);
  metrics.recordAck('discord', 700);
  metrics.recordRateLimit('slack');
  metrics.recordRateLimit('slack');
  s = parse(await metrics.text());
  assert.equal(s.get('imagine_ack_latency_seconds_count{platform="discord"}'), 2);
  assert.equal(s.get('imagine_ack_latency_seconds_bucket{le="0.05",platform="discord"}'), 1);
  assert.equal(s.get('imagine_ack_latency_seconds_bucket{le="1",platform="discord"}'), 2);
  assert.ok(Math.abs(s.get('imagine_ack_latency_seconds_sum{platform="discord"}')! - 0.73) < 1e-9);
  assert.equal(s.get('imagine_rate_limit_hits_total{platform="slack"}'), 2);
  assert.equal(s.get('imagine_rate_limit_hits_total{platform="discord"}'), 0);
});

test('process metrics are included by default, and each registry is separate', async () => {
  const a = parse(await createMetrics().text());
  assert.ok([...a.keys()].some((k) => k.startsWith('process_cpu_user_seconds_total')));
  const b = createMetrics({ processMetrics: false });
  b.recordRateLimit('web');
  const c = parse(await createMetrics({ processMetrics: false }).text());
  assert.equal(c.get('imagine_rate_limit_hits_total{platform="web"}'), 0);
});
