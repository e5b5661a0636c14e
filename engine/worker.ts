// Worker-thread entry: onnxruntime-node 1.30 runs inference synchronously on the calling thread, so the
// pipeline lives here and the main thread's event loop stays free. Jobs run one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';
import { StableDiffusionPipeline } from './pipeline.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts';
import { toWireError } from './worker-protocol.ts';

const port = parentPort!;
const init = workerData as WorkerInit;

function send(message: FromWorker, transfer: TransferListItem[] = []): void {
  port.postMessage(message, transfer);
}

let pipeline: StableDiffusionPipeline;
try {
  pipeline = await StableDiffusionPipeline.load(init.modelDir, init.sessionOptions);
} catch (error) {
  send({ type: 'load-error', error: toWireError(error) });
  process.exit(0);
}

const controllers = new Map<number, AbortController>();
let queue: Promise<void> = Promise.resolve();

async function run(message: Extract<ToWorker, { type: 'generate' }>, controller: AbortController): Promise<void> {
  const { id } = message;
  try {
    const result = await pipeline.generate({
      ...message.options,
      signal: controller.signal,
      onProgress: message.progress
        ? ({ step, totalSteps, preview }) =>
            send({ type: 'progress', id, step, totalSteps, ...(preview ? { preview } : {}) }, preview ? [preview.data.buffer as ArrayBuffer] : [])
        : undefined,
    });
    send({ type: 'result', id, result }, result.images.map((img) => img.data.buffer as ArrayBuffer));
  } catch (error) {
    send({ type: 'error', id, error: toWireError(error) });
  } finally {
    controllers.delete(id);
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') {
    controllers.get(message.id)?.abort(message.reason);
    return;
  }
  if (message.type === 'crash') throw new Error('Crash requested by the engine (crash-recovery test).');
  if (message.type === 'close') {
    for (const controller of controllers.values()) controller.abort('engine closed');
    queue = queue.then(async () => {
      await pipeline.release();
      process.exit(0);
    });
    return;
  }
  const controller = new AbortController();
  controllers.set(message.id, controller);
  queue = queue.then(() => run(message, controller));
});

send({ type: 'ready', info: pipeline.info });
