// `npm run bench` part: time from `/imagine` to the first preview and to the grid, measured the way a playground user
// sees it (HTTP POST, then the tab's SSE stream), on the real engine and core with a SQLite store in a temp folder.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commands, handleButton, isEphemeralAction } from '../commands/index.ts';
import { defaultConfig } from '../config/defaults.ts';
import { createEngine, defaultModelDir } from '../engine/index.ts';
import { createWebAdapter } from '../src/adapters/web/index.ts';
import { createCore } from '../src/core/create-core.ts';
import { openJobStore } from '../src/core/job-store.ts';
import { createLogger } from '../src/core/logger.ts';
import type { BenchRow } from './rows.ts';

const root = resolve(import.meta.dirname, '..');

export interface PlaygroundBenchOptions {
  /** @default the embedded model, else the tiny fixture */
  readonly modelDir?: string;
  /** @default 8 */
  readonly runs?: number;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

export async function runPlaygroundBench(options: PlaygroundBenchOptions = {}): Promise<BenchRow[]> {
  const modelDir = options.modelDir ?? (existsSync(join(defaultModelDir, 'model_index.json')) ? defaultModelDir : join(root, 'test/fixtures/models/tiny-sd'));
  const runs = options.runs ?? 8;
  const dataDir = mkdtempSync(join(tmpdir(), 'imagine-bench-'));
  const engine = await createEngine({ modelDir });
  const store = openJobStore({ dataDir });
  const core = createCore({
    config: defaultConfig,
    engine,
    store,
    log: createLogger({ level: 'silent' }),
    commands,
    buttons: { handle: handleButton, isEphemeral: isEphemeralAction },
  });
  const web = createWebAdapter({ port: 0 });
  await core.start();
  await web.start(core.bot);
  const url = web.url!;
  const firstPreview: number[] = [];
  const grid: number[] = [];
  const ack: number[] = [];
  try {
    const who = { tabId: 'bench-tab-xxxxxx', userId: 'bench-user-xxxxx', userName: 'bench', guildId: 'bench' };
    const events = await fetch(`${url}/api/events?tab=${who.tabId}&guild=${who.guildId}`);
    const reader = events.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const nextMessage = async (): Promise<{ state: string; image?: unknown; title: string }> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('event: message')) return JSON.parse(/^data: (.*)$/m.exec(block)![1]);
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    // One warm-up run (session and allocator warm-up), then the measured ones, one at a time on an idle queue.
    for (let i = 0; i <= runs; i++) {
      const start = performance.now();
      const response = await fetch(`${url}/api/input`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...who, text: `/imagine a lighthouse on a cliff at dusk --seed ${i + 1}` }),
      });
      const acked = performance.now();
      if (response.status !== 202) throw new Error(`POST /api/input answered ${response.status}: ${await response.text()}`);
      let preview: number | undefined;
      for (;;) {
        const m = await nextMessage();
        if (preview === undefined && m.state === 'running' && m.image) preview = performance.now();
        if (m.state === 'done' || m.state === 'failed') {
          if (m.state === 'failed') throw new Error('a benchmark job failed');
          if (i > 0) {
            ack.push(acked - start);
            firstPreview.push((preview ?? performance.now()) - start);
            grid.push(performance.now() - start);
          }
          break;
        }
      }
    }
    await reader.cancel();
  } finally {
    await web.stop();
    await core.close();
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const info = engine.info;
  const setup = `model \`${info.name}\` ${info.width}×${info.height}, ${info.defaultSteps} steps, --n 4, ${runs} runs on an idle queue, HTTP + SSE on loopback`;
  const fmt = (xs: number[]) => `${quantile(xs, 0.5).toFixed(0)} ms (p90 ${quantile(xs, 0.9).toFixed(0)} ms)`;
  return [
    { benchmark: 'playground', metric: 'time from /imagine to first preview', value: fmt(firstPreview), notes: setup },
    { benchmark: 'playground', metric: 'grid latency (/imagine to finished grid)', value: fmt(grid), notes: setup },
    { benchmark: 'playground', metric: 'acknowledgement (POST → 202)', value: fmt(ack), notes: 'idle engine between jobs' },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const row of await runPlaygroundBench()) console.log(`${row.metric}: ${row.value}  (${row.notes})`);
}
