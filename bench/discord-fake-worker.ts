// The fake Discord of `bench/discord.ts`, in its own thread: Discord is another machine, so its work must not sit on
// the bot's event loop and inflate the latency being measured. Drives the burst and reports what it saw.
import { parentPort } from 'node:worker_threads';
import { FakeDiscord } from '../test/fakes/discord/fake-discord.ts';

export interface BurstRequest {
  readonly type: 'run';
  readonly interactions: number;
  readonly guilds: number;
  readonly busySteps: number;
  /** `/help` interactions answered before the measurement. */
  readonly warmUp: number;
}

export interface BurstResult {
  readonly type: 'result';
  /** Per interaction: INTERACTION_CREATE sent → callback received, ms. */
  readonly acks: number[];
  readonly failedAcks: number;
  readonly rateLimited: number;
  readonly edits: number;
  readonly schemaErrors: number;
  readonly allAckedMs: number;
  readonly allGridsMs: number;
}

async function until(fn: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const fake = await FakeDiscord.start();
const port = parentPort!;
const text = (id: string | undefined) => (id ? (fake.message(id)?.content ?? '') : '');
const isCallback = (r: { route?: string }) => r.route === 'POST /interactions/:interaction/:token/callback';

port.on('message', (message: BurstRequest | { type: 'close' }) => {
  if (message.type === 'close') {
    void fake.close().then(() => port.close());
    return;
  }
  void (async () => {
    await fake.waitForReady();
    await until(() => fake.state.commands.has('global'), 'command registration', 30_000);
    // Warm-up, not measured: a running bot has handled traffic before (JIT, the HTTP connection pool), so do a little.
    const warm = Array.from({ length: message.warmUp }, (_, i) => fake.sendCommand('help', {}, { user: fake.user(`warm${i}`) }));
    await until(() => warm.every((w) => fake.requests((r) => isCallback(r) && r.params.token === w.ctx.token && r.status !== undefined).length > 0), 'the warm-up', 30_000);
    // Keep the engine busy: one long job, running before the burst arrives.
    const busy = fake.sendCommand('imagine', { prompt: `engine is busy --steps ${message.busySteps}` }, { user: fake.user('busy') });
    await until(() => /Step \d+\//.test(text(busy.originalMessageId)), 'the busy job to run', 30_000);
    const rateLimitedBefore = fake.rateLimited;
    const editsBefore = fake.requests((r) => r.method === 'PATCH' && r.status === 200).length;
    const guilds = Array.from({ length: message.guilds }, (_, g) => `${900000000000000000 + g}`);
    const started = performance.now();
    const burst = Array.from({ length: message.interactions }, (_, i) =>
      fake.sendCommand('imagine', { prompt: `bench ${i} --steps 4 --n 1` }, { user: fake.user(`user${i}`), guildId: guilds[i % guilds.length] }),
    );
    const tokens = new Set(burst.map((b) => b.ctx.token));
    const callbacks = () => fake.requests((r) => isCallback(r) && tokens.has(r.params.token) && r.status !== undefined);
    await until(() => callbacks().length >= burst.length, 'all acknowledgements', 60_000);
    const allAckedMs = performance.now() - started;
    const acks = burst.map((b) => fake.requests((r) => isCallback(r) && r.params.token === b.ctx.token)[0].at - b.createdAt);
    await until(() => burst.every((b) => /\(Done in /.test(text(b.originalMessageId))), 'all grids', 10 * 60_000);
    const result: BurstResult = {
      type: 'result',
      acks,
      failedAcks: callbacks().filter((r) => r.status !== 204).length,
      rateLimited: fake.rateLimited - rateLimitedBefore,
      edits: fake.requests((r) => r.method === 'PATCH' && r.status === 200).length - editsBefore,
      schemaErrors: fake.schemaErrors().length,
      allAckedMs,
      allGridsMs: performance.now() - started,
    };
    port.postMessage(result);
  })().catch((error: unknown) => port.postMessage({ type: 'error', message: String(error) }));
});

port.postMessage({ type: 'ready', apiBase: fake.apiBase, token: fake.token, applicationId: fake.applicationId });
