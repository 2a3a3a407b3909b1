import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { MetricMapping, ScaleShift } from './metric-mapping.ts';

/** Options of {@link FreeMapping}. */
export interface FreeMappingOptions {
  /** Start, before any search: scale in metres. @default 1 */
  scale?: number;
  /** Start, before any search: shift in metres. @default 1 */
  shift?: number;
}

/**
 * A mapping that needs no scene bounds: `d_m = exp(log_scale) * d + exp(log_shift)`. Positive for every
 * relative depth in [0, 1], any magnitude reachable, and steps in log space are relative steps (the same
 * learning rate suits a 0.5 m scene and a 50 m one). Its start comes from a coarse search of the defocus
 * loss over scale and shift (see `grid-init.ts`), since the loss is not convex in them.
 */
export class FreeMapping implements MetricMapping {
  readonly name = 'free';
  readonly paramNames = Object.freeze(['log_scale', 'log_shift']);
  private readonly start: ScaleShift;

  constructor(options: FreeMappingOptions = {}) {
    this.start = { scale: options.scale ?? 1, shift: options.shift ?? 1 };
    check(this.start.scale > 0, () => `scale must be > 0, got ${this.start.scale}`, { key: 'mapping.scale' });
    check(this.start.shift > 0, () => `shift must be > 0, got ${this.start.shift}`, { key: 'mapping.shift' });
  }

  initialParams(): Float32Array {
    return this.paramsFor(this.start);
  }

  apply(relative: tf.Tensor2D, params: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const e = tf.exp(params); // [2]: scale, shift
      const [scale, shift] = tf.unstack(e) as [tf.Scalar, tf.Scalar];
      return tf.add(tf.mul(relative, scale), shift) as tf.Tensor2D; // [H, W] metres
    });
  }

  scaleShift(params: ArrayLike<number>): ScaleShift {
    return { scale: Math.exp(params[0]), shift: Math.exp(params[1]) };
  }

  paramsFor(target: ScaleShift): Float32Array {
    const tiny = 1e-6;
    return new Float32Array([Math.log(Math.max(tiny, target.scale)), Math.log(Math.max(tiny, target.shift))]);
  }
}
