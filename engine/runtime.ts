// The only module that touches onnxruntime-node (after transformers.js `backends/onnx.js`): a frozen
// device → execution-provider table, session creation with errors that say how to fix them, and a thin
// `run` that takes and returns plain typed arrays.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { EngineError } from './errors.ts';
import type { Device } from './types.ts';

export type TensorType = 'float32' | 'float16' | 'int32' | 'int64' | 'uint8' | 'bool' | 'float64' | 'int8';
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array | Float64Array | Int8Array;

/** A plain tensor: what goes in and comes out of `Session.run`. float16 travels as raw bits in a Uint16Array. */
export interface PlainTensor {
  readonly type: TensorType;
  readonly data: TensorData;
  readonly dims: readonly number[];
}

/** Input or output metadata; a symbolic dimension is its name (e.g. `batch_size`). */
export interface ValueInfo {
  readonly name: string;
  readonly type: TensorType;
  readonly shape: readonly (number | string)[];
}

export interface SessionOptions {
  readonly device?: Device;
  readonly deviceId?: number;
  readonly fallbackToCpu?: boolean;
  readonly intraOpNumThreads?: number;
  /**
   * Outputs to leave in GPU memory on `webgpu` (onnxruntime's `preferredOutputLocation: 'gpu-buffer'`); `runHeld`
   * returns them as HeldTensors that feed other sessions without a round trip. Ignored on other devices: Node has
   * no CUDA-memory tensors.
   */
  readonly deviceOutputs?: readonly string[];
  /** The pipeline's switch for deviceOutputs (the benchmark compares both). @default true */
  readonly keepOnDevice?: boolean;
  /** Called once when `fallbackToCpu` replaced the requested provider, with the reason. */
  readonly onFallback?: (message: string) => void;
}

const heldTag = Symbol('held tensor');

/**
 * A tensor already wrapped for onnxruntime, fed to many runs without re-wrapping (or re-converting to fp16); on
 * `webgpu` it may live in GPU memory (location 'gpu-buffer'). Dispose it when done.
 */
export class HeldTensor {
  /** @internal */
  readonly [heldTag]: ort.Tensor;
  constructor(tensor: ort.Tensor) {
    this[heldTag] = tensor;
  }
  get type(): TensorType {
    return this[heldTag].type as TensorType;
  }
  get dims(): readonly number[] {
    return this[heldTag].dims;
  }
  get location(): 'cpu' | 'gpu-buffer' {
    return this[heldTag].location === 'gpu-buffer' ? 'gpu-buffer' : 'cpu';
  }
  /** The values on the CPU. GPU tensors cannot come back: onnxruntime-node 1.30's download aborts the process. */
  read(): PlainTensor {
    const t = this[heldTag];
    if (t.location === 'gpu-buffer') throw gpuReadError();
    return { type: this.type, data: t.data as TensorData, dims: t.dims };
  }
  /** Frees GPU memory; a no-op for CPU tensors. */
  dispose(): void {
    if (this[heldTag].location === 'gpu-buffer') this[heldTag].dispose();
  }
}

function gpuReadError(): EngineError {
  return new EngineError(
    'sd_engine_inference',
    'onnxruntime-node 1.30 cannot copy a WebGPU tensor back to the CPU (its download aborts the process). Feed it to ' +
      'another session as it is, or leave that output out of `deviceOutputs` so it comes back as a plain array.',
  );
}

export type Feed = PlainTensor | HeldTensor;
export type Feeds = Record<string, Feed>;

/** Called with every run's feeds and its duration; the benchmark uses it to replay the same calls bare. */
export type RunObserver = (session: Session, feeds: Feeds, ms: number) => void;

const supportedDevices = ['cpu', 'cuda', 'webgpu'] as const satisfies readonly Device[];

export const executionProviders = Object.freeze({
  cpu: () => ['cpu'],
  cuda: (deviceId: number) => [{ name: 'cuda', deviceId }],
  webgpu: () => ['webgpu'],
} satisfies Record<Device, (deviceId: number) => InferenceSession.ExecutionProviderConfig[]>);

