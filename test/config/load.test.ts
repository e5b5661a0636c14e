import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../config/defaults.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { configShape, envName } from '../../config/schema.ts';

const load = (env: Record<string, string>) => loadConfig({ env, dotenvPath: false });

test('with nothing set, every option has its documented default', () => {
  const config = load({});
  for (const [key, value] of Object.entries(defaultConfig)) {
    assert.deepEqual((config as unknown as Record<string, unknown>)[key], value, key);
  }
});

test('environment values are parsed to their types', () => {
  const config = load({
    QUEUE_MAX_PER_USER: '5',
    QUEUE_GUILD_WEIGHTS: 'discord:1=2, slack:T9=0.5',
    BANNED_WORDS: 'foo, bar ,',
    PLAYGROUND: 'off',
    ENGINE_FALLBACK_CPU: 'yes',
    DEFAULT_GUIDANCE_SCALE: '7.5',
    REDIS_URL: 'redis://localhost:6379',
    LOG_LEVEL: 'debug',
  });
  assert.equal(config.queueMaxPerUser, 5);
  assert.deepEqual(config.queueGuildWeights, { 'discord:1': 2, 'slack:T9': 0.5 });
  assert.deepEqual(config.bannedWords, ['foo', 'bar']);
  assert.equal(config.playground, false);
  assert.equal(config.engineFallbackCpu, true);
  assert.equal(config.defaultGuidanceScale, 7.5);
  assert.equal(config.redisUrl, 'redis://localhost:6379');
  assert.equal(config.logLevel, 'debug');
});

test('a bad value names the variable, what was expected and what it got', () => {
  const cases: [Record<string, string>, string][] = [
    [{ QUEUE_MAX_PER_USER: 'abc' }, 'Expected `QUEUE_MAX_PER_USER` to be an integer from 1 to 1000, got `abc` (string)'],
    [{ QUEUE_MAX_PER_USER: '2.5' }, 'Expected `QUEUE_MAX_PER_USER` to be an integer from 1 to 1000, got `2.5` (string)'],
    [{ PORT: '70000' }, 'Expected `PORT` to be an integer from 0 to 65535, got `70000` (string)'],
    [{ PLAYGROUND: 'maybe' }, 'Expected `PLAYGROUND` to be one of true/false, on/off, yes/no, 1/0, got `maybe` (string)'],
    [{ ENGINE_DEVICE: 'tpu' }, 'Expected `ENGINE_DEVICE` to be one of cpu, cuda, webgpu, got `tpu` (string)'],
    [{ REDIS_URL: 'localhost' }, 'Expected `REDIS_URL` to be a URL like http://host:port, got `localhost` (string)'],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => load(env), (e: unknown) => e instanceof ConfigError && e.message === message && e.code === 'bot_config');
  }
  assert.throws(() => load({ QUEUE_GUILD_WEIGHTS: 'discord:1=heavy' }), /QUEUE_GUILD_WEIGHTS.*key=number pairs/);
});

test('CONFIG_FILE supplies options under either name; the environment wins; unknown keys are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'bot.json');
  writeFileSync(file, JSON.stringify({ queueMaxPerGuild: 7, QUEUE_MAX_TOTAL: 9, PORT: 1234 }));
  const config = load({ CONFIG_FILE: file, PORT: '4321' });
  assert.equal(config.queueMaxPerGuild, 7);
  assert.equal(config.queueMaxTotal, 9);
  assert.equal(config.port, 4321);

  writeFileSync(file, JSON.stringify({ queueMaxPerGuild: 0 }));
  assert.throws(() => load({ CONFIG_FILE: file }), /Expected `QUEUE_MAX_PER_GUILD \(in .*bot\.json\)` to be an integer from 1 to 100000, got `0`/);
  writeFileSync(file, JSON.stringify({ colour: 'red' }));
  assert.throws(() => load({ CONFIG_FILE: file }), /Unknown option `colour`/);
  assert.throws(() => load({ CONFIG_FILE: join(dir, 'missing.json') }), /CONFIG_FILE/);
});

test('a .env file is read, and the process environment overrides it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const path = join(dir, '.env');
  writeFileSync(path, 'QUEUE_MAX_PER_USER=4\nPORT=5555\n');
  const config = loadConfig({ env: { PORT: '6666' }, dotenvPath: path });
  assert.equal(config.queueMaxPerUser, 4);
  assert.equal(config.port, 6666);
});

test('.env.example lists every variable', () => {
  const example = readFileSync(resolve(import.meta.dirname, '../../.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
  const missing = Object.keys(configShape).map(envName).filter((name) => !listed.has(name));
  assert.deepEqual(missing, []);
  assert.ok(listed.has('CONFIG_FILE'));
});
