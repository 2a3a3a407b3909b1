import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { MetricMapping, ScaleShift } from './metric-mapping.ts';

/** Options of {@link BoundedMapping} (paper eq. 9). */
export interface BoundedMappingOptions {
  /** Upper bound of the scale, metres. @default 3.5 */
  sMax?: number;
  /** Upper bound of the shift, metres. @default 1.49 */
  sMin?: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const logit = (p: number): number => Math.log(p / (1 - p));

/**
 * The paper's mapping (eq. 9): `d_m = s_max * sigmoid(a) * d + s_min * sigmoid(b)`, starting at `a = b = 0`.
 * It needs the scene's depth bounds: the scale cannot exceed `s_max` nor the shift `s_min`.
 *
 * @example
 * const m = new BoundedMapping();
 * m.scaleShift(m.initialParams()); // { scale: 1.75, shift: 0.745 }
 */
export class BoundedMapping implements MetricMapping {
  readonly name = 'bounded';
  readonly paramNames = Object.freeze(['a', 'b']);
  readonly sMax: number;
  readonly sMin: number;

  constructor(options: BoundedMappingOptions = {}) {
    this.sMax = options.sMax ?? 3.5;
    this.sMin = options.sMin ?? 1.49;
    check(this.sMax > 0 && Number.isFinite(this.sMax), () => `sMax must be > 0, got ${this.sMax}`, {
      key: 'mapping.sMax',
    });
    check(this.sMin > 0 && Number.isFinite(this.sMin), () => `sMin must be > 0, got ${this.sMin}`, {
      key: 'mapping.sMin',
    });
  }

  initialParams(): Float32Array {
    return new Float32Array([0, 0]);
  }

  apply(relative: tf.Tensor2D, params: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const [a, b] = tf.unstack(params) as [tf.Scalar, tf.Scalar];
      const scale = tf.mul(this.sMax, tf.sigmoid(a));
      const shift = tf.mul(this.sMin, tf.sigmoid(b));
      return tf.add(tf.mul(relative, scale), shift) as tf.Tensor2D; // [H, W] metres
    });
  }

  scaleShift(params: ArrayLike<number>): ScaleShift {
    return { scale: this.sMax * sigmoid(params[0]), shift: this.sMin * sigmoid(params[1]) };
  }

  /** Clamped into the bounds (a target outside them is out of this mapping's reach). */
  paramsFor(target: ScaleShift): Float32Array {
    const clampP = (p: number): number => Math.min(1 - 1e-4, Math.max(1e-4, p));
    return new Float32Array([
      logit(clampP(target.scale / this.sMax)),
      logit(clampP(target.shift / this.sMin)),
    ]);
  }
}
