import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RgbImage } from '../../../engine/index.ts';
import { loadEvalSet, loadJudgeData } from '../../../training/eval/eval-data.ts';
import { Judge, segment } from '../../../training/eval/judge.ts';
import { positionName, score, summarise } from '../../../training/eval/score.ts';

const set = loadEvalSet();
const data = loadJudgeData();

test('the eval set has at least 200 prompts with fixed seeds, a quarter on held-out combinations', () => {
  assert.ok(set.prompts.length >= 200);
  const heldOut = set.prompts.filter((p) => p.heldOut);
  assert.ok(heldOut.length >= set.prompts.length / 4);
  const combos = new Set(set.heldOutCombos.map(([c, s]) => `${c} ${s}`));
  for (const p of heldOut) assert.ok(p.objects.some((o) => combos.has(`${o.colour} ${o.shape}`)), p.prompt);
  assert.equal(new Set(set.prompts.map((p) => p.seed)).size, set.prompts.length);
});

test('the judge scores the generator’s own ground-truth images (almost) perfectly', () => {
  const judge = Judge.fit(set.palette, data.train.images, data.train.truths);
  const scores = set.prompts.map((p, i) => score(p, judge.analyse(data.validation.images[i]), set.width, set.height));
  const s = summarise(scores);
  for (const k of ['colour', 'shape', 'colourShape', 'position', 'count'] as const) assert.ok(s[k] >= 0.97, `${k} ${s[k]}`);
});

test('the judge fails images that do not show the prompt', () => {
  const judge = Judge.fit(set.palette, data.train.images, data.train.truths);
  // score every prompt against the ground truth of a different prompt
  const shifted = set.prompts.map((p, i) => score(p, judge.analyse(data.validation.images[(i + 7) % set.prompts.length]), set.width, set.height));
  const s = summarise(shifted);
  assert.ok(s.colourShape < 0.3, `colour+shape on mismatched images ${s.colourShape}`);
  assert.ok(s.position < 0.4, `position on mismatched images ${s.position}`);
});

test('a blank image has no objects and its background is the palette colour nearest to it', () => {
  const img: RgbImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => [30, 70, 225][i % 3]) };
  const a = segment(img, set.palette);
  assert.equal(a.background, 'blue');
  assert.deepEqual(a.objects, []);
});

test('positions are the 3×3 cells of the canvas', () => {
  assert.equal(positionName(32, 32, 64, 64), 'centre');
  assert.equal(positionName(5, 5, 64, 64), 'top left');
  assert.equal(positionName(60, 32, 64, 64), 'right');
  assert.equal(positionName(32, 63, 64, 64), 'bottom');
  assert.equal(positionName(90, 60, 96, 64), 'bottom right');
});
