// Compares the TypeScript engine with the PyTorch reference sampler (training/reference_sampler.py):
// same model folder, prompt, seeds, scheduler and steps; prints the max abs pixel difference per case.
// Usage: tsx training/eval/parity.ts --reference DIR/images.npy --scheduler EulerDiscreteScheduler
//        --prompt "..." --seed 42 --n 4 --steps 20 --guidance 5 [--model-dir DIR]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createEngine, isSchedulerName } from '../../engine/index.ts';

const { values } = parseArgs({
  options: {
    reference: { type: 'string' },
    scheduler: { type: 'string', default: 'EulerDiscreteScheduler' },
    prompt: { type: 'string', default: 'a red circle on a blue background' },
    seed: { type: 'string', default: '42' },
    n: { type: 'string', default: '4' },
    steps: { type: 'string', default: '20' },
    guidance: { type: 'string', default: '5' },
    width: { type: 'string', default: '64' },
    height: { type: 'string', default: '64' },
    'model-dir': { type: 'string' },
    tolerance: { type: 'string', default: '2' },
  },
});

/** uint8 .npy (numpy format 1.0/2.0, C order) → bytes and shape. */
function readNpyUint8(path: string): { data: Uint8Array; shape: number[] } {
  const buf = readFileSync(path);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  if (!header.includes("'|u1'")) throw new Error(`${path}: expected a uint8 array, header ${header}`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').filter((s) => s.trim()).map(Number);
  return { data: new Uint8Array(buf.buffer, buf.byteOffset + start + headerLen), shape };
}

if (!values.reference) throw new Error('Pass --reference <images.npy> written by training/reference_sampler.py.');
const scheduler = values.scheduler;
if (!isSchedulerName(scheduler)) throw new Error(`Unknown scheduler \`${scheduler}\`.`);
const ref = readNpyUint8(values.reference);
const engine = await createEngine(values['model-dir'] ? { modelDir: values['model-dir'] } : {});
const { images } = await engine.generate({
  prompt: values.prompt,
  seed: Number(values.seed),
  numImagesPerPrompt: Number(values.n),
  numInferenceSteps: Number(values.steps),
  guidanceScale: Number(values.guidance),
  width: Number(values.width),
  height: Number(values.height),
  scheduler,
});
await engine.close();
const per = ref.data.length / images.length;
let maxDiff = 0;
let sum = 0;
images.forEach((img, i) => {
  if (img.data.length !== per) throw new Error(`image ${i}: ${img.data.length} bytes vs reference ${per}`);
  for (let p = 0; p < per; p++) {
    const d = Math.abs(img.data[p] - ref.data[i * per + p]);
    maxDiff = Math.max(maxDiff, d);
    sum += d;
  }
});
const tolerance = Number(values.tolerance);
const line = `${scheduler} ${values.steps} steps, guidance ${values.guidance}, ${images.length} images: max abs diff ${maxDiff}/255, mean ${(sum / ref.data.length).toFixed(4)}/255 (tolerance ${tolerance}/255)`;
console.log(line); // eslint-disable-line no-console
process.exitCode = maxDiff <= tolerance ? 0 : 1;
