// Slack events → neutral inputs. Every listener calls `ack()` first (Slack's 3 s window), then builds the input and a
// Reply and hands both to the core. The workspace (`team_id`) is the guild of the fair queue.
import type { App, RespondFn, webApi } from '@slack/bolt';
import { asBotError } from '../../core/errors.ts';
import type { Actor, BotCore, CommandDefinition, MessageRef, MessageView, ProgressView, Reply } from '../../core/types.ts';
import { defaultRetry, uploadImage, withRetry, type RetryOptions } from './api.ts';
import { optionsFromText, slashName } from './commands.ts';
import { renderMessage } from './render.ts';
import type { SlackSurface } from './surface.ts';

export interface HandlerOptions {
  core: BotCore;
  surface: SlackSurface;
  client: webApi.WebClient;
  retry?: RetryOptions;
  /** How long a users.info admin answer is trusted. @default 300000 */
  adminCacheMs?: number;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Called with the listener-start → acknowledged time of each command and button press. */
  onAck?: (ms: number) => void;
}

/** Button ids the core produces start with this (see src/core/button-id.ts); other actions are not ours. */
const OUR_ACTIONS = /^ib:/;

export function registerHandlers(app: App, o: HandlerOptions): void {
  const admins = new AdminLookup(o);
  for (const definition of o.core.commands) {
    app.command(slashName(definition), async ({ ack, command, respond }) => {
      const received = performance.now();
      await ack();
      o.onAck?.(performance.now() - received);
      const actor = await admins.actor(command.team_id, command.channel_id, command.user_id, command.user_name);
      const reply = new SlackReply(actor, respond, o);
      await runCommand(definition, command.text, actor, reply, o);
    });
  }
  app.action(OUR_ACTIONS, async ({ ack, body, action, respond }) => {
    const received = performance.now();
    await ack();
    o.onAck?.(performance.now() - received);
    const customId = (action as { action_id?: unknown }).action_id;
    if (body.type !== 'block_actions' || typeof customId !== 'string') return;
    const team = body.team?.id ?? body.user.team_id ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id ?? '';
    const actor = await admins.actor(team, channel, body.user.id, body.user.username ?? body.user.name);
    const reply = new SlackReply(actor, respond, o);
    await o.core.dispatch({ type: 'button', actor, customId }, reply).catch((error: unknown) => {
      o.log?.('error', 'Core dispatch rejected', { customId, error: String(error) });
    });
  });
}

async function runCommand(definition: CommandDefinition, text: string, actor: Actor, reply: SlackReply, o: HandlerOptions): Promise<void> {
  let options;
  try {
    options = optionsFromText(definition, text);
  } catch (error) {
    // Text the adapter cannot translate never reaches the core.
    await reply.ephemeral({ text: asBotError(error).userMessage, tone: 'error' }).catch(() => {});
    return;
  }
  await o.core.dispatch({ type: 'command', actor, name: definition.name, options }, reply).catch((error: unknown) => {
    o.log?.('error', 'Core dispatch rejected', { command: definition.name, error: String(error) });
  });
}

/** The Reply port for one slash command or button press (already acknowledged). */
export class SlackReply implements Reply {
  constructor(
    private readonly actor: Actor,
    private readonly respond: RespondFn,
    private readonly o: HandlerOptions,
  ) {}

  async acknowledge(): Promise<void> {}

  /** Ephemeral answers go through the response_url; if that is used up or failing, through chat.postEphemeral. */
  async ephemeral(message: MessageView): Promise<void> {
    const retry = this.o.retry ?? defaultRetry;
    const fileId = message.image ? await uploadImage(this.o.client, message.image.png, message.image.filename, message.text.slice(0, 200), retry) : undefined;
    const rendered = renderMessage(message, fileId);
    try {
      await this.respond({ response_type: 'ephemeral', replace_original: false, ...rendered });
    } catch (error) {
      this.o.log?.('warn', 'response_url failed; falling back to chat.postEphemeral', { error: String(error) });
      await withRetry(() => this.o.client.chat.postEphemeral({ channel: this.actor.channelId, user: this.actor.userId, ...rendered }), retry);
    }
  }

  /** A refusal ("invite me to this channel") is a BotError; the core cancels the job and tells the user privately
   *  through `ephemeral`, whose response_url still reaches them when the channel is closed to the bot. */
  postJobMessage(view: ProgressView): Promise<MessageRef> {
    return this.o.surface.postJobMessage({ guildId: this.actor.guildId, channelId: this.actor.channelId }, view);
  }
}

/**
 * Slack payloads do not say whether a user administers the workspace; users.info does (`is_admin`/`is_owner`,
 * scope `users:read`). Answers are cached; without the scope everyone is a regular user.
 */
class AdminLookup {
  readonly #cache = new Map<string, { admin: boolean; at: number }>();
  constructor(private readonly o: HandlerOptions) {}

  async actor(team: string, channel: string, user: string, userName: string | undefined): Promise<Actor> {
    return { platform: 'slack', guildId: team, channelId: channel, userId: user, userName, isAdmin: await this.#isAdmin(team, user), roles: [] };
  }

  async #isAdmin(team: string, user: string): Promise<boolean> {
    const key = `${team}:${user}`;
    const hit = this.#cache.get(key);
    if (hit && Date.now() - hit.at < (this.o.adminCacheMs ?? 300_000)) return hit.admin;
    let admin = false;
    try {
      const info = await this.o.client.users.info({ user });
      admin = info.user?.is_admin === true || info.user?.is_owner === true;
    } catch (error) {
      this.o.log?.('warn', 'users.info failed; treating the user as a non-admin', { user, error: String(error) });
    }
    this.#cache.set(key, { admin, at: Date.now() });
    return admin;
  }
}
