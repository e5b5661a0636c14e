// Loads every component of a diffusers-layout ONNX folder with onnxruntime-node, prints its I/O metadata, feeds
// inputs of the declared dtypes, checks the outputs are finite and reports median run times. It checks exports from
// build_sd15_random.py (and the test fixtures) on CPU here and on a GPU machine.
//   npx tsx training/gpu/check-sd-folder.ts <folder> [--size 512] [--runs 3] [--cuda]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { size: { type: 'string', default: '64' }, runs: { type: 'string', default: '2' }, cuda: { type: 'boolean', default: false } },
});
const folder = positionals[0];
if (!folder) {
  process.stderr.write('Expected a model folder, e.g. `npx tsx training/gpu/check-sd-folder.ts artifacts/sd15-random/sd15-random-fp16`\n');
  process.exit(2);
}
const size = Number(opts.size);
const runs = Number(opts.runs);
const latent = size / 8;
const say = (s: string): void => void process.stdout.write(`${s}\n`);

// Token ids and sequence length come from the folder's tokenizer, so tiny fixture vocabularies work too.
const readJson = (...p: string[]): Record<string, unknown> => JSON.parse(readFileSync(join(folder, ...p), 'utf8')) as Record<string, unknown>;
const vocab = readJson('tokenizer', 'vocab.json') as Record<string, number>;
const bos = vocab['<|startoftext|>'];
const eos = vocab['<|endoftext|>'];
const seqLen = Number(readJson('tokenizer', 'tokenizer_config.json').model_max_length ?? 77);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((b & 0x7fffff) >> 13);
}
function isFiniteHalf(h: number): boolean {
  return ((h >> 10) & 0x1f) !== 31;
}

function tensor(type: string, dims: number[], fill: (i: number) => number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const xs = Array.from({ length: n }, (_, i) => fill(i));
  switch (type) {
    case 'float16': return new Tensor('float16', Uint16Array.from(xs, toHalf), dims);
    case 'float32': return new Tensor('float32', Float32Array.from(xs), dims);
    case 'int32': return new Tensor('int32', Int32Array.from(xs), dims);
    case 'int64': return new Tensor('int64', BigInt64Array.from(xs, (x) => BigInt(Math.round(x))), dims);
    default: throw new Error(`Unsupported input type ${type}`);
  }
}

const wave = (i: number): number => Math.sin(i * 12.9898) * 0.9;

function feedsFor(component: string, session: InferenceSession): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const m of session.inputMetadata) {
    if (!m.isTensor) throw new Error(`${component}: non-tensor input ${m.name}`);
    const last = m.shape.at(-1);
    switch (m.name) {
      case 'input_ids':
        feeds[m.name] = tensor(m.type, [2, seqLen], (i) => (i % seqLen === 0 ? bos : i % seqLen < 6 ? 300 + i : eos));
        break;
      case 'sample':
        feeds[m.name] = component === 'unet'
          ? tensor(m.type, [2, 4, latent, latent], wave)
          : tensor(m.type, [1, 3, size, size], wave);
        break;
      case 'timestep': feeds[m.name] = tensor(m.type, m.shape.length === 0 ? [] : [1], () => 981); break;
      case 'encoder_hidden_states': feeds[m.name] = tensor(m.type, [2, seqLen, typeof last === 'number' ? last : 768], wave); break;
      case 'timestep_cond': feeds[m.name] = tensor(m.type, [2, typeof last === 'number' ? last : 256], wave); break;
      case 'latent_sample': feeds[m.name] = tensor(m.type, [1, 4, latent, latent], (i) => wave(i) * 5); break;
      default: throw new Error(`${component}: unexpected input ${m.name}`);
    }
  }
  return feeds;
}

function nonFinite(t: Tensor): number {
  let bad = 0;
  if (t.type === 'float16') for (const h of t.data as Uint16Array) bad += isFiniteHalf(h) ? 0 : 1;
  else if (t.type === 'float32') for (const x of t.data as Float32Array) bad += Number.isFinite(x) ? 0 : 1;
  return bad;
}

const providers = opts.cuda ? ['cuda', 'cpu'] : ['cpu'];
for (const component of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder', 'taesd_decoder']) {
  const path = join(folder, component, 'model.onnx');
  if (!existsSync(path)) continue;
  const t0 = performance.now();
  const session = await InferenceSession.create(path, { executionProviders: providers });
  say(`${component}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const m of session.inputMetadata) say(`  in  ${m.name} ${m.isTensor ? `${m.type} ${JSON.stringify(m.shape)}` : '?'}`);
  for (const m of session.outputMetadata) say(`  out ${m.name} ${m.isTensor ? `${m.type} ${JSON.stringify(m.shape)}` : '?'}`);
  const feeds = feedsFor(component, session);
  const times: number[] = [];
  let outputs = await session.run(feeds); // warm-up
  for (let r = 0; r < runs; r++) {
    const s = performance.now();
    outputs = await session.run(feeds);
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  for (const [name, t] of Object.entries(outputs)) {
    const bad = nonFinite(t);
    say(`  ${name} ${t.type} [${t.dims.join(',')}]${bad ? `  ${bad} NON-FINITE values` : ''}`);
  }
  say(`  median run ${times[Math.floor(times.length / 2)]?.toFixed(1) ?? '-'} ms over ${runs} runs`);
  await session.release();
}
