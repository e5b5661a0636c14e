// Starts the fake Discord and the real Discord adapter (real discord.js client) against it.
import sharp from 'sharp';
import { createDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from '../../../src/adapters/discord/index.ts';
import type { BotCore, PngImage } from '../../../src/core/types.ts';
import { FakeDiscord, type FakeDiscordOptions } from '../../fakes/discord/fake-discord.ts';

export interface Harness {
  fake: FakeDiscord;
  adapter: DiscordAdapter;
  /** Stops this adapter and starts a new one (a process restart) on the same fake. */
  restart(core: BotCore): Promise<DiscordAdapter>;
  close(): Promise<void>;
}

export async function startHarness(
  core: BotCore,
  adapterOptions: Partial<DiscordAdapterOptions> = {},
  fakeOptions: FakeDiscordOptions = {},
): Promise<Harness> {
  const fake = await FakeDiscord.start({ heartbeatIntervalMs: 1000, ...fakeOptions });
  const make = () =>
    createDiscordAdapter({
      token: fake.token,
      applicationId: fake.applicationId,
      apiBase: fake.apiBase,
      now: () => fake.clock.now(),
      requestTimeoutMs: 3000,
      ...adapterOptions,
    });
  const h: Harness = {
    fake,
    adapter: make(),
    async restart(nextCore) {
      await h.adapter.stop();
      h.adapter = make();
      await h.adapter.start(nextCore);
      return h.adapter;
    },
    async close() {
      await h.adapter.stop();
      await fake.close();
    },
  };
  await h.adapter.start(core);
  return h;
}

/** A small PNG of one colour, as the engine would hand over. */
export async function solidPng(color: string, size = 32, filename = 'image.png'): Promise<PngImage> {
  const png = await sharp({ create: { width: size, height: size, channels: 3, background: color } }).png().toBuffer();
  return { png: new Uint8Array(png), width: size, height: size, filename };
}

/** Random noise compresses badly: a PNG that is big for its size. */
export async function noisyPng(size: number, filename = 'grid.png'): Promise<PngImage> {
  const raw = Buffer.alloc(size * size * 3);
  let x = 12345;
  for (let i = 0; i < raw.length; i++) raw[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const png = await sharp(raw, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
  return { png: new Uint8Array(png), width: size, height: size, filename };
}
