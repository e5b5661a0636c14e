// Coded engine errors. Messages say what was expected and how to fix it.

export const EngineErrorCode = {
  ModelLoad: 'sd_engine_model_load',
  Provider: 'sd_engine_provider',
  InvalidInput: 'sd_engine_invalid_input',
  Aborted: 'sd_engine_aborted',
  WorkerCrashed: 'sd_engine_worker_crashed',
  Inference: 'sd_engine_inference',
} as const;
export type EngineErrorCode = (typeof EngineErrorCode)[keyof typeof EngineErrorCode];

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: ErrorOptions & { readonly file?: string },
  ) {
    super(message, options);
    this.file = options?.file;
  }
  readonly file: string | undefined;
  override get name(): string {
    return `EngineError[${this.code}]`;
  }
}
