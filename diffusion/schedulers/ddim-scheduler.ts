import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import { noiseSchedule, type NoiseSchedule } from './noise-schedule.ts';
import { readSchedulerConfig, type SchedulerConfig } from './scheduler-config.ts';
import { roundHalfEven, type DiffusionScheduler, type SchedulerStepOutput } from './scheduler.ts';

const f32 = Math.fround;

/**
 * The inference timesteps of diffusers' `DDIMScheduler.set_timesteps`, descending.
 * @example ddimTimesteps({ ...config, timestepSpacing: 'trailing' }, 4) // [999, 749, 499, 249]
 */
export function ddimTimesteps(config: SchedulerConfig, steps: number): number[] {
  const T = config.numTrainTimesteps;
  check(
    Number.isInteger(steps) && steps >= 1 && steps <= T,
    () => `expected an integer number of steps in [1, num_train_timesteps=${T}], got ${steps}`,
    { key: 'steps' },
  );
  const out: number[] = [];
  if (config.timestepSpacing === 'linspace') {
    // np.linspace(0, T - 1, n).round()[::-1]
    const delta = (T - 1) / Math.max(steps - 1, 1);
    for (let i = 0; i < steps; i++) out.push(roundHalfEven(i === steps - 1 && steps > 1 ? T - 1 : i * delta));
    out.reverse();
  } else if (config.timestepSpacing === 'leading') {
    // (np.arange(0, n) * (T // n)).round()[::-1] + steps_offset
    const ratio = Math.floor(T / steps);
    for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + config.stepsOffset);
  } else {
    // np.round(np.arange(T, 0, -T / n)) - 1; numpy's arange fills start + i * (second - first)
    const ratio = T / steps;
    const length = Math.ceil(-T / -ratio);
    const delta = T - ratio - T;
    for (let i = 0; i < length; i++)
      out.push(roundHalfEven(i === 0 ? T : i === 1 ? T - ratio : T + i * delta) - 1);
  }
  return out;
}

/**
 * Deterministic DDIM (eta = 0), a port of diffusers' `DDIMScheduler` (v0.30): epsilon / v_prediction / sample
 * parameterizations, leading / trailing / linspace spacing, `steps_offset`, `rescale_betas_zero_snr`,
 * `set_alpha_to_one`, `clip_sample`. Dynamic thresholding is rejected at config time.
 */
export class DdimScheduler implements DiffusionScheduler {
  readonly kind = 'ddim' as const;
  readonly schedule: NoiseSchedule;
  private current: number[] = [];
  private inferenceSteps = 0;

  constructor(readonly config: SchedulerConfig) {
    check(
      config.className === 'DDIMScheduler',
      () => `expected a DDIMScheduler config, got ${config.className}`,
      {
        key: '_class_name',
      },
    );
    this.schedule = noiseSchedule(config);
  }

  /** Builds the scheduler from `<dir>/scheduler_config.json`. */
  static load(dir: string): DdimScheduler {
    return new DdimScheduler(readSchedulerConfig(dir));
  }

  get timesteps(): readonly number[] {
    return this.current;
  }

  setTimesteps(steps: number): readonly number[] {
    this.current = ddimTimesteps(this.config, steps);
    this.inferenceSteps = steps;
    return this.current;
  }

  injectsNoise(): boolean {
    return false;
  }

  /** alpha_cumprod at t (float32), or the final value for t < 0. */
  private alphaCumprod(t: number): number {
    return t >= 0 ? this.schedule.alphasCumprod[t] : this.schedule.finalAlphaCumprod;
  }

  step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor): SchedulerStepOutput {
    check(this.inferenceSteps > 0, () => 'call setTimesteps(steps) before step()', {
      key: 'DdimScheduler.step',
    });
    const T = this.config.numTrainTimesteps;
    check(
      Number.isInteger(t) && t >= 0 && t < T,
      () => `timestep must be an integer in [0, ${T - 1}], got ${t}`,
      {
        key: 't',
      },
    );
    const prevT = t - Math.floor(T / this.inferenceSteps);
    // Scalars in float32, as diffusers computes them on 0-d float32 tensors.
    const alphaT = this.alphaCumprod(t);
    const alphaPrev = this.alphaCumprod(prevT);
    const betaT = f32(1 - alphaT);
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(betaT));
    const { predictionType, clipSample, clipSampleRange } = this.config;
    return tf.tidy(() => {
      let x0: tf.Tensor;
      let eps: tf.Tensor;
      if (predictionType === 'epsilon') {
        x0 = tf.div(tf.sub(sample, tf.mul(sqrtBetaT, modelOutput)), sqrtAlphaT);
        eps = modelOutput;
      } else if (predictionType === 'sample') {
        x0 = modelOutput;
        eps = tf.div(tf.sub(sample, tf.mul(sqrtAlphaT, x0)), sqrtBetaT);
      } else {
        x0 = tf.sub(tf.mul(sqrtAlphaT, sample), tf.mul(sqrtBetaT, modelOutput));
        eps = tf.add(tf.mul(sqrtAlphaT, modelOutput), tf.mul(sqrtBetaT, sample));
      }
      // epsilon stays the unclipped one (diffusers' default use_clipped_model_output=False)
      if (clipSample) x0 = tf.clipByValue(x0, -clipSampleRange, clipSampleRange);
      const direction = tf.mul(f32(Math.sqrt(f32(1 - alphaPrev))), eps);
      const prevSample = tf.add(tf.mul(f32(Math.sqrt(alphaPrev)), x0), direction);
      // `sample` prediction returns the caller's tensor as x0: hand back a copy so the caller may dispose both.
      return { prevSample, predOriginalSample: x0 === modelOutput ? tf.clone(x0) : x0 };
    });
  }
}
