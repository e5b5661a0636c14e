// Coded bot errors (bolt-js errors.ts style). Each error knows the safe text to show a user (`userMessage`); the
// developer-facing `message` may hold details. `Bot.dispatch` is the one place that turns them into replies.

export const ErrorCode = {
  Config: 'bot_config',
  Validation: 'bot_validation',
  UnknownCommand: 'bot_unknown_command',
  BadButton: 'bot_bad_button',
  NotFound: 'bot_not_found',
  Forbidden: 'bot_forbidden',
  BannedWord: 'bot_banned_word',
  QueueFull: 'bot_queue_full',
  UserLimit: 'bot_limit_user',
  GuildLimit: 'bot_limit_guild',
  Timeout: 'bot_timeout',
  Cancelled: 'bot_cancelled',
  /** The job's message could not be posted, so the job was cancelled rather than run unseen. */
  NoMessage: 'bot_no_message',
  Engine: 'sd_engine',
  Unknown: 'bot_unknown',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class BotError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly userMessage: string = message,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
  override get name(): string {
    return `BotError[${this.code}]`;
  }
}

/** A bad option or flag. `option` names it as the user typed it, e.g. `--steps`. */
export class ValidationError extends BotError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(ErrorCode.Validation, message, message);
  }
}

/** p-queue style: "Expected `--steps` to be an integer from 1 to 150, got `abc` (string)". */
export function expected(option: string, what: string, got: unknown): string {
  const shown = typeof got === 'string' ? got : JSON.stringify(got);
  const cut = shown !== undefined && shown.length > 40 ? `${shown.slice(0, 40)}…` : shown;
  return `Expected \`${option}\` to be ${what}, got \`${cut}\` (${typeof got})`;
}

/** Wrap anything thrown into a BotError, keeping the original as `cause`. */
export function asBotError(error: unknown): BotError {
  if (error instanceof BotError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('sd_engine')) {
    const message = error instanceof Error ? error.message : String(error);
    // A crashed worker is restarted for the next job, so the user only needs to try again.
    const userMessage =
      code === 'sd_engine_worker_crashed'
        ? 'The image engine crashed while working on this job and has restarted; press 🔄 to try again.'
        : code === 'sd_engine_invalid_input'
          ? // The engine's own check teaches the fix (e.g. a size or step count the model cannot take).
            `The image engine refused these parameters: ${message}`
          : 'The image engine failed on this job. Try again, or change the parameters.';
    return new BotError(ErrorCode.Engine, message, userMessage, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new BotError(ErrorCode.Unknown, message, 'Something went wrong on our side. Please try again.', { cause: error });
}
