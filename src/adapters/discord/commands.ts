// Neutral command definitions → Discord slash-command JSON (bulk-overwrite body).
import { ApplicationCommandOptionType, type RESTPutAPIApplicationCommandsJSONBody } from 'discord.js';
import type { CommandDefinition, CommandOption } from '../../core/types.ts';

type SlashCommand = RESTPutAPIApplicationCommandsJSONBody[number];
type SlashOption = NonNullable<Extract<SlashCommand, { options?: unknown }>['options']>[number];

const optionTypes = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  number: ApplicationCommandOptionType.Number,
  boolean: ApplicationCommandOptionType.Boolean,
} as const;

function toOption(o: CommandOption): SlashOption {
  return {
    type: optionTypes[o.type],
    name: o.name,
    description: o.description.slice(0, 100),
    required: o.required ?? false,
    ...(o.min !== undefined ? { min_value: o.min } : {}),
    ...(o.max !== undefined ? { max_value: o.max } : {}),
    ...(o.minLength !== undefined ? { min_length: o.minLength } : {}),
    ...(o.maxLength !== undefined ? { max_length: Math.min(o.maxLength, 6000) } : {}),
    ...(o.choices ? { choices: o.choices.slice(0, 25).map((c) => ({ name: c.name, value: c.value })) } : {}),
  } as SlashOption;
}

/** Discord wants required options before optional ones. */
export function toSlashCommands(definitions: readonly CommandDefinition[]): RESTPutAPIApplicationCommandsJSONBody {
  return definitions.map((d) => ({
    type: 1,
    name: d.name,
    description: d.description.slice(0, 100),
    options: [...d.options].sort((a, b) => Number(b.required ?? false) - Number(a.required ?? false)).map(toOption),
    // Usable in guilds, in DMs with the bot and in private channels; installed to guilds.
    contexts: [0, 1, 2],
    integration_types: [0],
  })) as RESTPutAPIApplicationCommandsJSONBody;
}
