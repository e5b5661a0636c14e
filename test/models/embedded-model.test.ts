// The shipped default model (models/, trained by training/): complete, small enough to commit, its tokenizer equal
// to the Python one, and drawing what prompts ask as the evaluation's judge sees it.
import assert from 'node:assert/strict';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ClipTokenizer, createEngine, defaultModelDir } from '../../engine/index.ts';
import type { Engine } from '../../engine/index.ts';
import { loadEvalSet, loadJudgeData } from '../../training/eval/eval-data.ts';
import { Judge } from '../../training/eval/judge.ts';
import { positionName } from '../../training/eval/score.ts';

const modelDir = defaultModelDir;

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, e) => sum + (e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}

test('the shipped model has every diffusers component and stays within 25 MB', () => {
  for (const f of ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt',
    'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx', 'README.md']) {
    assert.ok(existsSync(join(modelDir, f)), f);
  }
  assert.ok(folderBytes(modelDir) <= 25 * 1024 * 1024);
});

test('its tokenizer gives the ids the Python training tokenizer gave (one token per world word)', async () => {
  const tok = await ClipTokenizer.fromModelDir(modelDir);
  // golden ids from training/clip_tokenizer.py on the same files
  assert.deepEqual(tok.encodeForModel('a red circle on a blue background').inputIds.slice(0, 9), [659, 320, 638, 585, 628, 320, 577, 571, 660]);
  assert.equal(tok.maxLength, 32);
  assert.equal(tok.padTokenId, 660);
  assert.deepEqual(tok.tokenize('two small yellow stars at the top left'), ['two</w>', 'small</w>', 'yellow</w>', 'stars</w>', 'at</w>', 'the</w>', 'top</w>', 'left</w>']);
});

let engine: Engine;
let judge: Judge;
before(async () => {
  engine = await createEngine({ modelDir });
  const set = loadEvalSet();
  const data = loadJudgeData();
  judge = Judge.fit(set.palette, data.train.images, data.train.truths);
});
after(async () => {
  await engine.close();
});

test('it draws what the prompt asks, as the judge sees it', async () => {
  const { images } = await engine.generate({ prompt: 'a big red circle on a blue background', seed: 1, numImagesPerPrompt: 2 });
  assert.equal(images.length, 2);
  for (const img of images) {
    assert.equal(img.width, 64);
    const a = judge.analyse(img);
    assert.equal(a.background, 'blue');
    assert.ok(a.objects.some((o) => o.colour === 'red' && o.shape === 'circle'), JSON.stringify(a.objects.map((o) => [o.colour, o.shape])));
  }
});

test('it puts the object where the prompt says, with the same seeds', async () => {
  for (const [phrase, place] of [['at the top left', 'top left'], ['at the bottom right', 'bottom right'], ['on the left', 'left'], ['at the top', 'top']] as const) {
    const { images } = await engine.generate({ prompt: `a big yellow star ${phrase} on a purple background`, seed: 11, numImagesPerPrompt: 2 });
    for (const img of images) {
      const star = judge.analyse(img).objects.find((o) => o.colour === 'yellow');
      assert.ok(star, `no yellow object for "${phrase}"`);
      assert.equal(positionName(star.cx, star.cy, img.width, img.height), place, phrase);
    }
  }
});

test('the same seed gives the same image; another prompt gives another picture', async () => {
  const a = await engine.generate({ prompt: 'a yellow star on a black background', seed: 5 });
  const b = await engine.generate({ prompt: 'a yellow star on a black background', seed: 5 });
  const c = await engine.generate({ prompt: 'a white square on a green background', seed: 5 });
  assert.deepEqual(a.images[0].data, b.images[0].data);
  assert.notDeepEqual(a.images[0].data, c.images[0].data);
});