// onnxruntime-node ships the CUDA provider separately (npm skips its download here); these must sit beside
// libonnxruntime.so for `cuda` to load.
const cudaProviderLibs = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

function nativeBinaryDir(): string {
  const pkgMain = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(pkgMain), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

// Dawn (onnxruntime-node's WebGPU) drives Vulkan on Linux: it needs the loader and at least one driver (ICD).
const vulkanLibDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
const vulkanIcdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

const webgpuInstall =
  'On Linux, WebGPU runs on Vulkan: install your GPU\'s Vulkan driver and the loader (Debian/Ubuntu: `apt-get install ' +
  'libvulkan1 mesa-vulkan-drivers`, or NVIDIA\'s driver, which brings its own). Without a GPU, Mesa ≥ 23\'s lavapipe runs ' +
  'WebGPU on the CPU (Debian 12: `apt-get install -t bookworm-backports mesa-vulkan-drivers`; the 22.x lavapipe lacks ' +
  'features Dawn requires).';

function vulkanLoaderMissing(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...vulkanLibDirs];
  return !dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** What a failed WebGPU start most likely lacks, for the error message. */
function webgpuMissing(): string {
  if (vulkanLoaderMissing()) return 'The Vulkan loader libvulkan.so.1 is not installed.';
  const icds = vulkanIcdDirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')) : []));
  if (icds.length === 0 && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) return 'No Vulkan driver is installed (no ICD file in /usr/share/vulkan/icd.d).';
  return `No Vulkan device is usable by WebGPU (drivers found: ${icds.join(', ') || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES}).`;
}

/** Why `device` cannot run here, or undefined when it may (ORT still has the last word at session creation). */
export function providerUnavailableReason(device: Device): string | undefined {
  if (device === 'webgpu') {
    if (process.platform === 'linux' && vulkanLoaderMissing()) {
      return `The \`webgpu\` execution provider cannot start: ${webgpuMissing()} ${webgpuInstall} Or use \`device: 'cpu'\` (or \`fallbackToCpu: true\`).`;
    }
    return undefined;
  }
  if (device !== 'cuda') return undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `onnxruntime-node supports \`cuda\` only on Linux x64, this is ${process.platform}/${process.arch}. Use \`device: 'cpu'\`.`;
  }
  const dir = nativeBinaryDir();
  const missing = cudaProviderLibs.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    return (
      `The CUDA execution provider is not installed: ${missing.join(', ')} missing from ${dir}. ` +
      'Run `npm run setup:cuda` once (it needs internet, an NVIDIA GPU and CUDA 12 with cuDNN 9), ' +
      "or use `device: 'cpu'` (or `fallbackToCpu: true`)."
    );
  }
  return undefined;
}

