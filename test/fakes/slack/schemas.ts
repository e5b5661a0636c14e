// Hand-written JSON Schemas for the arguments of every Web API method the bot uses. Slack's published OpenAPI spec is
// stale (no upload-v2 methods, no apps.connections.open), so these follow the method reference pages and the limits
// in anchors.md §4. Form bodies carry scalars as strings, so numbers and booleans accept their string forms too.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const intLike = { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[1-9][0-9]*$' }] };
const boolLike = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['true', 'false', '1', '0'] }] };
const ts = { type: 'string', pattern: '^[0-9]+\\.[0-9]+$' };
const channelId = { type: 'string', pattern: '^[CDG][A-Z0-9]+$' };
// Bolt's pooled clients add team_id to every call; a token may also travel in the body.
const common = { team_id: { type: 'string' }, token: { type: 'string' } };

const plainText = (max: number) => ({
  type: 'object',
  required: ['type', 'text'],
  additionalProperties: false,
  properties: { type: { const: 'plain_text' }, text: { type: 'string', minLength: 1, maxLength: max }, emoji: { type: 'boolean' } },
});
const mrkdwn = (max: number) => ({
  type: 'object',
  required: ['type', 'text'],
  additionalProperties: false,
  properties: { type: { const: 'mrkdwn' }, text: { type: 'string', minLength: 1, maxLength: max }, verbatim: { type: 'boolean' } },
});
const textObject = (max: number) => ({ oneOf: [plainText(max), mrkdwn(max)] });
const blockId = { type: 'string', minLength: 1, maxLength: 255 };
const slackFile = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { id: { type: 'string', pattern: '^F[A-Z0-9]+$' }, url: { type: 'string', maxLength: 3000 } },
};

const button = {
  type: 'object',
  required: ['type', 'text'],
  additionalProperties: false,
  properties: {
    type: { const: 'button' },
    text: plainText(75),
    action_id: { type: 'string', minLength: 1, maxLength: 255 },
    value: { type: 'string', maxLength: 2000 },
    url: { type: 'string', maxLength: 3000 },
    style: { enum: ['primary', 'danger'] },
    accessibility_label: { type: 'string', minLength: 1, maxLength: 75 },
  },
};
const imageElement = {
  type: 'object',
  required: ['type', 'alt_text'],
  additionalProperties: false,
  properties: {
    type: { const: 'image' },
    alt_text: { type: 'string', maxLength: 2000 },
    image_url: { type: 'string', minLength: 1, maxLength: 3000 },
    slack_file: slackFile,
  },
  oneOf: [{ required: ['image_url'] }, { required: ['slack_file'] }],
};

const block = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['section', 'header', 'divider', 'context', 'image', 'actions'] } },
  allOf: [
    {
      if: { properties: { type: { const: 'section' } } },
      then: {
        additionalProperties: false,
        properties: {
          type: true,
          block_id: blockId,
          text: textObject(3000),
          fields: { type: 'array', minItems: 1, maxItems: 10, items: textObject(2000) },
          accessory: { oneOf: [button, imageElement] },
        },
        anyOf: [{ required: ['text'] }, { required: ['fields'] }],
      },
    },
    {
      if: { properties: { type: { const: 'header' } } },
      then: { required: ['text'], additionalProperties: false, properties: { type: true, block_id: blockId, text: plainText(150) } },
    },
    {
      if: { properties: { type: { const: 'divider' } } },
      then: { additionalProperties: false, properties: { type: true, block_id: blockId } },
    },
    {
      if: { properties: { type: { const: 'context' } } },
      then: {
        required: ['elements'],
        additionalProperties: false,
        properties: {
          type: true,
          block_id: blockId,
          elements: { type: 'array', minItems: 1, maxItems: 10, items: { oneOf: [imageElement, textObject(3000)] } },
        },
      },
    },
    {
      if: { properties: { type: { const: 'image' } } },
      then: {
        required: ['alt_text'],
        additionalProperties: false,
        properties: {
          type: true,
          block_id: blockId,
          alt_text: { type: 'string', maxLength: 2000 },
          image_url: { type: 'string', minLength: 1, maxLength: 3000 },
          slack_file: slackFile,
          title: plainText(2000),
        },
        oneOf: [{ required: ['image_url'] }, { required: ['slack_file'] }],
      },
    },
    {
      if: { properties: { type: { const: 'actions' } } },
      then: {
        required: ['elements'],
        additionalProperties: false,
        properties: { type: true, block_id: blockId, elements: { type: 'array', minItems: 1, maxItems: 25, items: button } },
      },
    },
  ],
};
const blocks = { type: 'array', minItems: 1, maxItems: 50, items: block };
const messageContent = { text: { type: 'string', maxLength: 40000 }, blocks, attachments: { type: 'array' } };
const messageLayout = {
  mrkdwn: boolLike,
  parse: { enum: ['full', 'none'] },
  link_names: boolLike,
  unfurl_links: boolLike,
  unfurl_media: boolLike,
  metadata: { type: 'object' },
};

