// Messages between the engine (main thread) and its worker. Functions and AbortSignals cannot cross threads, so
// a request carries flags instead and the main thread keeps the callbacks.
import { EngineError, EngineErrorCode } from './errors.ts';
import type { SessionOptions } from './runtime.ts';
import type { GenerateOptions, GenerateResult, ModelInfo, RgbImage } from './types.ts';

export interface WorkerInit {
  readonly modelDir: string;
  readonly sessionOptions: SessionOptions;
  readonly niceness: number;
}

export type WireGenerateOptions = Omit<GenerateOptions, 'signal' | 'onProgress'>;

export type ToWorker =
  | { readonly type: 'generate'; readonly id: number; readonly options: WireGenerateOptions; readonly progress: boolean }
  /** Requests run as one UNet batch; each id still gets its own progress, result or error. */
  | { readonly type: 'generate-batch'; readonly requests: readonly { readonly id: number; readonly options: WireGenerateOptions; readonly progress: boolean }[] }
  | { readonly type: 'abort'; readonly id: number; readonly reason: string }
  /** Abort every job, release the sessions and exit: terminate() during a native run aborts the whole process. */
  | { readonly type: 'close' }
  /** Die with an uncaught exception between steps, as a crash would (tests of crash recovery). */
  | { readonly type: 'crash' };

export interface WireError {
  readonly code: EngineErrorCode;
  readonly message: string;
  readonly file: string | undefined;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly info: ModelInfo }
  | { readonly type: 'load-error'; readonly error: WireError }
  | { readonly type: 'progress'; readonly id: number; readonly step: number; readonly totalSteps: number; readonly preview?: RgbImage }
  | { readonly type: 'result'; readonly id: number; readonly result: GenerateResult }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError };

const codes = new Set<string>(Object.values(EngineErrorCode));

export function toWireError(error: unknown): WireError {
  const e = error as { code?: unknown; message?: unknown; file?: unknown };
  const code = typeof e?.code === 'string' && codes.has(e.code) ? (e.code as EngineErrorCode) : 'sd_engine_inference';
  return {
    code,
    message: typeof e?.message === 'string' ? e.message : String(error),
    file: typeof e?.file === 'string' ? e.file : undefined,
  };
}

export function fromWireError(wire: WireError): EngineError {
  return new EngineError(wire.code, wire.message, wire.file === undefined ? {} : { file: wire.file });
}
