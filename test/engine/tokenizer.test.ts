// Expected ids come from the fixture vocabulary (test/fixtures/clip, derived from OpenAI's BPE file) by hand:
// a whole word w maps to vocab["w</w>"]; byte tokens are ids 0-255 (and +256 with </w>); a merge of rank r makes
// token 512 + r. Comments name the token strings behind each id.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EngineError } from '../../engine/errors.ts';
import { ClipTokenizer } from '../../engine/tokenizer.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'clip');
const BOS = 49406;
const EOS = 49407;

let tok: ClipTokenizer;
let vocab: Record<string, number>;
let ranks: Map<string, number>;
let vocabJson: string;
let mergesTxt: string;

before(async () => {
  vocabJson = await readFile(join(FIXTURE, 'vocab.json'), 'utf8');
  mergesTxt = await readFile(join(FIXTURE, 'merges.txt'), 'utf8');
  vocab = JSON.parse(vocabJson) as Record<string, number>;
  ranks = new Map(
    mergesTxt
      .trim()
      .split('\n')
      .slice(1)
      .map((line, rank) => [line, rank]),
  );
  tok = await ClipTokenizer.fromModelDir(FIXTURE);
});

describe('ClipTokenizer on the CLIP vocabulary', () => {
  test('the fixture has CLIP’s shape: 49408 tokens, BOS 49406, EOS 49407, pad EOS, 77 positions', () => {
    assert.equal(Object.keys(vocab).length, 49408);
    assert.equal(ranks.size, 48894);
    assert.equal(tok.vocabSize, 49408);
    assert.equal(tok.bosTokenId, BOS);
    assert.equal(tok.eosTokenId, EOS);
    assert.equal(tok.padTokenId, EOS);
    assert.equal(tok.maxLength, 77);
  });

  test('"An astronaut riding a horse" matches the diffusers.js / HF golden ids', () => {
    assert.deepEqual(tok.encode('An astronaut riding a horse'), [49406, 550, 18376, 6765, 320, 4558, 49407]);
    assert.deepEqual(tok.tokenize('An astronaut riding a horse'), ['an</w>', 'astronaut</w>', 'riding</w>', 'a</w>', 'horse</w>']);
  });

  test('whole words map to their `</w>` vocabulary entry', () => {
    assert.equal(vocab['hello</w>'], 3306);
    assert.deepEqual(tok.encode('hello'), [BOS, 3306, EOS]);
    assert.deepEqual(tok.encode('horse'), [BOS, vocab['horse</w>'], EOS]);
  });

  test('empty and whitespace-only prompts are just BOS, EOS', () => {
    assert.deepEqual(tok.encode(''), [BOS, EOS]);
    assert.deepEqual(tok.encode('  \n\t '), [BOS, EOS]);
  });

  test('punctuation: each run of non-letters/digits is one pre-token', () => {
    // hello</w> 3306, ,</w> 267, world</w> 1002, !</w> 256
    assert.deepEqual(tok.encode('Hello, World!'), [BOS, 3306, 267, 1002, 256, EOS]);
    // "!!!???" is one pre-token; BPE ends on "!!!" (no </w>, a merge) + "???</w>".
    assert.deepEqual(tok.tokenize('wow!!!???'), ['wow</w>', '!!!', '???</w>']);
    assert.deepEqual(tok.encode('wow!!!???'), [BOS, 2781, 11194, 3824, EOS]);
    // The open_clip ids quoted in diffusers#4153 for "! !! !!!" with an EOS-padded CLIP tokenizer.
    assert.deepEqual(tok.encode('! !! !!!'), [BOS, 256, 748, 995, EOS]);
    assert.deepEqual(tok.encode('a-b'), [BOS, 320, 268, 321, EOS]);
  });

  test('numbers are split into single digits', () => {
    // Digit bytes are ids 15-24, so "1</w>" is 256 + 16 = 272.
    assert.equal(vocab['1</w>'], 272);
    assert.deepEqual(tok.encode('a photo of 1234 cats'), [BOS, 320, 1125, 539, 272, 273, 274, 275, vocab['cats</w>'], EOS]);
    assert.deepEqual(tok.tokenize('3.5'), ['3</w>', '.</w>', '5</w>']);
  });

  test('text is lowercased', () => {
    assert.deepEqual(tok.encode('HELLO World'), tok.encode('hello world'));
    assert.deepEqual(tok.encode('HELLO World'), [BOS, 3306, 1002, EOS]);
  });

  test("apostrophes: 's 't 'll … are their own tokens, other apostrophes split words", () => {
    // it</w> 585, 's</w> 568, i</w> 328, 'll</w> 1342, don</w> 847, 't</w> 713
    assert.deepEqual(tok.encode("it's I'LL don't"), [BOS, 585, 568, 328, 1342, 847, 713, EOS]);
    assert.deepEqual(tok.tokenize("rock'n'roll"), ['rock</w>', "'</w>", 'n</w>', "'</w>", 'roll</w>']);
  });

  test('accented letters are UTF-8 bytes through bytes_to_unicode, NFC first', () => {
    // é = C3 A9 → "Ã©"; "cafÃ©</w>" is a vocabulary token.
    assert.deepEqual(tok.tokenize('Café'), ['cafÃ©</w>']);
    assert.deepEqual(tok.encode('Café'), [BOS, vocab['cafÃ©</w>'], EOS]);
    assert.equal(vocab['cafÃ©</w>'], 15304);
    // e + U+0301 composes to é.
    assert.deepEqual(tok.encode('Cafe\u0301'), tok.encode('Café'));
    // ü = C3 BC → "Ã¼", then "ber</w>".
    assert.deepEqual(tok.tokenize('über'), ['Ã¼', 'ber</w>']);
  });

  test('CJK ideographs are spaced apart first, so each is its own word', () => {
    // 你 = E4 BD A0 → "ä½" + "ł</w>" (A0 is not printable, so it maps to U+0142 "ł"); 好 = E5 A5 BD → "å¥" "½</w>".
    assert.deepEqual(tok.tokenize('你好'), ['ä½', 'ł</w>', 'å¥', '½</w>']);
    assert.deepEqual(tok.encode('你好'), [BOS, 47466, 510, 29290, 377, EOS]);
    assert.deepEqual(tok.encode('你好'), tok.encode('你 好'));
  });

  test('emoji are byte tokens; a zero-width joiner is dropped as a control character', () => {
    // 🐴 = F0 9F 90 B4 → "ðŁĲ´</w>" is in the vocabulary.
    assert.deepEqual(tok.encode('🐴'), [BOS, vocab['ðŁĲ´</w>'], EOS]);
    assert.deepEqual(tok.encode('🐴 horse'), [BOS, 33509, 4558, EOS]);
    assert.deepEqual(tok.encode('👨\u200d👩\u200d👧'), tok.encode('👨👩👧'));
  });

  test('extra whitespace of any kind collapses', () => {
    // lots</w> 2958, of</w> 539, space</w> 2138
    assert.deepEqual(tok.encode('  lots   of\n\tspace\u00a0 '), [BOS, 2958, 539, 2138, EOS]);
  });

  test('special tokens written in the prompt keep their ids and split the text around them', () => {
    assert.deepEqual(tok.encode('a<|endoftext|>b'), [BOS, 320, EOS, 321, EOS]);
    // "!!" before the token is tokenised alone, not glued to "<|": !!</w> 748.
    assert.deepEqual(tok.encode('!!<|endoftext|>!!'), [BOS, 748, EOS, 748, EOS]);
  });

  describe('multi-token words, merges checked step by step', () => {
    // Each step merges the lowest-ranked adjacent pair; the final tokens' ids are 512 + their merge's rank.
    const cases: Array<{ word: string; steps: string[]; tokens: string[]; ids: number[] }> = [
      {
        word: 'photorealistic',
        steps: ['r e', 's t', 'a l', 't o', 'h o', 'p ho', 'al i', 'st i', 'pho to', 'sti c</w>', 're ali', 'reali stic</w>'],
        tokens: ['photo', 'realistic</w>'],
        ids: [1153, 16157],
      },
      {
        word: 'artstation',
        steps: ['a r', 's t', 'o n</w>', 'a t', 'at i', 'ati on</w>', 'ar t', 'st ation</w>'],
        tokens: ['art', 'station</w>'],
        ids: [1486, 2631],
      },
      { word: 'hello', steps: ['e l', 'el l', 'ell o</w>', 'h ello</w>'], tokens: ['hello</w>'], ids: [3306] },
    ];
    for (const { word, steps, tokens, ids } of cases) {
      test(word, () => {
        let symbols = [...word.slice(0, -1), `${word.slice(-1)}</w>`];
        for (const step of steps) {
          const pairs = symbols.slice(0, -1).map((s, i) => `${s} ${symbols[i + 1]}`);
          const ranked = pairs.filter((p) => ranks.has(p)).sort((a, b) => ranks.get(a)! - ranks.get(b)!);
          assert.equal(ranked[0], step, `lowest-ranked pair of ${symbols.join(' ')}`);
          const [a, b] = step.split(' ');
          const next: string[] = [];
          for (let i = 0; i < symbols.length; i++) {
            if (symbols[i] === a && symbols[i + 1] === b) {
              next.push(a + b);
              i++;
            } else next.push(symbols[i]);
          }
          symbols = next;
        }
        // No further merge applies.
        assert.equal(symbols.slice(0, -1).filter((s, i) => ranks.has(`${s} ${symbols[i + 1]}`)).length, 0);
        assert.deepEqual(symbols, tokens);
        assert.deepEqual(
          tokens.map((t) => vocab[t]),
          ids,
        );
        // Each final token is made by one of the steps, and its id is 512 + that merge's rank.
        const madeBy = tokens.map((t) => steps.find((s) => s.replace(' ', '') === t)!);
        assert.deepEqual(
          madeBy.map((step) => 512 + ranks.get(step)!),
          ids,
        );
        assert.deepEqual(tok.tokenize(word), tokens);
        assert.deepEqual(tok.encode(word), [BOS, ...ids, EOS]);
      });
    }
  });

  test('hyperrealistic reuses the same realistic</w> token', () => {
    assert.deepEqual(tok.encode('hyperrealistic'), [BOS, vocab.hyper, vocab['realistic</w>'], EOS]);
    assert.deepEqual(tok.encode('hyperrealistic'), [BOS, 7997, 16157, EOS]);
  });

  test('decode turns </w> into spaces and bytes back into text', () => {
    assert.equal(tok.decode(tok.encode('Hello, World! Café 你好 🐴')), '<|startoftext|> hello , world ! café 你 好 🐴 <|endoftext|>');
    assert.equal(tok.decode([1153, 16157]), 'photorealistic');
  });
});

