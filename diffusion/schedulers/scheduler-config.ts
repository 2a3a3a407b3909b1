import { join } from 'node:path';
import { check } from '../../core/errors.ts';
import { readJsonFile } from '../../core/io/json-file.ts';

/** The scheduler classes this port implements, by their diffusers `_class_name`. */
export type SchedulerClassName = 'DDIMScheduler' | 'LCMScheduler';
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/**
 * The values of a diffusers `scheduler_config.json` that the DDIM and LCM schedulers use, with diffusers'
 * defaults filled in for keys an older file lacks (Marigold v1.0's DDIM config predates `timestep_spacing`).
 */
export interface SchedulerConfig {
  className: SchedulerClassName;
  /** @default 1000 */
  numTrainTimesteps: number;
  /** @default 0.0001 for DDIM, 0.00085 for LCM (diffusers' defaults differ) */
  betaStart: number;
  /** @default 0.02 for DDIM, 0.012 for LCM */
  betaEnd: number;
  /** @default 'linear' for DDIM, 'scaled_linear' for LCM */
  betaSchedule: BetaSchedule;
  /** Explicit betas (`trained_betas`), overriding the schedule when given. */
  trainedBetas: number[] | null;
  /** @default 'epsilon' */
  predictionType: PredictionType;
  /** @default 'leading' (DDIM only; LCM ignores it) */
  timestepSpacing: TimestepSpacing;
  /** @default 0 (DDIM only; LCM ignores it) */
  stepsOffset: number;
  /** @default true */
  setAlphaToOne: boolean;
  /** @default false */
  rescaleBetasZeroSnr: boolean;
  /** @default true for DDIM, false for LCM */
  clipSample: boolean;
  /** @default 1 */
  clipSampleRange: number;
  /** Dynamic thresholding (pixel-space models only): rejected when true. @default false */
  thresholding: boolean;
  /** LCM: the DDIM-like schedule the model was distilled from. @default 50 */
  originalInferenceSteps: number;
  /** LCM: multiplies t in c_skip / c_out. @default 10 */
  timestepScaling: number;
}

type Raw = Record<string, unknown>;

/** Largest `num_train_timesteps` accepted (diffusers' models use 1000). */
export const MAX_TRAIN_TIMESTEPS = 100_000;

function num(raw: Raw, key: string, fallback: number, file: string): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  check(
    typeof v === 'number' && Number.isFinite(v),
    () => `expected a finite number, got ${JSON.stringify(v)}`,
    {
      file,
      key,
    },
  );
  return v;
}

function bool(raw: Raw, key: string, fallback: boolean, file: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  check(typeof v === 'boolean', () => `expected true or false, got ${JSON.stringify(v)}`, { file, key });
  return v;
}

function oneOf<T extends string>(raw: Raw, key: string, allowed: readonly T[], fallback: T, file: string): T {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  check(
    typeof v === 'string' && (allowed as readonly string[]).includes(v),
    () => `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`,
    { file, key },
  );
  return v as T;
}

/**
 * Validates a parsed `scheduler_config.json` object. `file` names the source in errors.
 * @example parseSchedulerConfig({ _class_name: 'LCMScheduler', prediction_type: 'v_prediction' }).timestepScaling // 10
 */
export function parseSchedulerConfig(raw: unknown, file = 'scheduler_config.json'): SchedulerConfig {
  check(raw !== null && typeof raw === 'object' && !Array.isArray(raw), () => 'expected a JSON object', {
    file,
  });
  const r = raw as Raw;
  const className = r._class_name;
  check(
    className === 'DDIMScheduler' || className === 'LCMScheduler',
    () =>
      `unsupported scheduler ${JSON.stringify(className)}; this port implements DDIMScheduler and LCMScheduler`,
    { file, key: '_class_name' },
  );
  const isLcm = className === 'LCMScheduler';
  let trainedBetas: number[] | null = null;
  if (r.trained_betas !== undefined && r.trained_betas !== null) {
    check(
      Array.isArray(r.trained_betas) && r.trained_betas.every((b) => typeof b === 'number'),
      () => 'expected an array of numbers or null',
      { file, key: 'trained_betas' },
    );
    trainedBetas = r.trained_betas as number[];
  }
  const config: SchedulerConfig = {
    className,
    numTrainTimesteps: num(r, 'num_train_timesteps', 1000, file),
    betaStart: num(r, 'beta_start', isLcm ? 0.00085 : 0.0001, file),
    betaEnd: num(r, 'beta_end', isLcm ? 0.012 : 0.02, file),
    betaSchedule: oneOf(
      r,
      'beta_schedule',
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const,
      isLcm ? 'scaled_linear' : 'linear',
      file,
    ),
    trainedBetas,
    predictionType: oneOf(
      r,
      'prediction_type',
      ['epsilon', 'v_prediction', 'sample'] as const,
      'epsilon',
      file,
    ),
    timestepSpacing: oneOf(
      r,
      'timestep_spacing',
      ['leading', 'trailing', 'linspace'] as const,
      'leading',
      file,
    ),
    stepsOffset: num(r, 'steps_offset', 0, file),
    setAlphaToOne: bool(r, 'set_alpha_to_one', true, file),
    rescaleBetasZeroSnr: bool(r, 'rescale_betas_zero_snr', false, file),
    clipSample: bool(r, 'clip_sample', !isLcm, file),
    clipSampleRange: num(r, 'clip_sample_range', 1, file),
    thresholding: bool(r, 'thresholding', false, file),
    originalInferenceSteps: num(r, 'original_inference_steps', 50, file),
    timestepScaling: num(r, 'timestep_scaling', 10, file),
  };
  // The schedule allocates arrays of this length: cap it (diffusers trains with 1000) before anything is built.
  check(
    Number.isInteger(config.numTrainTimesteps) &&
      config.numTrainTimesteps >= 1 &&
      config.numTrainTimesteps <= MAX_TRAIN_TIMESTEPS,
    () => `expected a positive integer of at most ${MAX_TRAIN_TIMESTEPS}, got ${config.numTrainTimesteps}`,
    { file, key: 'num_train_timesteps' },
  );
  check(Number.isInteger(config.stepsOffset) && config.stepsOffset >= 0, () => 'expected an integer >= 0', {
    file,
    key: 'steps_offset',
  });
  check(
    Number.isInteger(config.originalInferenceSteps) &&
      config.originalInferenceSteps >= 1 &&
      config.originalInferenceSteps <= config.numTrainTimesteps,
    () =>
      `expected an integer in [1, num_train_timesteps=${config.numTrainTimesteps}], got ${config.originalInferenceSteps}`,
    { file, key: 'original_inference_steps' },
  );
  check(
    !trainedBetas || trainedBetas.length === config.numTrainTimesteps,
    () => `expected ${config.numTrainTimesteps} entries (num_train_timesteps), got ${trainedBetas!.length}`,
    { file, key: 'trained_betas' },
  );
  check(
    !config.thresholding,
    () => 'dynamic thresholding is for pixel-space models and is not implemented; set it to false',
    { file, key: 'thresholding' },
  );
  return config;
}

/** Reads and validates `<dir>/scheduler_config.json`. */
export function readSchedulerConfig(dir: string): SchedulerConfig {
  const file = join(dir, 'scheduler_config.json');
  return parseSchedulerConfig(readJsonFile(file, 'scheduler config'), file);
}
