import * as tf from '@tensorflow/tfjs';
import { check } from '../errors.ts';

/**
 * Where depth is observable from defocus. Blur only reveals depth where the all-in-focus image changes at
 * the scale of the blur: on a flat patch wider than the blur the two images agree at every depth, so the
 * optimizer's depth there is the prior's guess (or the smoothness term's), not a measurement.
 *
 * Confidence per pixel, in [0, 1]: the local energy of the AIF's detail at the blur's scale,
 * `e = boxmean_r((g - boxmean_r(g))^2)` with `g` the grey AIF and `r` the blur radius (half the median CoC of
 * the large aperture at the estimated depth, clamped to [1, min(h, w) / 4]), mapped as `e / (e + floor)`:
 * 0.5 where the detail's RMS equals `sqrt(floor)` ({@link TEXTURE_FLOOR}: about one 8-bit step). Pixels
 * saturated in either image get 0 (their blur is clipped). A constant image is 0 everywhere.
 *
 * @example
 * const c = defocusConfidence(aif, observed, { radiusPx: 3, saturation: 0.99 }); // [h, w] in [0, 1]
 */

/** Detail energy (linear units squared) that counts as half observable: an RMS of ~0.0032 (0.8/255). */
export const TEXTURE_FLOOR = 1e-5;

/** Confidence at or above which a pixel counts as observable in `observable_fraction`. */
export const OBSERVABLE_THRESHOLD = 0.5;

export interface ConfidenceOptions {
  /** Blur radius in pixels at the working size (the window of the detail measure). */
  radiusPx: number;
  /** Pixels at or above this in either image get 0; null keeps them. */
  saturation: number | null;
  /** @default TEXTURE_FLOOR */
  floor?: number;
}

/** Box mean over a `(2r + 1)^2` window, same size (`[h, w]` in and out). */
function boxMean(x: tf.Tensor2D, r: number): tf.Tensor2D {
  const k = 2 * r + 1;
  return tf.tidy(() => {
    const x4 = tf.reshape(x, [1, x.shape[0], x.shape[1], 1]) as tf.Tensor4D;
    const ones = tf.onesLike(x4);
    // Dividing by the pooled ones keeps the edges unbiased (avgPool 'same' counts padding as zeros here).
    const sum = tf.depthwiseConv2d(x4, tf.ones([k, k, 1, 1]) as tf.Tensor4D, 1, 'same');
    const cnt = tf.depthwiseConv2d(ones, tf.ones([k, k, 1, 1]) as tf.Tensor4D, 1, 'same');
    return tf.reshape(tf.div(sum, cnt), x.shape) as tf.Tensor2D;
  });
}

/** Confidence `[h, w]` in [0, 1] from the AIF (and the observed image, for saturation); see the file comment. */
export function defocusConfidence(
  aif: tf.Tensor3D,
  observed: tf.Tensor3D,
  options: ConfidenceOptions,
): tf.Tensor2D {
  const [h, w] = aif.shape;
  check(
    Number.isFinite(options.radiusPx) && options.radiusPx >= 1,
    () => `radiusPx must be >= 1, got ${options.radiusPx}`,
    { key: 'confidence.radiusPx' },
  );
  const r = Math.max(1, Math.min(Math.round(options.radiusPx), Math.floor(Math.min(h, w) / 4)));
  const floor = options.floor ?? TEXTURE_FLOOR;
  return tf.tidy(() => {
    const g = tf.mean(aif, 2) as tf.Tensor2D; // [h, w]
    const detail = tf.sub(g, boxMean(g, r)) as tf.Tensor2D; // [h, w]
    const energy = boxMean(tf.square(detail) as tf.Tensor2D, r); // [h, w]
    let conf = tf.div(energy, tf.add(energy, floor)) as tf.Tensor2D;
    if (options.saturation !== null) {
      const peak = tf.maximum(tf.max(aif, 2), tf.max(observed, 2)); // [h, w]
      conf = tf.where(tf.less(peak, options.saturation), conf, tf.zerosLike(conf)) as tf.Tensor2D;
    }
    return conf;
  });
}

/** The fraction of pixels whose confidence reaches {@link OBSERVABLE_THRESHOLD}. */
export function observableFraction(confidence: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < confidence.length; i++) if (confidence[i]! >= OBSERVABLE_THRESHOLD) n++;
  return confidence.length > 0 ? n / confidence.length : 0;
}