function checkDevice(device: unknown): asserts device is Device {
  if (!supportedDevices.includes(device as Device)) {
    throw new EngineError(
      'sd_engine_provider',
      `Unsupported device: \`${String(device)}\`. Should be one of: ${supportedDevices.map((d) => `\`${d}\``).join(', ')}.`,
    );
  }
}

const preparedTag = Symbol('prepared feeds');
/** Feeds already wrapped for onnxruntime (opaque outside this module). */
export interface PreparedFeeds {
  readonly [preparedTag]: Record<string, ort.Tensor>;
}

export class Session {
  /** Total time spent inside onnxruntime's run, for GenerateResult.timings.modelMs. */
  runMs = 0;
  observer: RunObserver | undefined;

  /** Outputs that `runHeld` leaves in GPU memory (webgpu only). */
  readonly deviceOutputs: ReadonlySet<string>;

  constructor(
    readonly path: string,
    readonly device: Device,
    private readonly session: InferenceSession,
    readonly inputs: readonly ValueInfo[],
    readonly outputs: readonly ValueInfo[],
    deviceOutputs: readonly string[] = [],
  ) {
    this.deviceOutputs = new Set(deviceOutputs);
  }

  input(name: string): ValueInfo | undefined {
    return this.inputs.find((i) => i.name === name);
  }

  output(name: string): ValueInfo | undefined {
    return this.outputs.find((o) => o.name === name);
  }

  /** Runs the model; every output comes back to the CPU as a plain typed array (so no `deviceOutputs`). */
  async run(feeds: Feeds): Promise<Record<string, PlainTensor>> {
    const held = await this.runHeld(feeds);
    const out: Record<string, PlainTensor> = {};
    const onDevice = Object.values(held).filter((v) => v instanceof HeldTensor);
    if (onDevice.length > 0) {
      for (const t of onDevice) t.dispose();
      throw gpuReadError();
    }
    for (const [name, value] of Object.entries(held)) out[name] = value as PlainTensor;
    return out;
  }

  /** Runs the model; outputs named in `deviceOutputs` stay in GPU memory as HeldTensors (the caller disposes them). */
  async runHeld(feeds: Feeds): Promise<Record<string, PlainTensor | HeldTensor>> {
    const start = performance.now();
    const out = await this.runBare(feeds);
    const ms = performance.now() - start;
    this.runMs += ms;
    this.observer?.(this, feeds, ms);
    return out;
  }

  /** Wraps a tensor once for many runs (e.g. the text embeddings fed to every UNet step). */
  hold(t: PlainTensor): HeldTensor {
    return new HeldTensor(new ort.Tensor(t.type, t.data, t.dims));
  }

  /** Wraps feeds as onnxruntime tensors once, so `timeBareRun` can time session.run alone. */
  prepare(feeds: Feeds): PreparedFeeds {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name in feeds) {
      const t = feeds[name];
      ortFeeds[name] = t instanceof HeldTensor ? t[heldTag] : new ort.Tensor(t.type, t.data, t.dims);
    }
    return { [preparedTag]: ortFeeds };
  }

  /** Milliseconds of one bare onnxruntime session.run on prepared feeds: the benchmark's baseline. */
  async timeBareRun(prepared: PreparedFeeds): Promise<number> {
    const start = performance.now();
    await this.session.run(prepared[preparedTag]);
    return performance.now() - start;
  }

  private async runBare(feeds: Feeds): Promise<Record<string, PlainTensor | HeldTensor>> {
    const ortFeeds = this.prepare(feeds)[preparedTag];
    let results: InferenceSession.ReturnType;
    try {
      results = await this.session.run(ortFeeds);
    } catch (cause) {
      throw new EngineError('sd_engine_inference', `onnxruntime failed to run ${this.path}: ${(cause as Error).message}`, {
        cause,
        file: this.path,
      });
    }
    const out: Record<string, PlainTensor | HeldTensor> = {};
    for (const name in results) {
      const value = results[name];
      out[name] = value.location === 'gpu-buffer' ? new HeldTensor(value) : { type: value.type as TensorType, data: value.data as TensorData, dims: value.dims };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

// Fused graphs from onnxruntime's transformers optimizer use CUDA/WebGPU-only contrib ops; on CPU the
// load fails with "Could not find an implementation for BiasSplitGelu(1) node".
const missingKernel = /Could not find an implementation for (\w+)\(\d+\)/;

const missingExternalData = /External data path does not exist: "([^"]+)"/;

function loadError(path: string, device: Device, cause: unknown): EngineError {
  const message = (cause as Error)?.message ?? String(cause);
  const external = missingExternalData.exec(message);
  if (external) {
    return new EngineError(
      'sd_engine_model_load',
      `Expected the external weights of ${path} at ${external[1]}, but the file does not exist. ` +
        'Exports keep large weights beside model.onnx (model.onnx_data or weights.pb); copy it along with the model.',
      { cause, file: external[1] },
    );
  }
  const kernel = missingKernel.exec(message);
  if (kernel) {
    return new EngineError(
      'sd_engine_model_load',
      `${path} uses the operator \`${kernel[1]}\`, which the \`${device}\` execution provider does not implement. ` +
        'This looks like a graph optimized by onnxruntime for GPU (fused com.microsoft contrib ops such as BiasSplitGelu, ' +
        'GroupNorm, MultiHeadAttention). Use a plain (unoptimized) export of this model on CPU, or run it with `device: \'cuda\'` or `device: \'webgpu\'`.',
      { cause, file: path },
    );
  }
  if (device === 'webgpu' && /adapter|webgpu|vulkan|dawn/i.test(message)) {
    // onnxruntime's own text ("Failed to get a WebGPU adapter: No supported adapters") does not say what to install.
    const detail = /Failed to get a WebGPU adapter: ([^\n]+)/.exec(message)?.[1] ?? message.split('\n')[0];
    return new EngineError(
      'sd_engine_provider',
      `The \`webgpu\` execution provider could not start for ${path} (${detail}). ${webgpuMissing()} ${webgpuInstall} ` +
        "Or use `device: 'cpu'` (or `fallbackToCpu: true`) to run on the CPU.",
      { cause, file: path },
    );
  }
  if (device !== 'cpu' && /ExecutionProvider|shared library|adapter|cuda|cudnn|cublas/i.test(message)) {
    return new EngineError(
      'sd_engine_provider',
      `The \`${device}\` execution provider could not load ${path}: ${message.split('\n')[0]}. ` +
        'Check the CUDA 12 and cuDNN 9 libraries are on LD_LIBRARY_PATH. ' +
        "Use `device: 'cpu'` or `fallbackToCpu: true` to run on the CPU.",
      { cause, file: path },
    );
  }
  return new EngineError('sd_engine_model_load', `onnxruntime could not load ${path}: ${message}`, { cause, file: path });
}

