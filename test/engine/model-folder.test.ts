import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EngineError } from '../../engine/errors.ts';
import { readModelFolder, sd15LatentRgbFactors } from '../../engine/model-folder.ts';
import { StableDiffusionPipeline } from '../../engine/pipeline.ts';
import { copyFixture, fixture } from './helpers.ts';

const copies: (() => void)[] = [];
after(() => copies.forEach((dispose) => dispose()));
function brokenCopy(name = 'tiny-sd'): string {
  const { dir, dispose } = copyFixture(name);
  copies.push(dispose);
  return dir;
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

function loadError(file: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    assert.equal(error.code, 'sd_engine_model_load');
    assert.equal(error.file, file);
    assert.match(error.message, pattern);
    return true;
  };
}

test('reads the tiny-sd folder: parts, scheduler, VAE scaling, native size, defaults', () => {
  const folder = readModelFolder(fixture('tiny-sd'));
  assert.equal(folder.name, 'tiny-sd');
  assert.equal(folder.pipelineClass, 'OnnxStableDiffusionPipeline');
  assert.equal(folder.isLcm, false);
  assert.equal(folder.defaultScheduler, 'PNDMScheduler');
  assert.equal(folder.unetPath, join(fixture('tiny-sd'), 'unet', 'model.onnx'));
  assert.ok(folder.vaeEncoderPath?.endsWith(join('vae_encoder', 'model.onnx')));
  assert.ok(folder.taesdDecoderPath?.endsWith(join('taesd_decoder', 'model.onnx')));
  const { config } = folder;
  assert.equal(config.scalingFactor, 0.18215);
  assert.equal(config.vaeScaleFactor, 8); // four block_out_channels → 2^3
  assert.equal(config.width, 64); // sample_size 8 × 8
  assert.equal(config.height, 64);
  assert.equal(config.defaultSteps, 20);
  assert.equal(config.defaultGuidanceScale, 7.5);
  assert.deepEqual(config.latentRgbFactors, sd15LatentRgbFactors);
  assert.deepEqual(config.latentRgbBias, [0, 0, 0]);
});

test('sizes must be multiples of the VAE factor times the UNet downsampling (SD 1.x without a UNet config: 64)', () => {
  assert.equal(readModelFolder(fixture('tiny-sd')).config.sizeMultiple, 16); // VAE 8 × 2 UNet blocks → 2^1
  const dir = brokenCopy();
  editJson(join(dir, 'unet', 'config.json'), (j) => {
    delete j.block_out_channels;
  });
  assert.equal(readModelFolder(dir).config.sizeMultiple, 64);
  editJson(join(dir, 'model_index.json'), (j) => {
    j.imagine_defaults = { width: 96, height: 96 };
  });
  assert.throws(() => readModelFolder(dir), loadError(join(dir, 'model_index.json'), /imagine_defaults.width .* multiple of 64, got 96/));
});

test('preview factors come from vae_decoder/config.json when present', () => {
  const folder = readModelFolder(fixture('tiny-sd-float-timestep'));
  const vae = JSON.parse(readFileSync(join(fixture('tiny-sd-float-timestep'), 'vae_decoder', 'config.json'), 'utf8'));
  assert.deepEqual(folder.config.latentRgbFactors, vae.latent_rgb_factors);
  assert.deepEqual(folder.config.latentRgbBias, vae.latent_rgb_bias);
  assert.notDeepEqual(folder.config.latentRgbFactors, sd15LatentRgbFactors);
});

test('LCM folders are recognised and default to 4 steps, guidance 8.5', () => {
  const folder = readModelFolder(fixture('tiny-lcm'));
  assert.equal(folder.isLcm, true);
  assert.equal(folder.defaultScheduler, 'LCMScheduler');
  assert.equal(folder.config.timeCondProjDim, 32);
  assert.equal(folder.config.defaultSteps, 4);
  assert.equal(folder.config.defaultGuidanceScale, 8.5);
});

test('imagine_defaults in model_index.json override steps, guidance and size', () => {
  const dir = brokenCopy();
  editJson(join(dir, 'model_index.json'), (j) => {
    j.imagine_defaults = { num_inference_steps: 8, guidance_scale: 0, width: 96, height: 128 };
  });
  const { config } = readModelFolder(dir);
  assert.deepEqual([config.defaultSteps, config.defaultGuidanceScale, config.width, config.height], [8, 0, 96, 128]);
});

test('a missing model part names the file and the expected layout', () => {
  for (const part of ['unet', 'text_encoder', 'vae_decoder']) {
    const dir = brokenCopy();
    rmSync(join(dir, part, 'model.onnx'));
    assert.throws(() => readModelFolder(dir), loadError(join(dir, part, 'model.onnx'), new RegExp(`Expected the ${part} ONNX model`)));
  }
});

test('missing model_index.json, tokenizer or scheduler config name the file', () => {
  const cases = [
    ['model_index.json', /pipeline index/],
    [join('tokenizer', 'vocab.json'), /tokenizer vocabulary/],
    [join('tokenizer', 'merges.txt'), /tokenizer merges/],
    [join('scheduler', 'scheduler_config.json'), /scheduler config/],
  ] as const;
  for (const [file, pattern] of cases) {
    const dir = brokenCopy();
    rmSync(join(dir, file));
    assert.throws(() => readModelFolder(dir), loadError(join(dir, file), pattern));
  }
});

