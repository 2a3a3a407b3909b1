import type * as tf from '@tensorflow/tfjs';

/**
 * A source of relative depth driven by a latent that the optimizer may change.
 *
 * `predict` maps a latent of shape {@link DepthPrior.latentShape} to relative depth `[H, W]` in [0, 1]
 * (0 = nearest, 1 = farthest; depth, not disparity), differentiably with respect to the latent. The caller
 * owns the returned tensor. Implementations: {@link PixelPrior} (per-pixel logits), {@link FixedPrior} (a
 * given map, latent ignored) and {@link MarigoldDepthPrior} (a diffusion prior's noise latent).
 */
export interface DepthPrior {
  /** Registry name, written into run records (`pixel`, `fixed`, `marigold`). */
  readonly name: string;
  /** Shape of the latent (`[1, 4, h, w]` for Marigold, `[H, W]` for the pixel prior, `[0]` when unused). */
  readonly latentShape: readonly number[];
  /** Output size `[H, W]` of `predict`. */
  readonly outputShape: readonly [number, number];
  /**
   * Whether the latent lives on the sphere of radius sqrt(M) (a Gaussian noise latent): the optimizer then
   * re-projects it after every step (METHOD.md, objective).
   */
  readonly sphericalLatent: boolean;
  /** Whether the latent has any effect (false for the fixed prior: nothing to optimize). */
  readonly trainable: boolean;
  /** The starting latent for `seed` (same seed, same tensor). */
  initialLatent(seed: number): tf.Tensor;
  /** Relative depth `[H, W]` in [0, 1], differentiable with respect to `latent`. */
  predict(latent: tf.Tensor): tf.Tensor2D;
  /**
   * Priors whose networks run outside tfjs autograd (the ONNX engine) offer the explicit path: the
   * relative depth without gradient, asynchronously. When present, the optimizer uses it instead of
   * `predict` (which such a prior may not support).
   */
  predictAsync?(latent: tf.Tensor): Promise<tf.Tensor2D>;
  /**
   * The relative depth and a way back to the latent gradient: the optimizer takes d loss / d depth with
   * tfjs autograd (depth as an input) and calls `backward` for d loss / d latent.
   */
  predictWithVjp?(latent: tf.Tensor): Promise<PriorVjp>;
  /** Frees what the prior holds (weights it owns, cached encodings). */
  dispose(): void;
}

/** What {@link DepthPrior.predictWithVjp} returns. The caller owns every tensor. */
export interface PriorVjp {
  /** Relative depth `[H, W]` in [0, 1]. */
  depth: tf.Tensor2D;
  /** `d sum(depth * dDepth) / d latent`, shaped like the latent. Runs once. */
  backward(dDepth: tf.Tensor2D): Promise<tf.Tensor>;
}
