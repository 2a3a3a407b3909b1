import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import { maskedMean, type LossFn } from './loss.ts';

/** Mean squared error between rendered and observed (the paper's objective, up to a constant factor). */
export function l2Loss(): LossFn {
  return ({ rendered, observed, mask }) =>
    tf.tidy(() => maskedMean(tf.square(tf.sub(rendered, observed)), mask));
}

/** Mean absolute error: less weight on large residuals (occlusion edges, specularities). */
export function l1Loss(): LossFn {
  return ({ rendered, observed, mask }) =>
    tf.tidy(() => maskedMean(tf.abs(tf.sub(rendered, observed)), mask));
}

/** Options of {@link charbonnierLoss}. */
export interface CharbonnierOptions {
  /** Smoothing: quadratic below about eps, linear above. In image units (linear intensity). @default 1e-3 */
  eps?: number;
}

/** Charbonnier `sqrt(r^2 + eps^2) - eps`: a smooth L1, differentiable at zero. */
export function charbonnierLoss(options: CharbonnierOptions = {}): LossFn {
  const eps = options.eps ?? 1e-3;
  check(eps > 0, () => `eps must be > 0, got ${eps}`, { key: 'loss.eps' });
  return ({ rendered, observed, mask }) =>
    tf.tidy(() =>
      maskedMean(tf.sub(tf.sqrt(tf.add(tf.square(tf.sub(rendered, observed)), eps * eps)), eps), mask),
    );
}

/** Options of {@link gradientLoss}. */
export interface GradientLossOptions {
  /** Penalty on the difference of gradients. @default 'l1' */
  penalty?: 'l1' | 'l2';
}

/** Forward differences along x and y of `[H, W, C]`: `[H, W-1, C]` and `[H-1, W, C]`. */
export function imageGradients(image: tf.Tensor3D): [tf.Tensor3D, tf.Tensor3D] {
  const [h, w] = image.shape;
  const dx = tf.sub(tf.slice(image, [0, 1, 0], [h, w - 1, -1]), tf.slice(image, [0, 0, 0], [h, w - 1, -1]));
  const dy = tf.sub(tf.slice(image, [1, 0, 0], [h - 1, w, -1]), tf.slice(image, [0, 0, 0], [h - 1, w, -1]));
  return [dx as tf.Tensor3D, dy as tf.Tensor3D];
}

/**
 * Gradient-domain loss: compares the x and y image gradients of rendered and observed. Blind to a global
 * offset (e.g. a black-level mismatch) and focused on edges, where defocus shows.
 */
export function gradientLoss(options: GradientLossOptions = {}): LossFn {
  const penalty = options.penalty ?? 'l1';
  const rho = (t: tf.Tensor): tf.Tensor => (penalty === 'l2' ? tf.square(t) : tf.abs(t));
  return ({ rendered, observed, mask }) =>
    tf.tidy(() => {
      const [h, w] = rendered.shape;
      const [rdx, rdy] = imageGradients(rendered);
      const [odx, ody] = imageGradients(observed);
      let mx: tf.Tensor2D | undefined;
      let my: tf.Tensor2D | undefined;
      if (mask) {
        mx = tf.mul(tf.slice(mask, [0, 1], [h, w - 1]), tf.slice(mask, [0, 0], [h, w - 1])) as tf.Tensor2D;
        my = tf.mul(tf.slice(mask, [1, 0], [h - 1, w]), tf.slice(mask, [0, 0], [h - 1, w])) as tf.Tensor2D;
      }
      const lx = maskedMean(rho(tf.sub(rdx, odx)), mx);
      const ly = maskedMean(rho(tf.sub(rdy, ody)), my);
      return tf.mul(0.5, tf.add(lx, ly)) as tf.Scalar;
    });
}
