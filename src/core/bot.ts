// Bot.dispatch: one input end to end. Acknowledge first, look the command or button up, execute, and send every
// error through one handler that turns it into the error's own safe `userMessage` (bolt-js handleError style).
import type { EventEmitter } from 'node:events';
import { parseButtonId } from './button-id.ts';
import { BotError, ErrorCode, asBotError } from './errors.ts';
import { missingJobMessage } from './job-retention.ts';
import type { Logger } from './logger.ts';
import type {
  BotCore,
  BotInput,
  ButtonContext,
  Command,
  CommandDefinition,
  CoreEvents,
  CoreServices,
  JobSurface,
  ModelInfo,
  Platform,
  Reply,
} from './types.ts';

/** Button handling, injected from commands/ (the core does not import commands/ itself). */
export interface ButtonHandlers {
  handle(context: ButtonContext): Promise<void>;
  isEphemeral(type: ButtonContext['action']['type']): boolean;
}

export interface BotOptions {
  readonly commands: readonly Command[];
  readonly buttons: ButtonHandlers;
  readonly services: CoreServices;
  readonly log: Logger;
  readonly attachSurface: (surface: JobSurface) => void;
  readonly detachSurface: (platform: Platform) => void;
  readonly events: EventEmitter;
  /** JOB_RETENTION_DAYS, so a button on a pruned job says why it is gone. @default 0 */
  readonly retentionDays?: number;
}

export class Bot implements BotCore {
  readonly commands: readonly CommandDefinition[];
  readonly services: CoreServices;
  readonly #byName: Map<string, Command>;
  readonly #o: BotOptions;

  constructor(options: BotOptions) {
    this.#o = options;
    this.services = options.services;
    this.commands = options.commands.map((c) => c.data);
    this.#byName = new Map(options.commands.map((c) => [c.data.name, c]));
  }

  get model(): ModelInfo {
    return this.services.model;
  }

  isEphemeral(input: BotInput): boolean {
    if (input.type === 'command') return this.#byName.get(input.name)?.data.ephemeral ?? true;
    try {
      return this.#o.buttons.isEphemeral(parseButtonId(input.customId).action.type);
    } catch {
      return true;
    }
  }

  async dispatch(input: BotInput, reply: Reply): Promise<void> {
    const started = performance.now();
    try {
      // Before any await on the store or the engine: platforms give 3 s.
      await reply.acknowledge({ ephemeral: this.isEphemeral(input) });
      if (input.type === 'command') {
        const command = this.#byName.get(input.name);
        if (!command) {
          const name = (neutral: string) => this.services.commandName(input.actor.platform, neutral);
          throw new BotError(ErrorCode.UnknownCommand, `unknown command ${input.name}`, `I don't know \`${name(input.name)}\`. Try ${name('help')}.`);
        }
        await command.execute({ input, reply, services: this.services });
      } else {
        const { jobId, action } = parseButtonId(input.customId);
        const job = await this.services.jobs.get(jobId);
        if (!job || job.platform !== input.actor.platform) {
          const imagine = this.services.commandName(input.actor.platform, 'imagine');
          throw new BotError(ErrorCode.NotFound, `button for missing job ${jobId}`, missingJobMessage(jobId, this.#o.retentionDays ?? 0, imagine));
        }
        await this.#o.buttons.handle({ input, reply, services: this.services, action, job });
      }
      this.#o.log.debug({ input: describe(input), ms: Math.round(performance.now() - started) }, 'input handled');
    } catch (thrown) {
      const error = asBotError(thrown);
      const expected = error.code !== ErrorCode.Unknown && error.code !== ErrorCode.Engine;
      this.#o.log[expected ? 'info' : 'error']({ input: describe(input), code: error.code, err: expected ? undefined : error }, error.message);
      this.#o.events.emit('inputRejected', input, error.code);
      try {
        await reply.ephemeral({ text: error.userMessage, tone: 'error' });
      } catch (replyError) {
        this.#o.log.warn({ input: describe(input), err: replyError }, 'could not deliver an error reply');
      }
    }
  }

  attachSurface(surface: JobSurface): void {
    this.#o.attachSurface(surface);
  }

  detachSurface(platform: Platform): void {
    this.#o.detachSurface(platform);
  }

  on<E extends keyof CoreEvents>(event: E, listener: (...args: CoreEvents[E]) => void): void {
    this.#o.events.on(event, listener as (...args: unknown[]) => void);
  }

  off<E extends keyof CoreEvents>(event: E, listener: (...args: CoreEvents[E]) => void): void {
    this.#o.events.off(event, listener as (...args: unknown[]) => void);
  }
}

function describe(input: BotInput) {
  const { platform, guildId, userId } = input.actor;
  return input.type === 'command' ? { platform, guildId, userId, command: input.name } : { platform, guildId, userId, button: input.customId.slice(0, 100) };
}
