// Keeps the import rules of the design true (style-anchors §7.2): engine/ knows nothing of chat, engine/index.ts is
// its only public surface, one module imports onnxruntime-node, adapters stay thin and apart.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const sourceDirs = ['src', 'commands', 'engine', 'config'];

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Edge {
  from: string;
  /** repo-relative path for relative imports, the package name otherwise */
  to: string;
}

function importsOf(file: string): Edge[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => m[1] ?? m[2],
  );
  return specifiers.map((s) => {
    if (!s.startsWith('.')) return { from: file, to: s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0] };
    return { from: file, to: relative(root, resolve(root, dirname(file), s)) };
  });
}

const edges = sourceDirs.flatMap(tsFiles).flatMap(importsOf);
const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
const isRepoPath = (to: string) => sourceDirs.some((d) => inside(to, d)) || inside(to, 'models') || inside(to, 'test');

function violations(rule: (e: Edge) => boolean): string[] {
  return edges.filter(rule).map((e) => `${e.from} → ${e.to}`);
}

test('the source tree is non-empty, so the rules below check something', () => {
  assert.ok(edges.length > 20, `only ${edges.length} imports found`);
});

test('only engine/runtime.ts imports onnxruntime-node', () => {
  assert.deepEqual(violations((e) => e.to.startsWith('onnxruntime-') && e.from !== 'engine/runtime.ts'), []);
});

test('engine/ imports nothing from the bot (src/, commands/, config/) and no chat SDK', () => {
  assert.deepEqual(
    violations(
      (e) =>
        inside(e.from, 'engine') &&
        ((isRepoPath(e.to) && !inside(e.to, 'engine')) || ['discord.js', '@slack/bolt', 'p-queue', 'keyv'].includes(e.to)),
    ),
    [],
  );
});

test('code outside engine/ uses only engine/index.ts', () => {
  assert.deepEqual(violations((e) => !inside(e.from, 'engine') && inside(e.to, 'engine') && e.to !== 'engine/index.ts'), []);
});

test('config/ imports nothing else from the repo', () => {
  assert.deepEqual(violations((e) => inside(e.from, 'config') && isRepoPath(e.to) && !inside(e.to, 'config')), []);
});

test('commands/ and src/core/ import no platform SDK and no adapter', () => {
  assert.deepEqual(
    violations(
      (e) =>
        (inside(e.from, 'commands') || inside(e.from, 'src/core')) &&
        (['discord.js', '@slack/bolt', '@slack/web-api', '@slack/socket-mode'].includes(e.to) || inside(e.to, 'src/adapters')),
    ),
    [],
  );
});

test('each chat SDK is imported by its own adapter only', () => {
  const owner: Record<string, string> = { 'discord.js': 'src/adapters/discord', '@slack/bolt': 'src/adapters/slack' };
  assert.deepEqual(violations((e) => e.to in owner && !inside(e.from, owner[e.to])), []);
});

test('adapters do not import each other', () => {
  const adapterOf = (p: string) => (inside(p, 'src/adapters') ? p.split('/')[2] : undefined);
  assert.deepEqual(
    violations((e) => adapterOf(e.from) !== undefined && adapterOf(e.to) !== undefined && adapterOf(e.from) !== adapterOf(e.to)),
    [],
  );
});

test('a scheduler does not import another scheduler', () => {
  // The interface and the shared maths; every other file in engine/schedulers/ (but index.ts) is a scheduler.
  const shared = new Set(
    ['scheduler', 'config', 'numeric', 'schedule', 'sigmas', 'cursor', 'step'].map((name) => `engine/schedulers/${name}.ts`),
  );
  // A stale entry would let a scheduler of that name import freely, and no schedulers left would check nothing.
  const files = new Set(tsFiles('engine/schedulers'));
  assert.deepEqual([...shared].filter((f) => !files.has(f)), []);
  assert.ok([...files].filter((f) => !shared.has(f) && f !== 'engine/schedulers/index.ts').length >= 6);
  assert.deepEqual(
    violations(
      (e) =>
        inside(e.from, 'engine/schedulers') &&
        e.from !== 'engine/schedulers/index.ts' &&
        inside(e.to, 'engine/schedulers') &&
        !shared.has(e.to),
    ),
    [],
  );
});
