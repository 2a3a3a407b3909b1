import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';

/**
 * 1 where every channel of every image is below `threshold` (linear intensity, images scaled to [0, 1]),
 * else 0: clipped pixels carry no defocus information. `[H, W]` float32.
 */
export function saturationMask(images: readonly tf.Tensor3D[], threshold = 0.99): tf.Tensor2D {
  check(images.length > 0, () => 'need at least one image', { key: 'saturationMask(images)' });
  return tf.tidy(() => {
    const peaks = images.map((im) => tf.max(im, 2)); // [H, W] each
    const peak = peaks.reduce((a, b) => tf.maximum(a, b));
    return tf.cast(tf.less(peak, threshold), 'float32') as tf.Tensor2D;
  });
}

/**
 * 0 within `width` pixels of the image border, 1 inside: there the renderer lacks the light of sources
 * outside the frame. A natural width is half the largest circle of confusion. `[H, W]` float32.
 */
export function borderMask(height: number, width: number, borderPx: number): tf.Tensor2D {
  const b = Math.max(0, Math.ceil(borderPx));
  check(
    2 * b < Math.min(height, width),
    () => `border ${b} px leaves no pixel of a ${height}x${width} image`,
    {
      key: 'borderMask(borderPx)',
    },
  );
  const values = new Float32Array(height * width);
  for (let y = b; y < height - b; y++) values.fill(1, y * width + b, y * width + width - b);
  return tf.tensor2d(values, [height, width]);
}

/** Product of masks (any may be undefined); undefined when none is given. */
export function combineMasks(...masks: (tf.Tensor2D | undefined)[]): tf.Tensor2D | undefined {
  const present = masks.filter((m): m is tf.Tensor2D => m !== undefined);
  if (present.length === 0) return undefined;
  return tf.tidy(() => present.reduce((a, b) => tf.mul(a, b) as tf.Tensor2D));
}

/**
 * 0 within `radiusPx` of a depth discontinuity, 1 elsewhere: where the relative depth's range over a
 * `(2 r + 1)^2` window exceeds `threshold`. The scatter model has no occlusion, so near a depth edge its
 * prediction is wrong whatever the depth (a blurred background leaks over a sharp foreground); fitting
 * those pixels biases the scale. Computed from the prior's relative depth, never from ground truth.
 * `[H, W]` float32.
 */
export function depthEdgeMask(relativeDepth: tf.Tensor2D, radiusPx: number, threshold = 0.1): tf.Tensor2D {
  const r = Math.max(0, Math.ceil(radiusPx));
  check(threshold > 0, () => `threshold must be > 0, got ${threshold}`, { key: 'depthEdgeMask(threshold)' });
  return tf.tidy(() => {
    const d = tf.expandDims(relativeDepth, 2) as tf.Tensor3D; // [H, W, 1]
    const k = 2 * r + 1;
    const hi = tf.maxPool(d, k, 1, 'same');
    const lo = tf.neg(tf.maxPool(tf.neg(d), k, 1, 'same'));
    return tf.cast(tf.less(tf.squeeze(tf.sub(hi, lo), [2]), threshold), 'float32') as tf.Tensor2D;
  });
}
