// `npm run bench`: runs every benchmark the project has and writes one summary table, with the machine described, at
// the top of BENCHMARKS.md (between `bench:summary` markers; the benchmarks' own sections below are left alone).
//
// A benchmark module exports a function whose name starts with `run` (e.g. `runQueueBench`) returning `BenchRow[]`
// (bench/rows.ts). A module that is only a script is run as a child process instead, and the rows of its printed
// markdown tables whose first cell is bold (`| **overhead ratio** | … |`) become its headline figures.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchRow } from './rows.ts';

const root = resolve(import.meta.dirname, '..');
const benchmarks = ['engine', 'queue', 'discord', 'playground'];

function machine(): string {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpu = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const ort = (JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  return `${cpu}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${process.platform}/${process.arch}; Node ${process.version}, onnxruntime-node ${ort}`;
}

/** Headline rows from a script's printed markdown: table rows whose first cell is bold, extra columns named. */
export function headlineRows(benchmark: string, output: string): BenchRow[] {
  const cellsOf = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim().replace(/\*\*/g, ''));
  const lines = output.split('\n');
  const rows: BenchRow[] = [];
  let header: string[] = [];
  lines.forEach((line, i) => {
    if (/^\|\s*-/.test(lines[i + 1] ?? '')) header = cellsOf(line);
    if (!/^\|\s*\*\*/.test(line)) return;
    const cells = cellsOf(line);
    const value = header[1] && cells.length > 2 ? `${cells[1]} (${header[1]})` : cells[1];
    const notes = cells
      .slice(2)
      .map((c, k) => (header[k + 2] ? `${header[k + 2]}: ${c}` : c))
      .join('; ');
    rows.push({ benchmark, metric: cells[0], value, notes });
  });
  return rows;
}

async function run(name: string): Promise<BenchRow[]> {
  const file = join(root, 'bench', `${name}.ts`);
  if (!existsSync(file)) return [{ benchmark: name, metric: '(not run)', value: '—', notes: `bench/${name}.ts does not exist yet` }];
  const source = readFileSync(file, 'utf8');
  const exported = /export\s+(?:async\s+)?function\s+(run\w*)\s*\(/.exec(source)?.[1];
  const started = performance.now();
  console.error(`▶ bench/${name}.ts${exported ? ` → ${exported}()` : ' (as a script)'}`);
  try {
    let rows: BenchRow[];
    if (exported) {
      const module = (await import(pathToFileURL(file).href)) as Record<string, () => Promise<BenchRow[]>>;
      rows = await module[exported]();
    } else {
      const child = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      process.stderr.write(child.stderr);
      if (child.status !== 0) throw new Error(`exited with ${child.status}: ${child.stderr.trim().split('\n').slice(-3).join(' ')}`);
      rows = headlineRows(name, child.stdout);
      if (rows.length === 0) rows = [{ benchmark: name, metric: '(no headline figures printed)', value: '—', notes: 'see its own section' }];
    }
    console.error(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return rows;
  } catch (error) {
    console.error(`  failed: ${(error as Error).message}`);
    return [{ benchmark: name, metric: '(failed)', value: '—', notes: (error as Error).message.replace(/\|/g, '/').slice(0, 200) }];
  }
}

function table(rows: BenchRow[]): string {
  const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return ['| benchmark | measure | result | setup |', '|---|---|---|---|', ...rows.map((r) => `| ${cell(r.benchmark)} | ${cell(r.metric)} | ${cell(r.value)} | ${cell(r.notes)} |`)].join('\n');
}

export async function main(only: string[] = process.argv.slice(2)): Promise<string> {
  const rows: BenchRow[] = [];
  for (const name of benchmarks.filter((b) => only.length === 0 || only.includes(b))) rows.push(...(await run(name)));
  const section = [
    '<!-- bench:summary:start -->',
    '## Summary (`npm run bench`)',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}.`,
    '',
    table(rows),
    '<!-- bench:summary:end -->',
  ].join('\n');
  const file = join(root, 'BENCHMARKS.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const pattern = /<!-- bench:summary:start -->[\s\S]*?<!-- bench:summary:end -->/;
  let next: string;
  if (pattern.test(current)) next = current.replace(pattern, section);
  else {
    // Right under the title, above the per-benchmark sections.
    const title = /^# .*\n/.exec(current);
    next = title ? `${title[0]}\n${section}\n${current.slice(title[0].length)}` : `# Benchmarks\n\n${section}\n\n${current}`;
  }
  writeFileSync(file, next);
  console.log(section);
  return section;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
  // A benchmark may leave a handle open (a worker, a socket); the table is written, so end here.
  process.exit(0);
}
