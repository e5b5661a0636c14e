// createEngine(): the async face of the pipeline. The pipeline runs in a worker thread; this side posts
// requests, relays progress, forwards aborts, and turns a dead worker into `sd_engine_worker_crashed` for the
// running jobs, starting a fresh worker for the next one.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EngineError } from './errors.ts';
import type { Engine, EngineOptions, GenerateOptions, GenerateResult, ModelInfo } from './types.ts';
import { fromWireError } from './worker-protocol.ts';
import type { FromWorker, ToWorker, WireGenerateOptions, WorkerInit } from './worker-protocol.ts';

/** Folder name under models/ of the model the project ships (trained in training/); tests pass fixture dirs. */
export const embeddedModelName = 'shapes-ldm-v9';
export const defaultModelDir = fileURLToPath(new URL(`../models/${embeddedModelName}`, import.meta.url));

const workerUrl = new URL('./worker.ts', import.meta.url);

interface Job {
  readonly resolve: (result: GenerateResult) => void;
  readonly reject: (error: Error) => void;
  readonly onProgress: GenerateOptions['onProgress'];
  readonly cleanup: () => void;
}

// Node 20 does not carry tsx's loader hooks into workers, so the worker starts from a tiny script that
// registers tsx and then imports the TypeScript entry.
function workerBootstrap(): string {
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
}

export class WorkerEngine implements Engine {
  #info: ModelInfo | undefined;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  #jobs = new Map<number, Job>();
  #nextId = 1;
  #closed = false;
  readonly #init: WorkerInit;

  constructor(options: EngineOptions = {}) {
    this.#init = {
      modelDir: options.modelDir ?? defaultModelDir,
      sessionOptions: {
        device: options.device ?? 'cpu',
        deviceId: options.deviceId ?? 0,
        fallbackToCpu: options.fallbackToCpu ?? false,
        intraOpNumThreads: options.intraOpNumThreads ?? 0,
      },
      niceness: options.niceness ?? 10,
    };
  }

  get info(): ModelInfo {
    if (!this.#info) throw new Error('The engine is not started; use `await createEngine(options)`.');
    return this.#info;
  }

  /** Starts (or restarts) the worker and waits until the model is loaded. */
  start(): Promise<Worker> {
    this.#starting ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(workerBootstrap(), { eval: true, workerData: this.#init });
      let ready = false;
      let lastError: Error | undefined;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          ready = true;
          this.#info = message.info;
          this.#worker = worker;
          resolve(worker);
        } else if (message.type === 'load-error') {
          lastError = fromWireError(message.error);
        } else {
          this.#onMessage(message);
        }
      });
      worker.on('error', (error) => {
        lastError = error;
      });
      worker.on('exit', (code) => {
        this.#worker = undefined;
        this.#starting = undefined;
        if (!ready) {
          reject(lastError ?? new EngineError('sd_engine_worker_crashed', `The engine worker exited with code ${code} while loading the model.`));
          return;
        }
        if (this.#closed) return;
        this.#failAll(
          new EngineError(
            'sd_engine_worker_crashed',
            `The engine worker stopped (exit code ${code}${lastError ? `: ${lastError.message}` : ''}); the next request starts a new one.`,
            { cause: lastError },
          ),
        );
      });
    });
    return this.#starting;
  }

  #onMessage(message: FromWorker): void {
    if (message.type === 'ready' || message.type === 'load-error') return;
    const job = this.#jobs.get(message.id);
    if (!job) return;
    if (message.type === 'progress') {
      try {
        job.onProgress?.({ step: message.step, totalSteps: message.totalSteps, ...(message.preview ? { preview: message.preview } : {}) });
      } catch (error) {
        // A throwing callback fails its own job (as it would in-process), not the main thread.
        this.#post({ type: 'abort', id: message.id, reason: 'progress callback threw' });
        this.#jobs.delete(message.id);
        job.cleanup();
        job.reject(error as Error);
      }
      return;
    }
    this.#jobs.delete(message.id);
    job.cleanup();
    if (message.type === 'result') job.resolve(message.result);
    else job.reject(fromWireError(message.error));
  }

  #failAll(error: EngineError): void {
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs) {
      job.cleanup();
      job.reject(error);
    }
  }

  async generate(options: GenerateOptions): Promise<GenerateResult> {
    const [result] = await this.#submit([options]);
    return result;
  }

  /**
   * Runs requests that share a `batchKey` as one UNet batch; one promise per request, each settling on its own
   * (an abort or a bad input fails only its request). Results equal separate `generate` calls.
   */
  generateBatch(requests: readonly GenerateOptions[]): Promise<GenerateResult>[] {
    const settled = this.#submit(requests);
    return requests.map((_, i) => settled.then((promises) => promises[i]));
  }

  async #submit(requests: readonly GenerateOptions[]): Promise<Promise<GenerateResult>[]> {
    if (this.#closed) throw new EngineError('sd_engine_aborted', 'The engine is closed; create a new one with createEngine().');
    if (requests.length === 1 && requests[0].signal?.aborted) {
      throw new EngineError('sd_engine_aborted', 'Generation aborted before it started.', { cause: requests[0].signal.reason });
    }
    const worker = this.#worker ?? (await this.start());
    const transfer: ArrayBuffer[] = [];
    const wires: { id: number; options: WireGenerateOptions; progress: boolean }[] = [];
    const promises = requests.map((options) => {
      const { signal, onProgress, ...rest } = options;
      if (signal?.aborted) {
        // Only this request fails; the rest of the batch runs.
        const aborted = Promise.reject(new EngineError('sd_engine_aborted', 'Generation aborted before it started.', { cause: signal.reason }));
        aborted.catch(() => {});
        return aborted;
      }
      const id = this.#nextId++;
      // Copy the init image: transferring the caller's own buffer would detach it.
      const wire: WireGenerateOptions = rest.image ? { ...rest, image: { ...rest.image, data: rest.image.data.slice() } } : rest;
      if (wire.image) transfer.push(wire.image.data.buffer as ArrayBuffer);
      wires.push({ id, options: wire, progress: onProgress !== undefined });
      return new Promise<GenerateResult>((resolve, reject) => {
        const onAbort = () => {
          this.#post({ type: 'abort', id, reason: String(signal?.reason ?? 'aborted') });
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#jobs.set(id, { resolve, reject, onProgress, cleanup: () => signal?.removeEventListener('abort', onAbort) });
      });
    });
    if (wires.length === 0) return promises;
    const message: ToWorker = wires.length === 1 ? { type: 'generate', ...wires[0] } : { type: 'generate-batch', requests: wires };
    worker.postMessage(message, transfer);
    return promises;
  }

  /** Makes the worker die between two steps, as a crash would (tests use it to check crash recovery). */
  crashWorkerForTest(): void {
    this.#post({ type: 'crash' });
  }

  #post(message: ToWorker): void {
    this.#worker?.postMessage(message);
  }

  /**
   * Aborts running jobs and lets the worker release its sessions and exit. Never worker.terminate(): stopping
   * a thread inside onnxruntime's native run aborts the whole process.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#failAll(new EngineError('sd_engine_aborted', 'The engine was closed while this generation was running.'));
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.#post({ type: 'close' });
    await exited;
  }
}

/** Loads the model in a worker thread and resolves once it is ready to generate. */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = new WorkerEngine(options);
  await engine.start();
  if (engine.info.deviceFallback) process.emitWarning(engine.info.deviceFallback, { code: 'sd_engine_provider_fallback' });
  return engine;
}
