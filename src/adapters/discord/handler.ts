// One interaction → one neutral input. Acknowledge first (defer within Discord's 3 s, ephemeral when the answer is
// only for the user), then hand the input and a Reply to the core. Nothing slow happens before the defer.
import {
  MessageFlags,
  PermissionFlagsBits,
  Routes,
  type ButtonInteraction,
  type APIMessage,
  type ChatInputCommandInteraction,
  type Interaction,
} from 'discord.js';
import type { Actor, BotCore, BotInput, MessageRef, MessageView, OptionValue, ProgressView, Reply } from '../../core/types.ts';
import { discordCode, withRetry } from './rest.ts';
import { renderMessage, renderProgress, type RenderedMessage } from './render.ts';
import { makeRef, TOKEN_LIFETIME_MS, DEFAULT_ATTACHMENT_LIMIT, type DiscordRefData, type DiscordSurface } from './surface.ts';

export interface HandlerOptions {
  core: BotCore;
  surface: DiscordSurface;
  now?: () => number;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Called with the receive → acknowledged time of each interaction. */
  onAck?: (ms: number) => void;
}

/** What the bot needs in a guild channel to keep a message going past the interaction token's 15 minutes. */
const CHANNEL_PERMISSIONS = [
  ['View Channel', PermissionFlagsBits.ViewChannel],
  ['Send Messages', PermissionFlagsBits.SendMessages],
  ['Attach Files', PermissionFlagsBits.AttachFiles],
  ['Read Message History', PermissionFlagsBits.ReadMessageHistory],
] as const;

type Supported = ChatInputCommandInteraction | ButtonInteraction;

const ACK_RETRY = { retries: 2, baseDelayMs: 100, maxDelayMs: 400 };

export const PERMISSION_NOTE_PREFIX = "⚠️ I'm missing";

export function toActor(i: Supported): Actor {
  const roles = i.member?.roles;
  return {
    platform: 'discord',
    guildId: i.guildId ?? `dm:${i.user.id}`,
    channelId: i.channelId,
    userId: i.user.id,
    userName: i.user.globalName ?? i.user.username,
    isAdmin: i.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
    roles: Array.isArray(roles) ? roles : roles ? [...roles.cache.keys()] : [],
  };
}

export function toInput(i: Supported): BotInput {
  if (i.isButton()) return { type: 'button', actor: toActor(i), customId: i.customId };
  const options: Record<string, OptionValue> = {};
  for (const o of i.options.data) {
    if (o.value !== undefined && o.value !== null) options[o.name] = o.value;
  }
  return { type: 'command', actor: toActor(i), name: i.commandName, options };
}

/** Names of the channel permissions the bot lacks here (guilds only; in DMs the webhook and DM channel suffice). */
export function missingPermissions(i: Supported): string[] {
  if (!i.inGuild()) return [];
  return CHANNEL_PERMISSIONS.filter(([, bit]) => !i.appPermissions.has(bit)).map(([name]) => name);
}

export async function handleInteraction(i: Interaction, o: HandlerOptions): Promise<void> {
  if (!i.isChatInputCommand() && !i.isButton()) return; // autocomplete, modals: not ours
  const received = performance.now();
  const receivedAt = (o.now ?? Date.now)(); // the token's 15 minutes run from here (at the latest)
  const input = toInput(i);
  const ephemeral = o.core.isEphemeral(input);
  try {
    // A 5xx here is retried quickly (the 3 s window is short); 40060 means an earlier try did get through.
    await withRetry(() => i.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {}), ACK_RETRY).catch((error: unknown) => {
      if (discordCode(error) !== 40060) throw error;
    });
    o.onAck?.(performance.now() - received);
  } catch (error) {
    // Too late (10062) or Discord unreachable: nothing can be shown to the user for this interaction.
    o.log?.('warn', 'Discord interaction could not be acknowledged', { id: i.id, error: String(error) });
    return;
  }
  const reply = new InteractionReply(i, ephemeral, o, receivedAt);
  await o.core.dispatch(input, reply).catch((error: unknown) => {
    o.log?.('error', 'Core dispatch rejected', { id: i.id, error: String(error) });
  });
}

/** The Reply port over one deferred interaction. Calls are serialised so the @original edit comes first. */
export class InteractionReply implements Reply {
  #answered = false;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #data: DiscordRefData;

  constructor(
    private readonly i: Supported,
    private readonly deferredEphemeral: boolean,
    private readonly o: HandlerOptions,
    receivedAt: number = (o.now ?? Date.now)(),
  ) {
    const missing = missingPermissions(i);
    this.#data = {
      token: i.token,
      expiresAt: receivedAt + TOKEN_LIFETIME_MS,
      limit: i.attachmentSizeLimit ?? DEFAULT_ATTACHMENT_LIMIT,
      note: missing.length
        ? `${PERMISSION_NOTE_PREFIX} ${missing.map((m) => `**${m}**`).join(', ')} in this channel: this message stops updating after 15 minutes.`
        : null,
      stuck: false,
    };
  }

  /** Already deferred in `handleInteraction`, before the core saw the input. */
  async acknowledge(): Promise<void> {}

  ephemeral(message: MessageView): Promise<void> {
    return this.#serial(async () => {
      const rendered = renderMessage(message);
      if (this.deferredEphemeral && !this.#answered) {
        await this.o.surface.send({ kind: 'webhook', token: this.i.token, messageId: '@original' }, rendered, this.#data.limit);
      } else {
        // A public "thinking…" message must not carry a private answer: remove it, then answer privately.
        if (!this.#answered) await this.#deleteOriginal();
        await this.#followUp(rendered, MessageFlags.Ephemeral);
      }
      this.#answered = true;
    });
  }

  postJobMessage(view: ProgressView): Promise<MessageRef> {
    return this.#serial(async () => {
      const rendered = renderProgress(view, this.#data.note ?? undefined);
      const message =
        !this.deferredEphemeral && !this.#answered
          ? await this.o.surface.send({ kind: 'webhook', token: this.i.token, messageId: '@original' }, rendered, this.#data.limit)
          : await this.#followUp(rendered, 0);
      this.#answered = true;
      const ref = makeRef(this.i.channelId, message.id, this.#data);
      this.o.surface.adopt(ref, message, rendered.image, view.state === 'done' || view.state === 'failed' || view.state === 'cancelled');
      return ref;
    });
  }

  #followUp(rendered: RenderedMessage, flags: number): Promise<APIMessage> {
    return this.o.surface.send({ kind: 'followup', token: this.i.token }, rendered, this.#data.limit, undefined, flags);
  }

  async #deleteOriginal(): Promise<void> {
    await this.i.client.rest.delete(Routes.webhookMessage(this.i.applicationId, this.i.token, '@original'), { auth: false }).catch(() => {});
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => {});
    return next;
  }
}