describe('encodeForModel', () => {
  test('pads a short prompt to 77 with the pad id (EOS for SD 1.x)', () => {
    const { inputIds, truncated, droppedText } = tok.encodeForModel('a horse');
    assert.equal(inputIds.length, 77);
    assert.deepEqual(inputIds.slice(0, 4), [BOS, 320, 4558, EOS]);
    assert.ok(inputIds.slice(4).every((id) => id === EOS));
    assert.equal(truncated, false);
    assert.equal(droppedText, undefined);
  });

  test('pads with 0 when tokenizer_config says pad_token "!" (SD 2.x / Turbo), and "!" becomes an added token', () => {
    const sd2 = ClipTokenizer.fromFiles({
      vocabJson,
      mergesTxt,
      tokenizerConfigJson: JSON.stringify({ pad_token: '!', model_max_length: 77, bos_token: '<|startoftext|>' }),
    });
    assert.equal(sd2.padTokenId, 0);
    const { inputIds } = sd2.encodeForModel('a horse');
    assert.deepEqual(inputIds.slice(0, 5), [BOS, 320, 4558, EOS, 0]);
    assert.ok(inputIds.slice(4).every((id) => id === 0));
    // transformers splits on every added token, so with pad "!" each "!" is id 0 (diffusers#4153's output).
    assert.deepEqual(sd2.encode('! !! !!!'), [BOS, 0, 0, 0, 0, 0, 0, EOS]);
    assert.deepEqual(sd2.encode('Hello, World!'), [BOS, 3306, 267, 1002, 0, EOS]);
  });

  test('75 tokens fit; the 76th is truncated and reported', () => {
    const fits = tok.encodeForModel(Array(75).fill('a').join(' '));
    assert.equal(fits.truncated, false);
    assert.deepEqual(fits.inputIds, [BOS, ...Array(75).fill(320), EOS]);

    const over = tok.encodeForModel(`${Array(75).fill('a').join(' ')} horse`);
    assert.equal(over.truncated, true);
    assert.equal(over.droppedText, 'horse');
    assert.deepEqual(over.inputIds, [BOS, ...Array(75).fill(320), EOS]);
  });

  test('a long prompt keeps BOS + 75 tokens + EOS and names the dropped text', () => {
    const words = Array.from({ length: 40 }, (_, i) => `red horse${i}`).join(', ');
    const full = tok.encode(words);
    assert.ok(full.length > 77);
    const { inputIds, truncated, droppedText } = tok.encodeForModel(words);
    assert.equal(inputIds.length, 77);
    assert.deepEqual(inputIds, [...full.slice(0, 76), EOS]);
    assert.equal(truncated, true);
    assert.equal(droppedText, tok.decode(full.slice(76, -1)));
    assert.ok(droppedText!.endsWith('red horse 3 9'), droppedText);
  });

  test('model_max_length from tokenizer_config sets the length', () => {
    const short = ClipTokenizer.fromFiles({ vocabJson, mergesTxt, tokenizerConfigJson: '{"model_max_length": 5}' });
    assert.deepEqual(short.encodeForModel('a horse').inputIds, [BOS, 320, 4558, EOS, EOS]);
    const cut = short.encodeForModel('a red horse runs');
    assert.deepEqual(cut.inputIds, [BOS, 320, vocab['red</w>'], 4558, EOS]);
    assert.equal(cut.droppedText, 'runs');
    // transformers writes int(1e30) when a tokenizer has no limit: fall back to CLIP's 77.
    const unset = ClipTokenizer.fromFiles({ vocabJson, mergesTxt, tokenizerConfigJson: '{"model_max_length": 1e30}' });
    assert.equal(unset.maxLength, 77);
  });
});

