// Loads the configuration: defaults ← JSON file (CONFIG_FILE) ← .env ← the process environment, then validates.
// A bad value fails at start with the variable's name and what was expected.
import { readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { type BotConfig, configShape, configSchema, envName } from './schema.ts';

export class ConfigError extends Error {
  readonly code = 'bot_config';
  override get name(): string {
    return `ConfigError[${this.code}]`;
  }
}

export interface LoadConfigOptions {
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A .env file to read; missing is fine. @default '.env' in the working directory */
  readonly dotenvPath?: string | false;
}

const keys = Object.keys(configShape) as (keyof BotConfig)[];

export function loadConfig(options: LoadConfigOptions = {}): BotConfig {
  const processEnv = options.env ?? process.env;
  const dotenv = options.dotenvPath === false ? {} : readDotenv(options.dotenvPath ?? '.env');
  const env: Record<string, string | undefined> = { ...dotenv, ...processEnv };

  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  const file = env.CONFIG_FILE;
  if (file) {
    for (const [k, v] of Object.entries(readJsonFile(file))) {
      const key = keys.find((candidate) => candidate === k || envName(candidate) === k);
      if (!key) {
        throw new ConfigError(
          `Unknown option \`${k}\` in CONFIG_FILE ${file}. Expected one of: ${keys.map(envName).join(', ')} (or their camelCase names)`,
        );
      }
      raw[key] = v;
      source[key] = `${envName(key)} (in ${file})`;
    }
  }
  for (const key of keys) {
    const value = env[envName(key)];
    // An empty variable means "unset", as in most .env tooling.
    if (value !== undefined && value.trim() !== '') {
      raw[key] = value.trim();
      source[key] = envName(key);
    }
  }

  const result = configSchema.safeParse(raw);
  if (result.success) return result.data as BotConfig;
  const problems = new Map<string, string>();
  for (const issue of result.error.issues) {
    const key = String(issue.path[0]);
    if (problems.has(key)) continue;
    const got = raw[key];
    const shown = typeof got === 'string' ? got : JSON.stringify(got);
    problems.set(key, `Expected \`${source[key] ?? envName(key)}\` to be ${issue.message}, got \`${shown}\` (${typeof got})`);
  }
  throw new ConfigError([...problems.values()].join('\n'));
}

function readDotenv(path: string): Record<string, string> {
  try {
    return parseDotenv(readFileSync(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`Could not read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`Expected \`CONFIG_FILE\` to name a readable JSON file, got \`${path}\` (${(error as Error).message})`, {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Expected \`CONFIG_FILE\` ${path} to hold JSON: ${(error as Error).message}`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`Expected \`CONFIG_FILE\` ${path} to hold a JSON object of options`);
  }
  return value as Record<string, unknown>;
}
