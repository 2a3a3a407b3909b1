import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { DepthPrior } from './depth-prior.ts';

/**
 * A prior that always returns the same relative depth map (the latent is empty and ignored). For tests and
 * for "oracle shape" experiments: given the true relative depth, only the metric mapping is left to find.
 */
export class FixedPrior implements DepthPrior {
  readonly name = 'fixed';
  readonly latentShape: readonly number[] = [0];
  readonly outputShape: readonly [number, number];
  readonly sphericalLatent = false;
  readonly trainable = false;
  private readonly map: tf.Tensor2D;

  /** `relativeDepth` is `[H, W]` in [0, 1]; the prior keeps its own copy (dispose it with the prior). */
  constructor(relativeDepth: tf.Tensor2D) {
    check(relativeDepth.rank === 2, () => `relativeDepth must be [H, W], got [${relativeDepth.shape}]`, {
      key: 'FixedPrior(relativeDepth)',
    });
    this.map = tf.keep(relativeDepth.clone());
    this.outputShape = [relativeDepth.shape[0], relativeDepth.shape[1]];
  }

  /** The relative depth of a metric map: `(d - min) / (max - min)` over finite positive pixels (others 0.5). */
  static fromMetricDepth(depthM: tf.Tensor2D): FixedPrior {
    const map = tf.tidy(() => {
      const valid = tf.logicalAnd(tf.isFinite(depthM), tf.greater(depthM, 0));
      const safe = tf.where(valid, depthM, tf.fill(depthM.shape, Number.NaN)) as tf.Tensor2D;
      const v = safe.dataSync();
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of v) {
        if (Number.isFinite(x)) {
          lo = Math.min(lo, x);
          hi = Math.max(hi, x);
        }
      }
      check(Number.isFinite(lo), () => 'depth map has no finite positive pixel', {
        key: 'FixedPrior.fromMetricDepth',
      });
      const span = hi > lo ? hi - lo : 1;
      return tf.where(valid, tf.div(tf.sub(depthM, lo), span), tf.fill(depthM.shape, 0.5)) as tf.Tensor2D;
    });
    const prior = new FixedPrior(map);
    map.dispose();
    return prior;
  }

  initialLatent(_seed: number): tf.Tensor1D {
    return tf.zeros([0]) as tf.Tensor1D;
  }

  predict(_latent: tf.Tensor): tf.Tensor2D {
    return this.map.clone(); // [H, W]
  }

  dispose(): void {
    this.map.dispose();
  }
}
