import { check } from '../../core/errors.ts';
import { DdimScheduler } from './ddim-scheduler.ts';
import { LcmScheduler } from './lcm-scheduler.ts';
import { readSchedulerConfig, type SchedulerConfig } from './scheduler-config.ts';
import type { DiffusionScheduler } from './scheduler.ts';

export { DdimScheduler, ddimTimesteps } from './ddim-scheduler.ts';
export { LcmScheduler, lcmTimesteps, lcmBoundaryScalings } from './lcm-scheduler.ts';
export { noiseSchedule, type NoiseSchedule } from './noise-schedule.ts';
export { parseSchedulerConfig, readSchedulerConfig, type SchedulerConfig } from './scheduler-config.ts';
export type { DiffusionScheduler, SchedulerStepOptions, SchedulerStepOutput } from './scheduler.ts';

/** The scheduler a config names (`_class_name`). */
export function schedulerFromConfig(config: SchedulerConfig): DiffusionScheduler {
  return config.className === 'LCMScheduler' ? new LcmScheduler(config) : new DdimScheduler(config);
}

/** Loads the scheduler of a component folder (`<ckpt>/scheduler`), by the class its config names. */
export function loadScheduler(dir: string, expected?: 'ddim' | 'lcm'): DiffusionScheduler {
  const scheduler = schedulerFromConfig(readSchedulerConfig(dir));
  check(
    !expected || scheduler.kind === expected,
    () => `this folder holds a ${scheduler.config.className}, not the requested ${expected} scheduler`,
    { file: dir, key: '_class_name' },
  );
  return scheduler;
}
