// Starts the fake Slack and the real Slack adapter (real Bolt app) against it, in Socket Mode or HTTP mode.
import sharp from 'sharp';
import { createSlackAdapter, type SlackAdapter, type SlackAdapterOptions } from '../../../src/adapters/slack/index.ts';
import type { BotCore, PngImage } from '../../../src/core/types.ts';
import { FakeSlack, type FakeSlackOptions } from '../../fakes/slack/fake-slack.ts';

export const signingSecret = 'test-signing-secret';

export interface SlackHarness {
  fake: FakeSlack;
  adapter: SlackAdapter;
  /** Stops this adapter and starts a new one (a process restart) on the same fake. */
  restart(core: BotCore): Promise<SlackAdapter>;
  close(): Promise<void>;
}

export async function startSlackHarness(
  core: BotCore,
  options: { mode?: 'socket' | 'http'; adapter?: Partial<SlackAdapterOptions>; fake?: FakeSlackOptions } = {},
): Promise<SlackHarness> {
  const fake = await FakeSlack.start(options.fake);
  const make = () =>
    createSlackAdapter({
      botToken: fake.botToken,
      ...(options.mode === 'http' ? { signingSecret, port: 0, host: '127.0.0.1' } : { appToken: fake.appToken }),
      apiUrl: fake.apiUrl,
      logLevel: 'error',
      retry: { baseDelayMs: 20, maxDelayMs: 100 },
      ...options.adapter,
    });
  const h: SlackHarness = {
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

/** A small PNG of one colour, as the core would hand over. */
export async function solidPng(color: string, size = 32, filename = 'image.png'): Promise<PngImage> {
  const png = await sharp({ create: { width: size, height: size, channels: 3, background: color } }).png().toBuffer();
  return { png: new Uint8Array(png), width: size, height: size, filename };
}

/** Block Kit helpers for assertions. */
export type AnyBlock = { type: string; slack_file?: { id: string }; elements?: { action_id?: string; text?: { text: string } }[]; text?: { text: string } };
export const actionIds = (blocks: unknown[] | undefined) =>
  ((blocks ?? []) as AnyBlock[]).filter((b) => b.type === 'actions').map((b) => (b.elements ?? []).map((e) => e.action_id));
export const imageFileId = (blocks: unknown[] | undefined) => ((blocks ?? []) as AnyBlock[]).find((b) => b.type === 'image')?.slack_file?.id;
