import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import { noiseSchedule, type NoiseSchedule } from './noise-schedule.ts';
import { readSchedulerConfig, type SchedulerConfig } from './scheduler-config.ts';
import type { DiffusionScheduler, SchedulerStepOptions, SchedulerStepOutput } from './scheduler.ts';

const f32 = Math.fround;
const SIGMA_DATA = 0.5;

/**
 * The inference timesteps of diffusers' `LCMScheduler.set_timesteps` (strength 1): the distillation grid
 * k, 2k, ..., T (k = T // original_inference_steps, minus 1), reversed, sampled at floor(linspace(0, len, n)).
 * `timestep_spacing` and `steps_offset` play no part.
 * @example lcmTimesteps(config, 4) // [999, 759, 499, 259] for T = 1000, original_inference_steps = 50
 */
export function lcmTimesteps(config: SchedulerConfig, steps: number): number[] {
  const T = config.numTrainTimesteps;
  const original = config.originalInferenceSteps;
  check(
    Number.isInteger(steps) && steps >= 1 && steps <= original,
    () => `expected an integer number of steps in [1, original_inference_steps=${original}], got ${steps}`,
    { key: 'steps' },
  );
  const k = Math.floor(T / original);
  const grid: number[] = [];
  for (let i = original; i >= 1; i--) grid.push(i * k - 1);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(grid[Math.floor((i * grid.length) / steps)]);
  return out;
}

/** LCM's boundary-condition scalings at t: c_skip = s^2 / ((t * scaling)^2 + s^2), c_out = t * scaling / sqrt(...). */
export function lcmBoundaryScalings(t: number, timestepScaling: number): { cSkip: number; cOut: number } {
  const scaled = f32(t * timestepScaling);
  const denominator = f32(f32(scaled * scaled) + SIGMA_DATA * SIGMA_DATA);
  return {
    cSkip: f32((SIGMA_DATA * SIGMA_DATA) / denominator),
    cOut: f32(scaled / f32(Math.sqrt(denominator))),
  };
}

/**
 * Latent consistency model sampling, a port of diffusers' `LCMScheduler` (v0.30): x0 from the model output
 * (epsilon / v_prediction / sample), `denoised = c_out * x0 + c_skip * x_t`, and on every non-final step
 * `prev = sqrt(a_prev) * denoised + sqrt(1 - a_prev) * noise` with fresh noise (pass `noise` to fix it).
 */
export class LcmScheduler implements DiffusionScheduler {
  readonly kind = 'lcm' as const;
  readonly schedule: NoiseSchedule;
  private current: number[] = [];

  constructor(readonly config: SchedulerConfig) {
    check(
      config.className === 'LCMScheduler',
      () => `expected an LCMScheduler config, got ${config.className}`,
      {
        key: '_class_name',
      },
    );
    this.schedule = noiseSchedule(config);
  }

  /** Builds the scheduler from `<dir>/scheduler_config.json`. */
  static load(dir: string): LcmScheduler {
    return new LcmScheduler(readSchedulerConfig(dir));
  }

  get timesteps(): readonly number[] {
    return this.current;
  }

  setTimesteps(steps: number): readonly number[] {
    this.current = lcmTimesteps(this.config, steps);
    return this.current;
  }

  injectsNoise(stepIndex: number): boolean {
    return stepIndex < this.current.length - 1;
  }

  private alphaCumprod(t: number): number {
    return t >= 0 ? this.schedule.alphasCumprod[t] : this.schedule.finalAlphaCumprod;
  }

  step(
    modelOutput: tf.Tensor,
    t: number,
    sample: tf.Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    check(this.current.length > 0, () => 'call setTimesteps(steps) before step()', {
      key: 'LcmScheduler.step',
    });
    const index = options.stepIndex ?? this.current.indexOf(t);
    check(
      index >= 0 && index < this.current.length && this.current[index] === t,
      () => `timestep ${t} is not in the current schedule [${this.current.join(', ')}]`,
      { key: 't' },
    );
    const isFinal = index === this.current.length - 1;
    const prevT = isFinal ? t : this.current[index + 1];
    const alphaT = this.alphaCumprod(t);
    const alphaPrev = this.alphaCumprod(prevT);
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(f32(1 - alphaT)));
    const { cSkip, cOut } = lcmBoundaryScalings(t, this.config.timestepScaling);
    const { predictionType, clipSample, clipSampleRange } = this.config;
    if (options.noise && !isFinal) {
      check(
        options.noise.shape.join(',') === sample.shape.join(','),
        () => `noise shape [${options.noise!.shape}] differs from the sample's [${sample.shape}]`,
        { key: 'noise' },
      );
    }
    return tf.tidy(() => {
      let x0: tf.Tensor;
      if (predictionType === 'epsilon')
        x0 = tf.div(tf.sub(sample, tf.mul(sqrtBetaT, modelOutput)), sqrtAlphaT);
      else if (predictionType === 'sample') x0 = tf.clone(modelOutput);
      else x0 = tf.sub(tf.mul(sqrtAlphaT, sample), tf.mul(sqrtBetaT, modelOutput));
      if (clipSample) x0 = tf.clipByValue(x0, -clipSampleRange, clipSampleRange);
      const denoised = tf.add(tf.mul(cOut, x0), tf.mul(cSkip, sample));
      let prevSample: tf.Tensor;
      if (isFinal) prevSample = tf.clone(denoised);
      else {
        const noise = options.noise ?? tf.randomNormal(sample.shape, 0, 1, 'float32', options.seed);
        prevSample = tf.add(
          tf.mul(f32(Math.sqrt(alphaPrev)), denoised),
          tf.mul(f32(Math.sqrt(f32(1 - alphaPrev))), noise),
        );
      }
      return { prevSample, predOriginalSample: x0, denoised };
    });
  }
}