function toValueInfo(m: InferenceSession.ValueMetadata): ValueInfo {
  if (!m.isTensor) return { name: m.name, type: 'float32', shape: [] };
  return { name: m.name, type: m.type as TensorType, shape: [...m.shape] };
}

async function openSession(path: string, device: Device, options: SessionOptions): Promise<Session> {
  const reason = providerUnavailableReason(device);
  if (reason) throw new EngineError('sd_engine_provider', reason, { file: path });
  const deviceOutputs = device === 'webgpu' ? (options.deviceOutputs ?? []) : [];
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: executionProviders[device](options.deviceId ?? 0),
    graphOptimizationLevel: 'all',
    ...(deviceOutputs.length > 0 ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((n) => [n, 'gpu-buffer' as const])) } : {}),
    // Errors are turned into EngineErrors below; ORT's own log would repeat them on stderr.
    logSeverityLevel: 4,
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  };
  let session: InferenceSession;
  try {
    // Loading by path lets onnxruntime resolve external weights (model.onnx_data, weights.pb) beside the model.
    session = await ort.InferenceSession.create(path, sessionOptions);
  } catch (cause) {
    throw loadError(path, device, cause);
  }
  return new Session(path, device, session, session.inputMetadata.map(toValueInfo), session.outputMetadata.map(toValueInfo), deviceOutputs);
}

/**
 * Opens an ONNX model on the requested device. An unavailable provider throws `sd_engine_provider` saying what
 * is missing, unless `fallbackToCpu` is set.
 */
export async function createSession(path: string, options: SessionOptions = {}): Promise<Session> {
  const device = options.device ?? 'cpu';
  checkDevice(device);
  if (!existsSync(path)) {
    throw new EngineError('sd_engine_model_load', `Expected an ONNX model at ${path}, but the file does not exist.`, { file: path });
  }
  try {
    return await openSession(path, device, options);
  } catch (error) {
    if (device !== 'cpu' && options.fallbackToCpu && error instanceof EngineError && error.code === 'sd_engine_provider') {
      options.onFallback?.(`Running ${path} on the CPU instead of \`${device}\` (fallbackToCpu is set): ${error.message}`);
      return openSession(path, 'cpu', options);
    }
    throw error;
  }
}
