import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.ts';

/** A standard-normal tensor of `shape` drawn from `rng` (row-major, so the same seed gives the same tensor). */
export function normalTensor(rng: Rng, shape: readonly number[]): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), [...shape]);
}
