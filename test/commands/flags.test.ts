import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ImagineFlags, formatFlags, parseFlags, samplerNames, sizeFor } from '../../commands/flags.ts';
import { parseImagine } from '../../commands/imagine.ts';
import { ValidationError } from '../../src/core/errors.ts';

const bounds = { maxPromptLength: 1000, maxSteps: 150 };
const parse = (text: string) => parseFlags(text, bounds);

function rejects(text: string, option: string, message: RegExp | string): void {
  assert.throws(
    () => parse(text),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError, `not a ValidationError: ${String(e)}`);
      assert.equal(e.option, option);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.userMessage, e.message);
      return true;
    },
  );
}

test('parses every flag into diffusers names', () => {
  assert.deepEqual(parse('a red fox, snow --ar 3:2 --seed 42 --no trees, people --steps 25 --guidance 7.5 --sampler euler_a --n 2'), {
    prompt: 'a red fox, snow',
    aspectRatio: '3:2',
    seed: 42,
    negativePrompt: 'trees, people',
    numInferenceSteps: 25,
    guidanceScale: 7.5,
    sampler: 'euler_a',
    numImagesPerPrompt: 2,
  });
  assert.deepEqual(parse('fox --cfg 3 —ar 16:9 --SEED 4294967295'), { prompt: 'fox', guidanceScale: 3, aspectRatio: '16:9', seed: 4294967295 });
  assert.deepEqual(parse('  just a prompt  '), { prompt: 'just a prompt' });
  assert.deepEqual(parse('a well--known cat'), { prompt: 'a well--known cat' });
});

test('every bad flag names the flag and the allowed range', () => {
  rejects('fox --seed 4294967296', '--seed', 'Expected `--seed` to be an integer from 0 to 4294967295, got `4294967296` (string)');
  rejects('fox --seed -1', '--seed', /an integer from 0 to 4294967295, got `-1`/);
  rejects('fox --steps 0', '--steps', 'Expected `--steps` to be an integer from 1 to 150, got `0` (string)');
  rejects('fox --steps abc', '--steps', 'Expected `--steps` to be an integer from 1 to 150, got `abc` (string)');
  rejects('fox --steps 20 30', '--steps', /got `20 30`/);
  rejects('fox --guidance 31', '--guidance', 'Expected `--guidance` to be a number from 0 to 30, got `31` (string)');
  rejects('fox --cfg nan', '--guidance', /a number from 0 to 30/);
  rejects('fox --n 5', '--n', 'Expected `--n` to be an integer from 1 to 4, got `5` (string)');
  rejects('fox --ar 5:1', '--ar', /ratio W:H .* between 1:4 and 4:1/);
  rejects('fox --ar wide', '--ar', /got `wide`/);
  rejects('fox --sampler heun', '--sampler', /one of euler, euler_a, ddim, pndm, dpm\+\+2m, dpm\+\+2m_karras, lcm, got `heun`/);
  rejects('fox --no', '--no', /the words to avoid/);
  rejects('fox --seed', '--seed', /got `` \(string\)/);
});

test('unknown and repeated flags are errors, not ignored', () => {
  rejects('fox --chaos 50', '--chaos', /Unknown flag `--chaos`. Flags are: --ar, --seed, --no, --steps, --guidance, --sampler, --n/);
  rejects('fox -- bar', '--', /without a flag name/);
  rejects('fox --seed 1 --seed 2', '--seed', '`--seed` is given twice; give it once');
  rejects('fox --cfg 1 --guidance 2', '--guidance', /given twice/);
});

test('prompt is required and bounded', () => {
  rejects('--ar 1:1', 'prompt', /Expected a prompt before the flags/);
  rejects('', 'prompt', /Expected a prompt/);
  rejects('x'.repeat(1001), 'prompt', /at most 1000 characters \(flags included\), got 1001/);
});

