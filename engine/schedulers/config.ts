// Decoding and validating what reaches a scheduler: scheduler_config.json keys with diffusers' class defaults, and
// the coded RangeErrors (sd_engine_invalid_input) whose messages say what was expected.
import { EngineErrorCode } from '../errors.ts';
import type { SchedulerConfigJson } from './scheduler.ts';

export function schedulerError(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: EngineErrorCode.InvalidInput });
}

export function describeValue(value: unknown): string {
  return `\`${typeof value === 'object' ? JSON.stringify(value) : String(value)}\` (${value === null ? 'null' : typeof value})`;
}

/** Reads snake_case keys of scheduler_config.json; absent or null keys take diffusers' class default. */
export class ConfigReader {
  constructor(
    readonly json: SchedulerConfigJson,
    readonly className: string,
  ) {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw schedulerError(`Expected the ${className} config to be an object (scheduler_config.json), got ${describeValue(json)}`);
    }
  }

  #get(key: string): unknown {
    const v = this.json[key];
    return v === null ? undefined : v;
  }

  #fail(key: string, expected: string): never {
    throw schedulerError(`Expected \`${key}\` in the ${this.className} config to be ${expected}, got ${describeValue(this.json[key])}`);
  }

  number(key: string, fallback: number): number {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || Number.isNaN(v)) this.#fail(key, 'a number');
    return v;
  }

  optionalNumber(key: string): number | undefined {
    const v = this.#get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.#fail(key, 'a finite number or null');
    return v;
  }

  integer(key: string, fallback: number, min: number): number {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.#fail(key, `an integer ≥ ${min}`);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.#fail(key, 'true or false');
    return v;
  }

  choice<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.#fail(key, `one of ${allowed.join(', ')}`);
    return v as T;
  }

  numberArray(key: string): number[] | undefined {
    const v = this.#get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) this.#fail(key, 'an array of numbers or null');
    return v as number[];
  }
}


export function checkSteps(n: number, numTrain: number, className: string): void {
  if (!Number.isInteger(n) || n < 1 || n > numTrain) {
    throw schedulerError(`Expected \`numInferenceSteps\` for ${className} to be an integer from 1 to ${numTrain}, got ${describeValue(n)}`);
  }
}

export function checkSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) {
    throw schedulerError(`Expected ${what} to have the same length, got ${a.length} and ${b.length}`);
  }
}

export function checkBeginIndex(beginIndex: number, count: number, className: string): void {
  if (!Number.isInteger(beginIndex) || beginIndex < 0 || beginIndex >= Math.max(count, 1)) {
    throw schedulerError(`Expected \`beginIndex\` for ${className} to be an integer from 0 to ${Math.max(count - 1, 0)}, got ${describeValue(beginIndex)}`);
  }
}

export function checkBatch(length: number, parts: number, name: string): number {
  if (!Number.isInteger(parts) || parts < 1 || length % parts !== 0) {
    throw schedulerError(`Expected \`${name}\` to be a positive integer that divides the ${length} latent values, got \`${parts}\``);
  }
  return length / parts;
}
