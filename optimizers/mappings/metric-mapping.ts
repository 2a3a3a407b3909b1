import type * as tf from '@tensorflow/tfjs';

/** Metric scale and shift: `depthM = scale * relative + shift`. */
export interface ScaleShift {
  scale: number;
  shift: number;
}

/**
 * Maps relative depth `[H, W]` in [0, 1] to metric depth in metres through a few trainable parameters.
 * Every mapping here is affine in the relative depth, `d_m = scale(params) * d + shift(params)`; they differ
 * in how scale and shift are parametrized (and so in what the optimizer sees).
 */
export interface MetricMapping {
  /** Registry name (`bounded`, `free`). */
  readonly name: string;
  /** Names of the entries of the parameter vector, written into run records. */
  readonly paramNames: readonly string[];
  /** Parameter vector at the mapping's own default start. */
  initialParams(): Float32Array;
  /** Metric depth `[H, W]` (metres), differentiable in `relative` and `params` (`[P]`). */
  apply(relative: tf.Tensor2D, params: tf.Tensor1D): tf.Tensor2D;
  /** The scale and shift that `params` stand for. */
  scaleShift(params: ArrayLike<number>): ScaleShift;
  /** Parameters that give (as close as the parametrization allows) the requested scale and shift. */
  paramsFor(target: ScaleShift): Float32Array;
}
