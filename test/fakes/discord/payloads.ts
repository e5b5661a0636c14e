// Builders for the objects Discord sends: users, members, messages and INTERACTION_CREATE payloads.
// Shapes follow discord-api-types v10; fields discord.js dereferences unconditionally (entitlements,
// authorizing_integration_owners) are always present, or the client drops the event with a TypeError.
import type {
  APIActionRowComponent,
  APIApplicationCommandInteractionDataOption,
  APIAttachment,
  APIGuildMember,
  APIInteraction,
  APIMessage,
  APIMessageTopLevelComponent,
  APIUser,
} from 'discord-api-types/v10';

const DISCORD_EPOCH = 1420070400000n;
let increment = 0n;

/** A fresh snowflake (17–19 digits, like Discord's, so @discordjs/rest buckets webhooks per token). */
export function snowflake(now = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(now) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

export function makeUser(id: string, username: string, bot = false): APIUser {
  return {
    id,
    username,
    discriminator: '0',
    global_name: bot ? null : username,
    avatar: null,
    ...(bot ? { bot: true } : {}),
    public_flags: 0,
    flags: 0,
    primary_guild: null,
  } as unknown as APIUser;
}

/** Administrator-free set a normal member has: view, send, embed, attach, read history, use app commands. */
export const MEMBER_PERMISSIONS = String((1n << 10n) | (1n << 11n) | (1n << 14n) | (1n << 15n) | (1n << 16n) | (1n << 31n));
/** What the bot is granted in channels by default (same plus manage messages). */
export const APP_PERMISSIONS = String(BigInt(MEMBER_PERMISSIONS) | (1n << 13n));

export function makeMember(user: APIUser, permissions = MEMBER_PERMISSIONS): APIGuildMember & { permissions: string } {
  return {
    user,
    roles: [],
    joined_at: new Date(0).toISOString(),
    deaf: false,
    mute: false,
    flags: 0,
    permissions,
  } as unknown as APIGuildMember & { permissions: string };
}

/** Response components carry numeric ids; requests may omit them. */
export function withComponentIds(components: unknown): APIMessageTopLevelComponent[] {
  let next = 1;
  const walk = (c: Record<string, unknown>): Record<string, unknown> => ({
    ...c,
    id: typeof c.id === 'number' ? c.id : next++,
    ...(Array.isArray(c.components) ? { components: c.components.map((x) => walk(x as Record<string, unknown>)) } : {}),
  });
  return Array.isArray(components) ? (components.map((c) => walk(c as Record<string, unknown>)) as unknown as APIMessageTopLevelComponent[]) : [];
}

export interface StoredMessage {
  message: APIMessage;
  /** Interaction token whose webhook owns this message (interaction responses and follow-ups). */
  token?: string;
  ephemeral: boolean;
}

export function makeMessage(o: {
  id: string;
  channelId: string;
  author: APIUser;
  content?: string;
  components?: unknown;
  attachments?: APIAttachment[];
  flags?: number;
  applicationId?: string;
  guildId?: string;
  now: number;
}): APIMessage {
  return {
    id: o.id,
    type: 0,
    channel_id: o.channelId,
    ...(o.guildId ? { guild_id: o.guildId } : {}),
    author: o.author,
    content: o.content ?? '',
    timestamp: new Date(o.now).toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: o.attachments ?? [],
    embeds: [],
    pinned: false,
    flags: o.flags ?? 0,
    components: withComponentIds(o.components) as APIActionRowComponent<never>[],
    ...(o.applicationId ? { application_id: o.applicationId, webhook_id: o.applicationId } : {}),
  } as APIMessage;
}

export interface InteractionContext {
  id: string;
  token: string;
  applicationId: string;
  user: APIUser;
  /** Guild id, or undefined for a DM with the bot. */
  guildId?: string;
  channelId: string;
  attachmentSizeLimit: number;
  appPermissions: string;
  memberPermissions: string;
  locale: string;
}

function base(ctx: InteractionContext) {
  const where = ctx.guildId
    ? {
        guild_id: ctx.guildId,
        guild: { id: ctx.guildId, locale: 'en-US', features: [] },
        guild_locale: 'en-US',
        member: makeMember(ctx.user, ctx.memberPermissions),
        channel: { id: ctx.channelId, type: 0, guild_id: ctx.guildId, name: 'general', flags: 0, permissions: ctx.memberPermissions },
        authorizing_integration_owners: { '0': ctx.guildId },
        context: 0,
      }
    : {
        user: ctx.user,
        channel: { id: ctx.channelId, type: 1, flags: 0, recipients: [ctx.user] },
        authorizing_integration_owners: { '0': ctx.user.id },
        context: 1,
      };
  return {
    id: ctx.id,
    application_id: ctx.applicationId,
    token: ctx.token,
    version: 1,
    channel_id: ctx.channelId,
    app_permissions: ctx.appPermissions,
    locale: ctx.locale,
    entitlements: [],
    attachment_size_limit: ctx.attachmentSizeLimit,
    ...where,
  };
}

export function commandInteraction(
  ctx: InteractionContext,
  command: { id: string; name: string; options: APIApplicationCommandInteractionDataOption[] },
): APIInteraction {
  return {
    ...base(ctx),
    type: 2,
    data: { id: command.id, name: command.name, type: 1, options: command.options, ...(ctx.guildId ? { guild_id: ctx.guildId } : {}) },
  } as unknown as APIInteraction;
}

export function buttonInteraction(ctx: InteractionContext, customId: string, message: APIMessage): APIInteraction {
  return {
    ...base(ctx),
    type: 3,
    data: { custom_id: customId, component_type: 2 },
    message,
  } as unknown as APIInteraction;
}
