// Worker-thread entry: onnxruntime-node 1.30 runs inference synchronously on the calling thread, so the
// pipeline lives here and the main thread's event loop stays free. Jobs (or batches of jobs) run one at a time,
// in arrival order.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';
import { StableDiffusionPipeline } from './pipeline.ts';
import type { GenerateOptions } from './types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts';
import { toWireError } from './worker-protocol.ts';

const port = parentPort!;
const init = workerData as WorkerInit;

function send(message: FromWorker, transfer: TransferListItem[] = []): void {
  port.postMessage(message, transfer);
}

// Linux keeps a nice value per thread, and threads inherit it from the thread that creates them: set here, before
// the sessions exist, it covers onnxruntime's intra-op pool too while the main thread keeps its own priority.
if (process.platform === 'linux' && init.niceness > 0) {
  try {
    setPriority(0, init.niceness);
  } catch {
    // Only raising priority needs privileges; lowering does not fail in practice, and if it did, run as is.
  }
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

type Request = Extract<ToWorker, { type: 'generate-batch' }>['requests'][number];

function progressSender(request: Request): GenerateOptions['onProgress'] {
  const { id } = request;
  return request.progress
    ? ({ step, totalSteps, preview }) =>
        send({ type: 'progress', id, step, totalSteps, ...(preview ? { preview } : {}) }, preview ? [preview.data.buffer as ArrayBuffer] : [])
    : undefined;
}

async function run(requests: readonly Request[]): Promise<void> {
  try {
    // A request aborted mid-batch settles at once; the others run on.
    const early = new Set<number>();
    const outcomes = await pipeline.generateBatch(
      requests.map((r) => ({ ...r.options, signal: controllers.get(r.id)!.signal, onProgress: progressSender(r) })),
      (i, reason) => {
        early.add(i);
        send({ type: 'error', id: requests[i].id, error: toWireError(reason) });
      },
    );
    outcomes.forEach((outcome, i) => {
      const { id } = requests[i];
      if (early.has(i)) return;
      if (outcome.status === 'fulfilled') send({ type: 'result', id, result: outcome.value }, outcome.value.images.map((img) => img.data.buffer as ArrayBuffer));
      else send({ type: 'error', id, error: toWireError(outcome.reason) });
    });
  } catch (error) {
    for (const { id } of requests) send({ type: 'error', id, error: toWireError(error) });
  } finally {
    for (const { id } of requests) controllers.delete(id);
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
  const requests = message.type === 'generate' ? [message] : message.requests;
  for (const { id } of requests) controllers.set(id, new AbortController());
  queue = queue.then(() => run(requests));
});

send({ type: 'ready', info: pipeline.info });
