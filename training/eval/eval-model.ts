// `npm run eval:model [-- --model-dir DIR] [--limit N] [--out DIR]`: scores prompt adherence of the model
// through the TypeScript engine on the fixed prompt set, at guidance 5 and 1, with the analytic judge
// validated first on the generator's own ground-truth images. Writes results.json, a markdown table and a
// 16-prompt contact sheet.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine, encodePng } from '../../engine/index.ts';
import type { RgbImage } from '../../engine/index.ts';
import { loadEvalSet, loadJudgeData } from './eval-data.ts';
import { Judge } from './judge.ts';
import { score, summarise } from './score.ts';
import type { EvalPrompt, PromptScore, Summary } from './score.ts';
import { tile } from './tile.ts';

const { values } = parseArgs({
  options: {
    'model-dir': { type: 'string' },
    limit: { type: 'string' },
    out: { type: 'string', default: 'artifacts/eval-model' },
    guidance: { type: 'string', default: '5,1' },
    steps: { type: 'string', default: '20' },
  },
});

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const pct = (x: number): string => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}%`);

function row(name: string, s: Summary): string {
  return `| ${name} | ${s.prompts} | ${pct(s.colour)} | ${pct(s.shape)} | ${pct(s.colourShape)} | ${pct(s.position)} | ${pct(s.count)} |`;
}

function breakdown(prompts: readonly EvalPrompt[], scores: readonly PromptScore[]): Record<string, Summary> {
  const pick = (f: (p: EvalPrompt) => boolean): Summary => summarise(scores.filter((_, i) => f(prompts[i])));
  return {
    all: pick(() => true),
    seen: pick((p) => !p.heldOut),
    heldOut: pick((p) => p.heldOut),
    position: pick((p) => p.category === 'position'),
    single: pick((p) => p.category === 'single'),
    pair: pick((p) => p.category === 'pair'),
    count: pick((p) => p.category === 'count'),
  };
}

function table(title: string, b: Record<string, Summary>): string {
  const lines = [
    `**${title}**`,
    '',
    '| prompts | n | colour | shape | colour+shape | position | count |',
    '|---|---|---|---|---|---|---|',
    ...Object.entries(b).map(([k, s]) => row(k, s)),
  ];
  return lines.join('\n');
}

const set = loadEvalSet();
const data = loadJudgeData();
const judge = Judge.fit(set.palette, data.train.images, data.train.truths);
const limit = values.limit ? Number(values.limit) : set.prompts.length;
const prompts = set.prompts.slice(0, limit);

// 1. the judge on real procedural images of the same prompts
const truthScores = prompts.map((p, i) => score(p, judge.analyse(data.validation.images[i]), set.width, set.height));
const judgeCheck = breakdown(prompts, truthScores);
log(table('Judge on procedural ground truth', judgeCheck));

// 2. the model through the engine
const engine = await createEngine(values['model-dir'] ? { modelDir: values['model-dir'] } : {});
const steps = Number(values.steps);
const results: Record<string, { summary: Record<string, Summary>; scores: PromptScore[] }> = {};
const sheet: RgbImage[] = [];
const sheetIds = [0, 1, 2, 3, 42, 43, 60, 61, 120, 121, 160, 161, 162, 200, 201, 202].filter((i) => i < prompts.length);
const started = performance.now();
for (const g of values.guidance.split(',').map(Number)) {
  const scores: PromptScore[] = [];
  for (const p of prompts) {
    const { images } = await engine.generate({ prompt: p.prompt, seed: p.seed, numInferenceSteps: steps, guidanceScale: g, numImagesPerPrompt: 1, width: set.width, height: set.height });
    scores.push(score(p, judge.analyse(images[0]), set.width, set.height));
    if (g === 5 && sheetIds.includes(p.id)) sheet.push(images[0]);
  }
  results[`guidance ${g}`] = { summary: breakdown(prompts, scores), scores };
  log(table(`Model, ${steps} steps, guidance ${g}`, results[`guidance ${g}`].summary));
}
const evalSeconds = (performance.now() - started) / 1000;

// 3. speed: a 2×2 grid at the model's defaults
const grid = { prompt: 'a red circle on a blue background', seed: 7, numImagesPerPrompt: 4 };
await engine.generate(grid); // warm-up
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  await engine.generate(grid);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
await engine.close();

const out = values.out;
mkdirSync(out, { recursive: true });
const report = {
  model: engine.info.name,
  modelDir: engine.info.modelDir,
  steps,
  judgeOnGroundTruth: judgeCheck,
  results: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.summary])),
  perPrompt: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.scores])),
  grid2x2MedianMs: times[2],
  grid2x2Ms: times,
  evalSeconds,
};
writeFileSync(join(out, 'results.json'), `${JSON.stringify(report, null, 1)}\n`);
const md = [
  table('Judge on procedural ground truth', judgeCheck),
  ...Object.entries(results).map(([k, v]) => table(`Model, ${steps} steps, ${k}`, v.summary)),
  `2×2 grid (4 images, default settings) median ${times[2].toFixed(0)} ms over 5 runs.`,
].join('\n\n');
writeFileSync(join(out, 'results.md'), `${md}\n`);
if (sheet.length) {
  writeFileSync(join(out, 'contact-sheet.png'), await encodePng(tile(sheet, 4, 2)));
  writeFileSync(join(out, 'contact-sheet.txt'), sheetIds.map((i, k) => `${k + 1}. ${prompts[i].prompt} (seed ${prompts[i].seed})`).join('\n') + '\n');
}
log(md);
log(`wrote ${out}/results.json, results.md, contact-sheet.png`);