test('typed options merge with flags; the same parameter both ways is an error', () => {
  assert.deepEqual(parseImagine({ prompt: 'fox --ar 2:3', seed: 7, guidance: 4.5, sampler: 'DDIM' }, bounds), {
    prompt: 'fox',
    aspectRatio: '2:3',
    seed: 7,
    guidanceScale: 4.5,
    sampler: 'ddim',
  });
  assert.throws(() => parseImagine({ prompt: 'fox --seed 1', seed: 2 }, bounds), /`--seed` is given twice \(in the prompt and as an option\)/);
  assert.throws(() => parseImagine({ prompt: 'fox', steps: 151 }, bounds), /`--steps` to be an integer from 1 to 150, got `151`/);
  assert.throws(() => parseImagine({ prompt: 'fox', style: 'raw' }, bounds), /Unknown option `style`/);
});

test('--ar keeps the native short side and rounds the long one to the model\'s size multiple', () => {
  assert.deepEqual(sizeFor(undefined, { width: 512, height: 512, sizeMultiple: 64 }), { width: 512, height: 512 });
  assert.deepEqual(sizeFor('1:1', { width: 64, height: 64, sizeMultiple: 16 }), { width: 64, height: 64 });
  assert.deepEqual(sizeFor('3:2', { width: 512, height: 512, sizeMultiple: 64 }), { width: 768, height: 512 });
  assert.deepEqual(sizeFor('3:2', { width: 64, height: 64, sizeMultiple: 16 }), { width: 96, height: 64 });
  assert.deepEqual(sizeFor('2:3', { width: 64, height: 64, sizeMultiple: 16 }), { width: 64, height: 96 });
  assert.deepEqual(sizeFor('7:4', { width: 64, height: 64, sizeMultiple: 8 }), { width: 112, height: 64 });
  assert.deepEqual(sizeFor('16:9', { width: 512, height: 512, sizeMultiple: 64 }), { width: 896, height: 512 });
  assert.deepEqual(sizeFor('1:4', { width: 512, height: 512, sizeMultiple: 64 }), { width: 512, height: 2048 });
  for (const [w, h] of [[7, 3], [2, 5], [64, 63]]) {
    const size = sizeFor(`${w}:${h}`, { width: 512, height: 512, sizeMultiple: 64 });
    assert.equal(size.width % 64, 0);
    assert.equal(size.height % 64, 0);
    assert.ok(Math.abs(size.width / size.height - w / h) < 0.1, `${w}:${h} → ${size.width}×${size.height}`);
  }
});

const validFlags = fc.record(
  {
    prompt: fc
      .stringMatching(/^[a-z0-9 ,.'!?-]{1,60}$/)
      .map((s) => s.replace(/(^|\s)-+/g, '$1').trim())
      .filter((s) => s.length > 0),
    negativePrompt: fc.stringMatching(/^[a-z0-9,.']([a-z0-9 ,.']{0,30}[a-z0-9,.'])?$/),
    aspectRatio: fc
      .tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }))
      .filter(([w, h]) => w / h <= 4 && h / w <= 4)
      .map(([w, h]) => `${w}:${h}`),
    seed: fc.integer({ min: 0, max: 4294967295 }),
    numInferenceSteps: fc.integer({ min: 1, max: 150 }),
    guidanceScale: fc.integer({ min: 0, max: 3000 }).map((x) => x / 100),
    sampler: fc.constantFrom(...samplerNames),
    numImagesPerPrompt: fc.integer({ min: 1, max: 4 }),
  },
  { requiredKeys: ['prompt'] },
) as fc.Arbitrary<ImagineFlags>;

test('property: any valid flag combination round-trips through text', () => {
  fc.assert(
    fc.property(validFlags, (flags) => {
      const { prompt, ...rest } = flags;
      const text = `${prompt} ${formatFlags(rest)}`;
      assert.deepEqual(parse(text), { ...flags });
    }),
    { numRuns: 500 },
  );
});

test('property: garbage never throws anything but a ValidationError', () => {
  const flagish = fc.constantFrom('--ar', '--seed', '--no', '--steps', '--guidance', '--cfg', '--sampler', '--n', '--', '—', '--x', ':', '1', '-1', '1e3', '0x10', ' ', '\n', '4294967296', 'NaN');
  const garbage = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.array(fc.oneof(flagish, fc.string({ maxLength: 8 })), { maxLength: 20 }).map((parts) => parts.join(' ')),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
  );
  fc.assert(
    fc.property(garbage, (text) => {
      try {
        const flags = parse(text);
        assert.ok(flags.prompt.length > 0);
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
