// Structured logs (pino). Secrets never reach the log: known fields are redacted by path, and token-shaped strings
// (Slack/Discord tokens, passwords in URLs, bearer headers) are masked wherever they appear in messages or values.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const secretKeys = [
  'token',
  'discordToken',
  'slackBotToken',
  'slackAppToken',
  'slackSigningSecret',
  'signingSecret',
  'secret',
  'password',
  'authorization',
  'Authorization',
  'cookie',
  'redisUrl',
  'DISCORD_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'REDIS_URL',
];

/** pino redaction paths: each secret key at the top level and up to two levels down. */
export const redactPaths = secretKeys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers.${k.toLowerCase()}`, `*.headers.${k.toLowerCase()}`]);

const secretPatterns: RegExp[] = [
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/g, // Slack bot/user tokens
  /\bxapp-[A-Za-z0-9-]{8,}/g, // Slack app-level tokens
  /\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}\b/g, // Discord bot tokens
  /\b(Bot|Bearer)\s+[A-Za-z0-9._~+/-]{16,}=*/g,
  /(?<=[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+(?=@)/gi, // password in a URL
];

export function scrub(text: string): string {
  let out = text;
  for (const pattern of secretPatterns) out = out.replace(pattern, (m) => (/^(Bot|Bearer)\s/.test(m) ? `${m.split(/\s+/)[0]} [Redacted]` : '[Redacted]'));
  return out;
}

function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const copy = new Error(scrub(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : scrub(value.stack);
    return Object.assign(copy, scrubDeep({ ...value }, depth + 1));
  }
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, depth + 1));
  if (ArrayBuffer.isView(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, depth + 1)]));
}

export interface LoggerOptions {
  readonly level?: string;
  /** @default stdout */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: '[Redacted]' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => scrubDeep(a)) as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
}
