// Neutral command definitions → Slack slash commands. A Slack command carries one text argument: commands with a
// `textOption` (imagine's prompt, with its --flags; cancel's job id) take the text as that option, the others take
// `name=value` pairs, e.g. `/imagine-settings ar=3:2 steps=30 scope=server`.
import { ValidationError } from '../../core/errors.ts';
import type { CommandDefinition, OptionValue } from '../../core/types.ts';

/** `/imagine` keeps its name; the others get a prefix, since slash commands share one namespace per workspace. */
export function slashName(definition: Pick<CommandDefinition, 'name'>): string {
  return definition.name === 'imagine' ? '/imagine' : `/imagine-${definition.name}`;
}

/** `a=1 b="two words" flag` → [['a','1'], ['b','two words'], ['flag', undefined]]. Slack turns quotes into “ ”. */
function tokens(text: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  const re = /([^\s=:]+)(?:\s*[=:]\s*(?:["“”]([^"“”]*)["“”]|(\S+)))?/g;
  for (const m of text.matchAll(re)) out.push([m[1], m[2] ?? m[3]]);
  return out;
}

export function optionsFromText(definition: CommandDefinition, text: string): Record<string, OptionValue> {
  const trimmed = text.trim();
  if (definition.textOption !== undefined) return trimmed === '' ? {} : { [definition.textOption]: trimmed };
  const options: Record<string, OptionValue> = {};
  const names = definition.options.map((o) => o.name).join(', ');
  for (const [name, raw] of tokens(trimmed)) {
    const option = definition.options.find((o) => o.name === name.toLowerCase());
    if (!option) {
      throw new ValidationError(name, `Unknown option \`${name}\` for ${slashName(definition)}. Options are: ${names || '(none)'}; write them as \`name=value\``);
    }
    if (Object.hasOwn(options, option.name)) throw new ValidationError(name, `\`${name}\` is given twice; give it once`);
    if (option.type === 'boolean') {
      const value = (raw ?? 'true').toLowerCase();
      if (!['true', 'yes', 'false', 'no'].includes(value)) throw new ValidationError(name, `Expected \`${name}\` to be true or false, got \`${raw}\``);
      options[option.name] = value === 'true' || value === 'yes';
      continue;
    }
    if (raw === undefined) throw new ValidationError(name, `Expected a value for \`${name}\`, e.g. \`${name}=…\``);
    // A choice may be given by its label or its value (`scope=server` or `scope=guild`).
    const choice = option.choices?.find((c) => String(c.value) === raw || c.name.toLowerCase().split(' ')[0] === raw.toLowerCase());
    if (choice) options[option.name] = choice.value;
    else if ((option.type === 'integer' || option.type === 'number') && /^-?\d+(\.\d+)?$/.test(raw)) options[option.name] = Number(raw);
    else options[option.name] = raw;
  }
  return options;
}
