import { ApertureDepthError, check } from '../core/errors.ts';

/** A learning-rate schedule: the factor applied to every group's base rate at `iteration` (0-based). */
export type Schedule = (iteration: number, total: number) => number;

/** Declarative schedules, as they appear in a config. */
export type ScheduleSpec =
  | { kind: 'constant' }
  /** Half-cosine from 1 down to `minFactor` over the run, after `warmup` linear iterations. */
  | { kind: 'cosine'; minFactor?: number; warmup?: number }
  /** Multiply by `gamma` every `every` iterations. */
  | { kind: 'step'; every: number; gamma?: number };

export const constantSchedule = (): Schedule => () => 1;

export function cosineSchedule(minFactor = 0, warmup = 0): Schedule {
  check(minFactor >= 0 && minFactor <= 1, () => `minFactor must lie in [0, 1], got ${minFactor}`, {
    key: 'schedule.minFactor',
  });
  return (it, total) => {
    if (it < warmup) return (it + 1) / warmup;
    const span = Math.max(1, total - warmup);
    const p = Math.min(1, (it - warmup) / span);
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}

export function stepSchedule(every: number, gamma = 0.5): Schedule {
  check(Number.isInteger(every) && every > 0, () => `every must be a positive integer, got ${every}`, {
    key: 'schedule.every',
  });
  return (it) => gamma ** Math.floor(it / every);
}

/** The schedule a spec describes. */
export function createSchedule(spec: ScheduleSpec = { kind: 'constant' }): Schedule {
  switch (spec.kind) {
    case 'constant':
      return constantSchedule();
    case 'cosine':
      return cosineSchedule(spec.minFactor, spec.warmup);
    case 'step':
      return stepSchedule(spec.every, spec.gamma);
    default:
      throw new ApertureDepthError(
        `unknown schedule "${(spec as { kind: string }).kind}"; expected constant, cosine or step`,
        { key: 'schedule.kind' },
      );
  }
}