describe('a tiny custom CLIP-format vocabulary', () => {
  const tinyVocab = {
    a: 0,
    b: 1,
    c: 2,
    'a</w>': 3,
    'b</w>': 4,
    'c</w>': 5,
    ab: 6,
    'abc</w>': 7,
    '<|startoftext|>': 8,
    '<|endoftext|>': 9,
  };
  const tiny = (merges: string, config?: object): ClipTokenizer =>
    ClipTokenizer.fromFiles({
      vocabJson: JSON.stringify(tinyVocab),
      mergesTxt: `#version: 0.2\n${merges}\n`,
      tokenizerConfigJson: config && JSON.stringify(config),
    });

  test('merges apply by rank and unknown symbols become the unk token (<|endoftext|>)', () => {
    const t = tiny('a b\nab c</w>');
    assert.equal(t.bosTokenId, 8);
    assert.equal(t.eosTokenId, 9);
    assert.equal(t.padTokenId, 9);
    assert.deepEqual(t.encode('abc'), [8, 7, 9]);
    assert.deepEqual(t.encode('ABC'), [8, 7, 9]);
    // (a, b</w>) is no merge.
    assert.deepEqual(t.encode('ab'), [8, 0, 4, 9]);
    // (a, b, a, b</w>): only the first pair is "a b"; the last is (a, b</w>), no merge.
    assert.deepEqual(t.tokenize('abab'), ['ab', 'a', 'b</w>']);
    assert.deepEqual(t.encode('abab c'), [8, 6, 0, 4, 5, 9]);
    // "d</w>" is not in the vocabulary.
    assert.deepEqual(t.encode('abd'), [8, 6, 9, 9]);
  });

  test('a lower rank wins: with "b c</w>" first, abc ends as a + bc</w>', () => {
    const t = ClipTokenizer.fromFiles({
      vocabJson: JSON.stringify({ ...tinyVocab, 'bc</w>': 10 }),
      mergesTxt: '#version: 0.2\nb c</w>\na b\nab c</w>\n',
    });
    assert.deepEqual(t.tokenize('abc'), ['a', 'bc</w>']);
    assert.deepEqual(t.encode('abc'), [8, 0, 10, 9]);
  });

  test('maxLength and pad come from its tokenizer_config', () => {
    const t = ClipTokenizer.fromFiles({
      vocabJson: JSON.stringify({ ...tinyVocab, '<pad>': 10 }),
      mergesTxt: '#version: 0.2\na b\nab c</w>\n',
      tokenizerConfigJson: JSON.stringify({ model_max_length: 6, pad_token: '<pad>' }),
    });
    assert.equal(t.padTokenId, 10);
    assert.deepEqual(t.encodeForModel('abc').inputIds, [8, 7, 9, 10, 10, 10]);
    const cut = t.encodeForModel('abc abc abc abc abc');
    assert.deepEqual(cut.inputIds, [8, 7, 7, 7, 7, 9]);
    assert.equal(cut.truncated, true);
    assert.equal(cut.droppedText, 'abc');
  });

  test('a pad token that is ordinary text splits the prompt, as "!" does for SD 2.x', () => {
    const t = tiny('a b\nab c</w>', { pad_token: 'a' });
    assert.equal(t.padTokenId, 0);
    // "abc" → "a" (added token, id 0) + "bc" → (b, c</w>).
    assert.deepEqual(t.encode('abc'), [8, 0, 1, 5, 9]);
  });
});