/** Method name → schema of its arguments (after JSON fields are decoded). */
export const methodSchemas: Record<string, object> = {
  'auth.test': { type: 'object', additionalProperties: false, properties: { ...common } },
  'apps.connections.open': { type: 'object', additionalProperties: false, properties: { ...common } },
  'chat.postMessage': {
    type: 'object',
    required: ['channel'],
    additionalProperties: false,
    properties: { ...common, channel: channelId, ...messageContent, ...messageLayout, thread_ts: ts, reply_broadcast: boolLike, icon_emoji: { type: 'string' }, username: { type: 'string' } },
    anyOf: [{ required: ['text'] }, { required: ['blocks'] }, { required: ['attachments'] }],
  },
  'chat.update': {
    type: 'object',
    required: ['channel', 'ts'],
    additionalProperties: false,
    properties: { ...common, channel: channelId, ts, ...messageContent, ...messageLayout, file_ids: { type: 'array' }, reply_broadcast: boolLike },
    anyOf: [{ required: ['text'] }, { required: ['blocks'] }, { required: ['attachments'] }],
  },
  'chat.postEphemeral': {
    type: 'object',
    required: ['channel', 'user'],
    additionalProperties: false,
    properties: { ...common, channel: channelId, user: { type: 'string', pattern: '^[UW][A-Z0-9]+$' }, ...messageContent, ...messageLayout, thread_ts: ts },
    anyOf: [{ required: ['text'] }, { required: ['blocks'] }, { required: ['attachments'] }],
  },
  'files.getUploadURLExternal': {
    type: 'object',
    required: ['filename', 'length'],
    additionalProperties: false,
    properties: { ...common, filename: { type: 'string', minLength: 1 }, length: intLike, alt_text: { type: 'string', maxLength: 1000 }, snippet_type: { type: 'string' } },
  },
  'files.completeUploadExternal': {
    type: 'object',
    required: ['files'],
    additionalProperties: false,
    properties: {
      ...common,
      files: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', pattern: '^F[A-Z0-9]+$' }, title: { type: 'string' }, highlight_type: { type: 'string' } },
        },
      },
      channel_id: channelId,
      channels: { type: 'string' },
      thread_ts: ts,
      initial_comment: { type: 'string', maxLength: 40000 },
      blocks,
    },
  },
  'files.delete': {
    type: 'object',
    required: ['file'],
    additionalProperties: false,
    properties: { ...common, file: { type: 'string', pattern: '^F[A-Z0-9]+$' } },
  },
  'users.info': {
    type: 'object',
    required: ['user'],
    additionalProperties: false,
    properties: { ...common, user: { type: 'string', pattern: '^[UW][A-Z0-9]+$' }, include_locale: boolLike },
  },
  // Not a Web API method: the body Bolt's `respond()` POSTs to a response_url.
  response_url: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...messageContent,
      response_type: { enum: ['ephemeral', 'in_channel'] },
      replace_original: { type: 'boolean' },
      delete_original: { type: 'boolean' },
      thread_ts: ts,
      mrkdwn: { type: 'boolean' },
    },
  },
};

/** Fields Slack reads as JSON when they arrive form-encoded. */
export const jsonFields = ['blocks', 'attachments', 'files', 'metadata', 'file_ids'] as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>(Object.entries(methodSchemas).map(([m, s]) => [m, ajv.compile(s)]));

export interface SchemaVerdict {
  readonly valid: boolean;
  /** "/blocks/0/text/text must NOT have more than 75 characters" style lines. */
  readonly errors: string[];
  /** True when only the blocks failed, which Slack reports as `invalid_blocks` instead of `invalid_arguments`. */
  readonly blocksOnly: boolean;
}

export function validateArgs(method: string, args: Record<string, unknown>): SchemaVerdict {
  const validate = validators.get(method);
  if (!validate) return { valid: false, errors: [`no schema for ${method}`], blocksOnly: false };
  if (validate(args)) return { valid: true, errors: [], blocksOnly: false };
  const errors = (validate.errors ?? []).map(describe);
  const blocksOnly = (validate.errors ?? []).every((e) => e.instancePath.startsWith('/blocks'));
  return { valid: false, errors, blocksOnly };
}

function describe(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
}

/** Rules JSON Schema cannot say: unique block_ids per message and unique action_ids per block. */
export function blockRuleErrors(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const errors: string[] = [];
  const blockIds = new Set<string>();
  value.forEach((b: { block_id?: string; elements?: { action_id?: string }[] }, i) => {
    if (b.block_id !== undefined) {
      if (blockIds.has(b.block_id)) errors.push(`/blocks/${i}/block_id duplicate block_id ${b.block_id}`);
      blockIds.add(b.block_id);
    }
    const actionIds = new Set<string>();
    for (const el of Array.isArray(b.elements) ? b.elements : []) {
      if (el.action_id === undefined) continue;
      if (actionIds.has(el.action_id)) errors.push(`/blocks/${i} duplicate action_id ${el.action_id}`);
      actionIds.add(el.action_id);
    }
  });
  return errors;
}
