// A real playground in this process: the real engine on a model folder, a real SQLite store in a temp folder, the
// real core and commands, and the web adapter on a free port. Plus a small SSE client for HTTP-level tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, handleButton, isEphemeralAction } from '../../../commands/index.ts';
import { defaultConfig } from '../../../config/defaults.ts';
import { createEngine, type Engine, type GenerateOptions, type GenerateResult } from '../../../engine/index.ts';
import { type CoreConfig, createCore } from '../../../src/core/create-core.ts';
import { Health } from '../../../src/core/health.ts';
import { openJobStore } from '../../../src/core/job-store.ts';
import { createLogger } from '../../../src/core/logger.ts';
import { createMetrics, observeCore } from '../../../src/core/metrics.ts';
import { createWebAdapter } from '../../../src/adapters/web/index.ts';

export const fixtureModel = join(import.meta.dirname, '../../fixtures/models/tiny-sd');

/**
 * The real engine behind a gate: while held, a generation waits before it starts. Tests use it to keep a job
 * "running" while they queue others, so queue order does not depend on how fast this machine is.
 */
export class GatedEngine implements Engine {
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  /** Called on every step as the engine reports it (before the core sees it), for tests that act mid-job. */
  onStep: ((options: GenerateOptions, step: number) => void) | undefined;
  constructor(readonly inner: Engine) {}
  get info() {
    return this.inner.info;
  }
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open();
  }
  async generate(options: GenerateOptions): Promise<GenerateResult> {
    await this.#gate;
    const { onProgress } = options;
    return this.inner.generate({
      ...options,
      onProgress: (progress) => {
        this.onStep?.(options, progress.step);
        onProgress?.(progress);
      },
    });
  }
  close(): Promise<void> {
    this.release();
    return this.inner.close();
  }
}

export async function startPlayground(options: { modelDir?: string; config?: Partial<CoreConfig>; minEditIntervalMs?: number } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-web-'));
  const engine = new GatedEngine(await createEngine({ modelDir: options.modelDir ?? fixtureModel }));
  const store = openJobStore({ dataDir });
  const log = createLogger({ level: 'silent' });
  const core = createCore({
    config: { ...defaultConfig, ...options.config },
    engine,
    store,
    log,
    commands,
    buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
  });
  const metrics = createMetrics({ processMetrics: false });
  const health = new Health();
  health.engine(engine.info);
  const web = createWebAdapter({ port: 0, metrics, health: () => health.report(), minEditIntervalMs: options.minEditIntervalMs });
  const stopMetrics = observeCore(core.bot, metrics);
  await core.start();
  await web.start(core.bot);
  health.platform('web', 'connected');
  return {
    url: web.url!,
    core,
    engine,
    metrics,
    health,
    dataDir,
    async close() {
      stopMetrics();
      await web.stop();
      await core.close();
      await engine.close();
    },
  };
}

export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Reads a tab's event stream; `next(predicate)` waits for the first matching event not yet consumed. */
export async function openStream(url: string, tab: string, guild: string) {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/events?tab=${tab}&guild=${guild}`, { signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`stream: ${response.status} ${await response.text()}`);
  const events: SseEvent[] = [];
  let waiters: (() => void)[] = [];
  void (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        waiters.forEach((w) => w());
        waiters = [];
      }
    } catch {
      // aborted
    }
  })();
  let read = 0;
  return {
    events,
    async next(predicate: (e: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (; read < events.length; read++) {
          if (predicate(events[read])) return events[read++];
        }
        if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => `${e.event}:${e.data.title ?? ''}:${e.data.state ?? e.data.text ?? ''}`).join(', ')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => controller.abort(),
  };
}

export function post(url: string, body: unknown) {
  return fetch(`${url}/api/input`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export const tab = (n: number, guildId = 'guild-a') => ({ tabId: `tab-${n}-xxxxxxxx`, userId: `user-${n}-xxxxxxx`, userName: `user ${n}`, guildId });