describe('loading', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clip-tokenizer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const rejectsWith = async (promise: Promise<unknown> | (() => unknown), pattern: RegExp, file?: string) => {
    const run = typeof promise === 'function' ? async () => promise() : () => promise;
    await assert.rejects(run, (error: unknown) => {
      assert.ok(error instanceof EngineError, String(error));
      assert.equal(error.code, 'sd_engine_model_load');
      assert.match(error.message, pattern);
      if (file) assert.equal(error.file, file);
      return true;
    });
  };

  test('reads <model>/tokenizer/ as well as the tokenizer folder itself', async () => {
    const model = join(dir, 'model');
    await mkdir(model);
    await cp(FIXTURE, join(model, 'tokenizer'), { recursive: true });
    const fromModel = await ClipTokenizer.fromModelDir(model);
    assert.deepEqual(fromModel.encode('An astronaut riding a horse'), [49406, 550, 18376, 6765, 320, 4558, 49407]);
    const fromFolder = await ClipTokenizer.fromModelDir(join(model, 'tokenizer'));
    assert.equal(fromFolder.padTokenId, EOS);
  });

  test('tokenizer_config.json is optional (CLIPTokenizer defaults)', async () => {
    const folder = join(dir, 'no-config');
    await mkdir(folder);
    await writeFile(join(folder, 'vocab.json'), vocabJson);
    await writeFile(join(folder, 'merges.txt'), mergesTxt);
    const t = await ClipTokenizer.fromModelDir(folder);
    assert.equal(t.padTokenId, EOS);
    assert.equal(t.maxLength, 77);
  });

  test('a folder without vocab.json names the expected path', async () => {
    await rejectsWith(ClipTokenizer.fromModelDir(join(dir, 'nowhere')), /tokenizer\/vocab\.json.*neither exists/);
  });

  test('a missing merges.txt is named', async () => {
    const folder = join(dir, 'no-merges');
    await mkdir(folder);
    await writeFile(join(folder, 'vocab.json'), '{"a": 0}');
    await rejectsWith(ClipTokenizer.fromModelDir(folder), /merges\.txt.*does not exist/, join(folder, 'merges.txt'));
  });

  test('malformed files fail with what was expected', async () => {
    const files = { vocabJson, mergesTxt };
    await rejectsWith(() => ClipTokenizer.fromFiles({ ...files, vocabJson: '{"a": 0,' }), /vocab\.json.*not valid JSON/);
    await rejectsWith(() => ClipTokenizer.fromFiles({ ...files, vocabJson: '[1, 2]' }), /JSON object mapping tokens.*an array/);
    await rejectsWith(() => ClipTokenizer.fromFiles({ ...files, vocabJson: '{"a": "x"}' }), /non-negative integer.*"x"/);
    await rejectsWith(() => ClipTokenizer.fromFiles({ ...files, mergesTxt: 'i n\nt h\n' }), /#version: 0\.2.*header/);
    await rejectsWith(
      () => ClipTokenizer.fromFiles({ ...files, mergesTxt: '#version: 0.2\ni n\nt h e\n' }),
      /line 3 of `tokenizer\/merges\.txt`.*two space-separated tokens/,
      'tokenizer/merges.txt',
    );
    await rejectsWith(
      () => ClipTokenizer.fromFiles({ ...files, tokenizerConfigJson: '{"pad_token": "<pad>"}' }),
      /pad_token `<pad>` to be in `tokenizer\/vocab\.json`/,
    );
    await rejectsWith(
      () => ClipTokenizer.fromFiles({ ...files, tokenizerConfigJson: '{"model_max_length": "77"}' }),
      /model_max_length.*integer.*`77` \(string\)/,
    );
    await rejectsWith(
      () => ClipTokenizer.fromFiles({ vocabJson: '{"a": 0}', mergesTxt: '#version: 0.2\n' }),
      /bos_token `<\|startoftext\|>`/,
    );
  });
});
