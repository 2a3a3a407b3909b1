import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { LossFn } from './loss.ts';

/** Options of {@link tvRegularizer}. */
export interface TvOptions {
  /** Weight of the term in the total loss. @default 1e-3 */
  weight?: number;
  /** Which depth to smooth: the prior's relative depth or metric depth. @default 'relative' */
  on?: 'relative' | 'metric';
  /** Smoothing of |.| near 0 (Charbonnier TV), so the gradient exists at flat regions. @default 1e-3 */
  eps?: number;
}

/**
 * Total variation of depth, `weight * mean(sqrt(dx^2 + eps^2) + sqrt(dy^2 + eps^2))`: the smoothness term
 * that makes the pixel prior a classical depth-from-defocus baseline (flat, textureless regions carry no
 * defocus signal and take their depth from their neighbours).
 */
export function tvRegularizer(options: TvOptions = {}): LossFn {
  const weight = options.weight ?? 1e-3;
  const eps = options.eps ?? 1e-3;
  check(weight >= 0, () => `weight must be >= 0, got ${weight}`, { key: 'regularizer.tv.weight' });
  check(eps > 0, () => `eps must be > 0, got ${eps}`, { key: 'regularizer.tv.eps' });
  return ({ depth, relativeDepth }) =>
    tf.tidy(() => {
      const d = options.on === 'metric' ? depth : relativeDepth;
      const [h, w] = d.shape;
      const dx = tf.sub(tf.slice(d, [0, 1], [h, w - 1]), tf.slice(d, [0, 0], [h, w - 1]));
      const dy = tf.sub(tf.slice(d, [1, 0], [h - 1, w]), tf.slice(d, [0, 0], [h - 1, w]));
      const charb = (t: tf.Tensor): tf.Scalar => tf.mean(tf.sqrt(tf.add(tf.square(t), eps * eps)));
      return tf.mul(weight, tf.add(charb(dx), charb(dy))) as tf.Scalar;
    });
}
