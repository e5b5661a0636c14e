// Scheduler registry: builds a scheduler from a diffusers scheduler_config.json, by its `_class_name`
// or by an explicit name (diffusers' `Scheduler.from_config(pipe.scheduler.config)` swap).
import type { SchedulerName } from '../types.ts';
import { schedulerError } from './config.ts';
import { DDIMScheduler } from './ddim.ts';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep.ts';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete.ts';
import { EulerDiscreteScheduler } from './euler-discrete.ts';
import { LCMScheduler } from './lcm.ts';
import { PNDMScheduler } from './pndm.ts';
import type { Scheduler, SchedulerConfigJson } from './scheduler.ts';

export { DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, LCMScheduler, PNDMScheduler };
export type { Scheduler, SchedulerConfigJson, SchedulerOutput } from './scheduler.ts';
export type { LcmTimestepOptions } from './lcm.ts';

const registry: Readonly<Record<SchedulerName, new (config: SchedulerConfigJson) => Scheduler>> = {
  DDIMScheduler,
  PNDMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  DPMSolverMultistepScheduler,
  LCMScheduler,
};

export const schedulerNames = Object.keys(registry) as readonly SchedulerName[];

/** The schedulers here that read diffusers' `use_karras_sigmas`. */
export const karrasSchedulerNames: readonly SchedulerName[] = ['DPMSolverMultistepScheduler', 'EulerDiscreteScheduler'];

/**
 * The config with `use_karras_sigmas` set (undefined: unchanged). Karras replaces any other sigma spacing the
 * config asks for, since the schedulers accept only one.
 */
export function withKarrasSigmas(config: SchedulerConfigJson, useKarrasSigmas: boolean | undefined): SchedulerConfigJson {
  if (useKarrasSigmas === undefined) return config;
  if (!useKarrasSigmas) return { ...config, use_karras_sigmas: false };
  return { ...config, use_karras_sigmas: true, use_exponential_sigmas: false, use_beta_sigmas: false, use_lu_lambdas: false };
}

export function isSchedulerName(name: unknown): name is SchedulerName {
  return typeof name === 'string' && Object.hasOwn(registry, name);
}

/**
 * A scheduler from scheduler_config.json. `name` overrides the config's `_class_name`; keys the chosen
 * class does not know are ignored, and missing ones take that class's diffusers defaults.
 */
export function createScheduler(config: SchedulerConfigJson, name?: SchedulerName): Scheduler {
  const chosen: unknown = name ?? config._class_name;
  if (!isSchedulerName(chosen)) {
    const source = name === undefined ? 'the config\'s `_class_name`' : '`scheduler`';
    throw schedulerError(
      `Expected ${source} to be one of ${schedulerNames.join(', ')}, got \`${String(chosen)}\` (${typeof chosen})`,
    );
  }
  return new registry[chosen](config);
}
