import * as tf from '@tensorflow/tfjs';

/**
 * Everything a loss may look at, for one iteration. Tensors belong to the optimizer loop: a loss reads them
 * and must not dispose them. The data term compares `rendered` with `observed` on the pixels where `mask`
 * is 1; regularizers typically look at `relativeDepth` or `depth`.
 */
export interface LossContext {
  /** The defocus model applied to the all-in-focus image, `[H, W, C]`, linear. */
  rendered: tf.Tensor3D;
  /** The large-aperture image, `[H, W, C]`, linear and exposure-equalized. */
  observed: tf.Tensor3D;
  /** Metric depth, metres, `[H, W]`. */
  depth: tf.Tensor2D;
  /** The prior's relative depth in [0, 1], `[H, W]`. */
  relativeDepth: tf.Tensor2D;
  /** The prior's latent (shape depends on the prior; `[0]` when unused). */
  latent: tf.Tensor;
  /** 0-based iteration. */
  iteration: number;
  /** Per-pixel weights `[H, W]` in [0, 1] (saturation, borders); absent = every pixel counts. */
  mask?: tf.Tensor2D;
}

/** A loss or regularizer: a scalar to minimize, differentiable through the context's tensors. */
export type LossFn = (ctx: LossContext) => tf.Scalar;

/**
 * Mean of `perPixel` (`[H, W, C]` or `[H, W]`) weighted by `mask` (`[H, W]`), over the masked-in pixels and
 * all channels. With no mask, the plain mean. A mask with no pixel in gives 0 (not NaN).
 */
export function maskedMean(perPixel: tf.Tensor, mask?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    if (!mask) return tf.mean(perPixel) as tf.Scalar;
    const channels = perPixel.rank === 3 ? perPixel.shape[2]! : 1;
    const w = perPixel.rank === 3 ? tf.expandDims(mask, 2) : mask; // [H, W, 1] or [H, W]
    const total = tf.sum(tf.mul(perPixel, w));
    const count = tf.maximum(tf.mul(tf.sum(mask), channels), 1e-12);
    return tf.div(total, count) as tf.Scalar;
  });
}

/** The sum of a data term and any regularizers, as one {@link LossFn}. */
export function composeLoss(data: LossFn, regularizers: readonly LossFn[] = []): LossFn {
  if (regularizers.length === 0) return data;
  return (ctx) => tf.tidy(() => regularizers.reduce((acc, r) => tf.add(acc, r(ctx)) as tf.Scalar, data(ctx)));
}
