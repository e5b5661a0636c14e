// `npm run imagine -- "<prompt>" [options]`: one generation from the command line, written as a PNG (a grid
// when --n > 1), with a progress bar on stderr.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { EngineError, composeGrid, createEngine, decodeImage, encodePng, isSchedulerName, schedulerNames } from '../../engine/index.ts';
import type { Device, GenerateOptions } from '../../engine/index.ts';
import { isSamplerName, samplerNames, samplerParams } from '../../commands/flags.ts';

const usage = `Usage: npm run imagine -- "<prompt>" [options]

  --seed N          seed of the first image (image i uses seed + i)     default: random
  --steps N         denoising steps                                    default: the model's
  --sampler NAME    ${samplerNames.join(', ')}
                    or a diffusers scheduler class name                default: the model's
  --guidance X      classifier-free guidance scale (≤ 1 disables it)   default: the model's
  --width W         a multiple of the model's size multiple (16, 64)  default: the model's
  --height H        likewise                                           default: the model's
  --negative TEXT   negative prompt
  --n N             images (written as a 2-column grid when N > 1)     default: 1
  --image IN.png    img2img init image
  --strength S      img2img strength in (0, 1]                         default: 0.8
  --model DIR       model folder (diffusers/optimum ONNX layout)       default: the embedded model
  --device D        cpu, cuda or webgpu                                default: cpu
  --out FILE        output PNG                                         default: imagine-<seed>.png`;


class UsageError extends Error {}

function numberOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`Expected --${name} to be a number, got \`${value}\`.`);
  return n;
}

/** `--sampler`: the names `/imagine` accepts (shared with commands/), or a diffusers scheduler class name. */
function sampler(value: string | undefined): Pick<GenerateOptions, 'scheduler' | 'useKarrasSigmas'> {
  if (value === undefined) return {};
  const key = value.toLowerCase();
  if (isSamplerName(key)) {
    const { scheduler, useKarrasSigmas } = samplerParams(key);
    return { scheduler, ...(useKarrasSigmas !== undefined && { useKarrasSigmas }) };
  }
  if (isSchedulerName(value)) return { scheduler: value };
  throw new UsageError(`Unknown --sampler \`${value}\`. Use one of ${samplerNames.join(', ')} or ${schedulerNames.join(', ')}.`);
}

function progressBar(step: number, total: number, startMs: number): string {
  const width = 30;
  const filled = Math.round((step / total) * width);
  const seconds = (performance.now() - startMs) / 1000;
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${step}/${total} ${(step / seconds).toFixed(1)} it/s`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      steps: { type: 'string' },
      sampler: { type: 'string' },
      guidance: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      negative: { type: 'string' },
      n: { type: 'string' },
      image: { type: 'string' },
      strength: { type: 'string' },
      model: { type: 'string' },
      device: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`Expected one prompt in quotes, got ${positionals.length} arguments.`);
  const device = (values.device ?? 'cpu') as Device;

  const options: GenerateOptions = {
    prompt: positionals[0],
    negativePrompt: values.negative,
    seed: numberOption('seed', values.seed),
    numInferenceSteps: numberOption('steps', values.steps),
    ...sampler(values.sampler),
    guidanceScale: numberOption('guidance', values.guidance),
    width: numberOption('width', values.width),
    height: numberOption('height', values.height),
    numImagesPerPrompt: numberOption('n', values.n),
    strength: numberOption('strength', values.strength),
    image: values.image ? await decodeImage(await readFile(values.image)) : undefined,
  };

  const engine = await createEngine({ modelDir: values.model, device });
  try {
    const start = performance.now();
    const result = await engine.generate({
      ...options,
      previewEvery: 0,
      onProgress: ({ step, totalSteps }) => process.stderr.write(progressBar(step, totalSteps, start)),
    });
    process.stderr.write('\n');
    for (const warning of result.warnings) console.error(`warning: ${warning}`);
    const image = result.images.length > 1 ? composeGrid(result.images, 2) : result.images[0];
    const out = values.out ?? `imagine-${result.seeds[0]}.png`;
    await writeFile(out, await encodePng(image));
    const seconds = (result.timings.totalMs / 1000).toFixed(2);
    console.error(`${out}: ${image.width}×${image.height}, seed ${result.seeds.join(', ')}, ${seconds} s on ${engine.info.device} (${engine.info.name})`);
    return 0;
  } finally {
    await engine.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exitCode = 2;
  } else if (error instanceof EngineError) {
    const hint = error.code === 'sd_engine_model_load' && !process.argv.includes('--model') ? '\nPass --model DIR to use another model folder.' : '';
    console.error(`error (${error.code}): ${error.message}${hint}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
