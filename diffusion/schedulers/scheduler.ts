import type * as tf from '@tensorflow/tfjs';
import type { NoiseSchedule } from './noise-schedule.ts';
import type { SchedulerConfig } from './scheduler-config.ts';

/** Options of one scheduler step. */
export interface SchedulerStepOptions {
  /**
   * LCM only: the fresh noise a non-final step mixes in (same shape as `sample`). When absent on a non-final
   * step, the scheduler draws it with `tf.randomNormal` (seeded by `seed` when given).
   */
  noise?: tf.Tensor;
  /** Seed for the noise drawn when `noise` is absent. */
  seed?: number;
  /** Position of `t` in the current timesteps; found from `t` when absent. */
  stepIndex?: number;
}

/** What one step returns. Tensors are new (the caller disposes them); inputs are left alone. */
export interface SchedulerStepOutput {
  /** x_{t-1}: the sample to feed the next step, or the final latent after the last step. */
  prevSample: tf.Tensor;
  /** x_0 as read from the model output (DDIM `pred_original_sample`; for LCM before the boundary mix). */
  predOriginalSample: tf.Tensor;
  /** LCM only: c_out * x0 + c_skip * x_t, the consistency function's output (`denoised`). */
  denoised?: tf.Tensor;
}

/**
 * A diffusion sampler over a fixed training noise schedule. Stateful like diffusers' schedulers:
 * `setTimesteps(n)` fixes the inference schedule that `step` then follows. Every `step` is pure tensor
 * arithmetic with scalar coefficients, so gradients flow through `modelOutput` and `sample`.
 */
export interface DiffusionScheduler {
  readonly kind: 'ddim' | 'lcm';
  readonly config: SchedulerConfig;
  readonly schedule: NoiseSchedule;
  /** The inference timesteps of the last `setTimesteps` call, descending (empty before). */
  readonly timesteps: readonly number[];
  /** Sets and returns the inference timesteps for `steps` denoising steps. */
  setTimesteps(steps: number): readonly number[];
  /** Whether the step at `stepIndex` mixes in fresh noise (LCM non-final steps). */
  injectsNoise(stepIndex: number): boolean;
  step(
    modelOutput: tf.Tensor,
    t: number,
    sample: tf.Tensor,
    options?: SchedulerStepOptions,
  ): SchedulerStepOutput;
}

/** Round half to even, as `np.round`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
