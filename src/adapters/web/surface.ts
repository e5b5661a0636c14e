// The playground's JobSurface and per-input Reply. A job message is an entry in its guild's channel, identified by a
// random message id; edits publish a new version of it to the guild's tabs. Done grids are remembered briefly so the
// PNG endpoint need not rebuild them from the store right after they were shown.
import { randomBytes } from 'node:crypto';
import type { JobSurface, MessageRef, MessageView, PngImage, ProgressView, Reply } from '../../core/types.ts';
import type { Hub } from './hub.ts';
import { dataUrl, renderEphemeral, renderJob } from './render.ts';

export const newId = () => randomBytes(9).toString('base64url');

/** Small LRU of recent grids by job id. */
export class GridCache {
  readonly #items = new Map<string, PngImage>();
  constructor(readonly max = 64) {}
  get(jobId: string): PngImage | undefined {
    const image = this.#items.get(jobId);
    if (image) {
      this.#items.delete(jobId);
      this.#items.set(jobId, image);
    }
    return image;
  }
  set(jobId: string, image: PngImage): void {
    this.#items.delete(jobId);
    this.#items.set(jobId, image);
    while (this.#items.size > this.max) this.#items.delete(this.#items.keys().next().value!);
  }
}

export class WebSurface implements JobSurface {
  readonly platform = 'web' as const;
  readonly #versions = new Map<string, number>();

  constructor(
    readonly hub: Hub,
    readonly grids: GridCache,
    readonly minEditIntervalMs = 100,
  ) {}

  async editJobMessage(ref: MessageRef, view: ProgressView): Promise<void> {
    this.#publish(ref.messageId ?? newId(), ref.channelId, view);
  }

  async postJobMessage(target: { readonly guildId: string; readonly channelId: string }, view: ProgressView): Promise<MessageRef> {
    const messageId = newId();
    this.#publish(messageId, target.guildId, view);
    return { platform: 'web', channelId: target.guildId, messageId };
  }

  #publish(messageId: string, guildId: string, view: ProgressView): void {
    // Versions restart after a process restart; the page treats a lower version after a `hello` as new.
    const version = (this.#versions.get(messageId) ?? 0) + 1;
    this.#versions.set(messageId, version);
    const final = view.state === 'done' || view.state === 'failed' || view.state === 'cancelled';
    if (final) this.#versions.delete(messageId);
    if (view.state === 'done') this.grids.set(view.job.jobId, view.image);
    this.hub.publish(renderJob(messageId, guildId, final ? Number.MAX_SAFE_INTEGER : version, view));
  }
}

/** The answer channel of one playground input: private answers to the asking tab, job messages to its guild. */
export class WebReply implements Reply {
  constructor(
    private readonly surface: WebSurface,
    private readonly tabId: string,
    private readonly guildId: string,
  ) {}

  /** The HTTP request was already answered (202) before the core saw the input. */
  async acknowledge(): Promise<void> {}

  async ephemeral(message: MessageView): Promise<void> {
    this.surface.hub.toTab(this.tabId, renderEphemeral(newId(), message, message.image && dataUrl(message.image)));
  }

  postJobMessage(view: ProgressView): Promise<MessageRef> {
    return this.surface.postJobMessage({ guildId: this.guildId, channelId: this.guildId }, view);
  }
}
