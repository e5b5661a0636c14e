// The engine's only public surface: code outside engine/ imports from here and nowhere else.
//
//   const engine = await createEngine({ modelDir, device: 'cpu' });   // loads the model in a worker thread
//   const { images, seeds, warnings } = await engine.generate({
//     prompt, negativePrompt, width, height, numInferenceSteps, guidanceScale, seed, numImagesPerPrompt: 4,
//     signal,                                  // abort → EngineError 'sd_engine_aborted'
//     onProgress: ({ step, totalSteps, preview }) => …,   // preview: small RgbImage of image 0's x0
//   });
//   const png = await encodePng(composeGrid(images, 2));
//   // Several requests with the same batchKey(options, engine.info) as one UNet batch, one promise each:
//   const [a, b] = engine.generateBatch!([optionsA, optionsB]);
//   // or let calls that arrive together batch themselves: withJobBatching(engine, { maxBatch: 4 }).generate(…)
//   await engine.close();
//
// Devices: 'cpu' (default), 'cuda' (after `npm run setup:cuda`), 'webgpu' (Vulkan on Linux; Mesa's lavapipe runs it
// on the CPU). `fallbackToCpu: true` runs on the CPU when the provider cannot load (info.deviceFallback says why).
export { batchKey, withJobBatching } from './batching.ts';
export type { JobBatchingOptions } from './batching.ts';
export { createEngine, defaultModelDir, embeddedModelName } from './engine.ts';
export { EngineError, EngineErrorCode } from './errors.ts';
export { limits as engineLimits } from './check-inputs.ts';
export { ClipTokenizer } from './tokenizer.ts';
export { TorchGenerator, randn } from './random.ts';
export {
  DDIMScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  LCMScheduler,
  PNDMScheduler,
  createScheduler,
  isSchedulerName,
  schedulerNames,
} from './schedulers/index.ts';
export type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './schedulers/index.ts';
export { composeGrid, cropGridCell, decodeImage, encodeForSizeLimit, encodePng, resizeImage } from './image.ts';
export type { EncodedImage, ImageMime } from './image.ts';
export type {
  Device,
  Engine,
  EngineOptions,
  GenerateOptions,
  GenerateResult,
  ModelInfo,
  RgbImage,
  SchedulerName,
  StepProgress,
} from './types.ts';
