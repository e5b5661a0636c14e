// The open tabs (one SSE stream each) and what each guild's channel shows. Public job messages go to every tab in the
// message's guild; ephemeral answers go to the one tab that asked. Each guild keeps its latest messages so a tab that
// opens or reloads sees the channel as it is.
import type { ServerResponse } from 'node:http';
import type { WireEphemeral, WireJobMessage } from './render.ts';

export interface Tab {
  readonly tabId: string;
  readonly guildId: string;
  readonly res: ServerResponse;
}

export interface HubOptions {
  /** Messages kept per guild. @default 40 */
  readonly historyPerGuild?: number;
  /** Guilds remembered (least recently used are forgotten). @default 200 */
  readonly maxGuilds?: number;
}

export class Hub {
  readonly #tabs = new Map<string, Tab>();
  readonly #history = new Map<string, Map<string, WireJobMessage>>();
  readonly #perGuild: number;
  readonly #maxGuilds: number;

  constructor(options: HubOptions = {}) {
    this.#perGuild = options.historyPerGuild ?? 40;
    this.#maxGuilds = options.maxGuilds ?? 200;
  }

  get size(): number {
    return this.#tabs.size;
  }

  /** Open a tab's stream; a reconnect with the same tab id replaces the old stream. */
  open(tab: Tab, hello: unknown): void {
    this.#tabs.get(tab.tabId)?.res.end();
    this.#tabs.set(tab.tabId, tab);
    tab.res.on('close', () => {
      if (this.#tabs.get(tab.tabId) === tab) this.#tabs.delete(tab.tabId);
    });
    write(tab.res, 'hello', { ...(hello as object), history: [...(this.#history.get(tab.guildId)?.values() ?? [])] });
  }

  /** Upsert a public message in its guild and send it to the guild's tabs. Older versions are ignored. */
  publish(message: WireJobMessage): void {
    let guild = this.#history.get(message.guildId);
    if (guild) this.#history.delete(message.guildId); // re-insert: most recently used last
    guild ??= new Map();
    this.#history.set(message.guildId, guild);
    const previous = guild.get(message.id);
    if (previous && previous.version > message.version) return;
    guild.delete(message.id);
    // Keep history light: a preview is only worth sending live.
    guild.set(message.id, message.state === 'running' && message.image ? { ...message, image: undefined } : message);
    while (guild.size > this.#perGuild) guild.delete(guild.keys().next().value!);
    while (this.#history.size > this.#maxGuilds) this.#history.delete(this.#history.keys().next().value!);
    for (const tab of this.#tabs.values()) if (tab.guildId === message.guildId) write(tab.res, 'message', message);
  }

  /** Send to one tab only; false when that tab is not connected. */
  toTab(tabId: string, message: WireEphemeral): boolean {
    const tab = this.#tabs.get(tabId);
    if (!tab) return false;
    write(tab.res, 'ephemeral', message);
    return true;
  }

  /** Comments keep proxies and the browser from timing the stream out. */
  ping(): void {
    for (const tab of this.#tabs.values()) tab.res.write(': ping\n\n');
  }

  /** End every stream (shutdown); `reason` is shown by the page. */
  closeAll(reason: string): void {
    for (const tab of this.#tabs.values()) {
      write(tab.res, 'bye', { reason });
      tab.res.end();
    }
    this.#tabs.clear();
  }
}

function write(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