test('a folder that does not exist says what was expected', () => {
  assert.throws(() => readModelFolder('/nonexistent/model'), loadError('/nonexistent/model', /Expected a model folder/));
});

test('invalid JSON in a config names the file', () => {
  const dir = brokenCopy();
  writeFileSync(join(dir, 'unet', 'config.json'), '{ not json');
  assert.throws(() => readModelFolder(dir), loadError(join(dir, 'unet', 'config.json'), /valid JSON/));
});

test('SDXL is rejected as not supported yet', () => {
  const dir = brokenCopy();
  editJson(join(dir, 'model_index.json'), (j) => {
    j._class_name = 'ORTStableDiffusionXLPipeline';
  });
  assert.throws(() => readModelFolder(dir), loadError(join(dir, 'model_index.json'), /SDXL.*not supported yet/));
});

test('latent channels that differ between the UNet and VAE configs are rejected', () => {
  const dir = brokenCopy();
  editJson(join(dir, 'vae_decoder', 'config.json'), (j) => {
    j.latent_channels = 16;
  });
  assert.throws(() => readModelFolder(dir), loadError(join(dir, 'vae_decoder', 'config.json'), /4 latent channels.*16/));
});

test('malformed preview factors are rejected with the expected shape', () => {
  const dir = brokenCopy();
  editJson(join(dir, 'vae_decoder', 'config.json'), (j) => {
    j.latent_rgb_factors = [[1, 2, 3]];
  });
  assert.throws(() => readModelFolder(dir), loadError(join(dir, 'vae_decoder', 'config.json'), /latent_rgb_factors.*4 rows of 3/));
});

test('a UNet without `sample` fails at load naming the file and its actual inputs', async () => {
  const dir = brokenCopy();
  // A VAE decoder where the UNet should be: valid ONNX, wrong I/O.
  for (const f of ['model.onnx', 'weights.pb']) rmSync(join(dir, 'unet', f));
  copyFileSync(join(dir, 'vae_decoder', 'model.onnx'), join(dir, 'unet', 'model.onnx'));
  await assert.rejects(StableDiffusionPipeline.load(dir), loadError(join(dir, 'unet', 'model.onnx'), /expected an input `sample`.*`latent_sample` float32/));
});

test('a unet/config.json whose cross-attention size differs from the exported models is rejected at load', async () => {
  const dir = brokenCopy();
  editJson(join(dir, 'unet', 'config.json'), (j) => {
    j.cross_attention_dim = 64;
  });
  await assert.rejects(StableDiffusionPipeline.load(dir), loadError(join(dir, 'unet', 'config.json'), /cross_attention_dim 64.*32-dim text embeddings/));
});

test('an SDXL folder (text_encoder_2/) is rejected as not supported yet', async () => {
  const dir = brokenCopy();
  mkdirSync(join(dir, 'text_encoder_2'));
  assert.throws(() => readModelFolder(dir), loadError(join(dir, 'model_index.json'), /SDXL/));
});

test('missing external weights (weights.pb, model.onnx_data) name the weights file', async () => {
  for (const [variant, weights] of [['tiny-sd', 'weights.pb'], ['tiny-sd-optimum', 'model.onnx_data']]) {
    const dir = brokenCopy(variant);
    rmSync(join(dir, 'unet', weights));
    await assert.rejects(StableDiffusionPipeline.load(dir), loadError(join(dir, 'unet', weights), /external weights of .*unet[/\\]model\.onnx/));
  }
});

const onnxFixtures = join(import.meta.dirname, '..', 'fixtures', 'onnx');

test('a text encoder whose hidden size differs from the UNet\'s (both static) is rejected, naming it', async () => {
  const dir = brokenCopy();
  copyFileSync(join(onnxFixtures, 'text-encoder-hidden16.onnx'), join(dir, 'text_encoder', 'model.onnx'));
  await assert.rejects(StableDiffusionPipeline.load(dir), loadError(join(dir, 'text_encoder', 'model.onnx'), /16-dim hidden states but .*unet.*size 32/));
});

test('a VAE decoder taking other latent channels than the UNet (both static) is rejected, naming it', async () => {
  const dir = brokenCopy('tiny-sd-optimum');
  copyFileSync(join(onnxFixtures, 'vae-decoder-8ch.onnx'), join(dir, 'vae_decoder', 'model.onnx'));
  await assert.rejects(StableDiffusionPipeline.load(dir), loadError(join(dir, 'vae_decoder', 'model.onnx'), /takes 8-channel latents but .* works on 4 channels/));
});

test('an SDXL UNet (text_embeds/time_ids inputs) is rejected as not supported yet, naming it', async () => {
  const dir = brokenCopy('tiny-sd-optimum');
  rmSync(join(dir, 'unet', 'model.onnx_data'));
  copyFileSync(join(onnxFixtures, 'unet-sdxl-inputs.onnx'), join(dir, 'unet', 'model.onnx'));
  await assert.rejects(StableDiffusionPipeline.load(dir), loadError(join(dir, 'unet', 'model.onnx'), /SDXL UNet; SDXL is not supported yet/));
});
