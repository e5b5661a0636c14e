// Request-body validation against Discord's OpenAPI spec, through the zod schemas that `discord-api-spec` generates.
// The package exposes component schemas only, so each route is wired to the schema its operation's requestBody
// references in the spec (operation ids in the comments).
import * as z from 'zod/mini';
import {
  ApplicationCommandAutocompleteCallbackRequestSchema,
  ApplicationCommandCreateRequestSchema,
  ApplicationCommandUpdateRequestSchema,
  CreateMessageInteractionCallbackRequestSchema,
  IncomingWebhookRequestPartialSchema,
  IncomingWebhookUpdateRequestPartialSchema,
  LaunchActivityInteractionCallbackRequestSchema,
  MessageCreateRequestSchema,
  MessageEditRequestPartialSchema,
  ModalInteractionCallbackRequestSchema,
  PongInteractionCallbackRequestSchema,
  UpdateMessageInteractionCallbackRequestSchema,
} from 'discord-api-spec/zod';

const commandsBulk = z.array(ApplicationCommandUpdateRequestSchema).check(z.maxLength(130));

// create_interaction_response is an anyOf over callback kinds; picking the member by `type` gives precise errors.
const callbackSchemas: Record<number, z.ZodMiniType> = {
  1: PongInteractionCallbackRequestSchema,
  4: CreateMessageInteractionCallbackRequestSchema,
  5: CreateMessageInteractionCallbackRequestSchema,
  6: UpdateMessageInteractionCallbackRequestSchema,
  7: UpdateMessageInteractionCallbackRequestSchema,
  8: ApplicationCommandAutocompleteCallbackRequestSchema,
  9: ModalInteractionCallbackRequestSchema,
  12: LaunchActivityInteractionCallbackRequestSchema,
};
const CALLBACK_ROUTE = 'POST /interactions/:interaction/:token/callback';

/** Route template (as the fake routes it) → schema of the JSON body (or multipart `payload_json`). */
export const requestSchemas: Record<string, z.ZodMiniType> = {
  // bulk_set_application_commands, bulk_set_guild_application_commands
  'PUT /applications/:app/commands': commandsBulk,
  'PUT /applications/:app/guilds/:guild/commands': commandsBulk,
  // create_application_command, create_guild_application_command
  'POST /applications/:app/commands': ApplicationCommandCreateRequestSchema,
  'POST /applications/:app/guilds/:guild/commands': ApplicationCommandCreateRequestSchema,
  // execute_webhook (anyOf; the request partial is the wider of the two)
  'POST /webhooks/:app/:token': IncomingWebhookRequestPartialSchema,
  // update_original_webhook_message, update_webhook_message
  'PATCH /webhooks/:app/:token/messages/:message': IncomingWebhookUpdateRequestPartialSchema,
  // create_message, update_message
  'POST /channels/:channel/messages': MessageCreateRequestSchema,
  'PATCH /channels/:channel/messages/:message': MessageEditRequestPartialSchema,
};

/**
 * Known spec-vs-client mismatch: discord.js sends `default_member_permissions` as a numeric string (as Discord's docs
 * say) while the spec types it as an integer. Validate a normalised clone so only real mistakes are reported.
 */
function normalise(body: unknown): unknown {
  const fix = (cmd: unknown): unknown => {
    if (cmd && typeof cmd === 'object' && 'default_member_permissions' in cmd) {
      const p = (cmd as Record<string, unknown>).default_member_permissions;
      if (typeof p === 'string' && /^\d+$/.test(p)) return { ...cmd, default_member_permissions: Number(p) };
    }
    return cmd;
  };
  return Array.isArray(body) ? body.map(fix) : fix(body);
}

/** Validates a body for a route; returns human-readable problems (empty when valid or when the route has no body). */
export function validateBody(routeKey: string, body: unknown): string[] {
  if (body === undefined) return [];
  let schema = requestSchemas[routeKey];
  if (routeKey === CALLBACK_ROUTE) {
    const type = (body as { type?: unknown } | null)?.type;
    schema = callbackSchemas[typeof type === 'number' ? type : -1];
    if (!schema) return [`${routeKey}: type: unknown interaction callback type ${JSON.stringify(type)}`];
  }
  if (!schema) return [];
  const result = schema.safeParse(normalise(body));
  if (result.success) return [];
  return result.error.issues.map((i) => `${routeKey}: ${i.path.join('.') || '(body)'}: ${i.code} ${i.message}`);
}
