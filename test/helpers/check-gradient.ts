import type { ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs';

/**
 * Checks tf.grad of `f` at `p0` (of `shape`) against central differences of step `h`, component by component;
 * returns the analytic gradient.
 */
export function checkGradient(
  t: ExecutionContext,
  f: (p: tf.Tensor) => tf.Scalar,
  p0: Float32Array,
  shape: readonly number[],
  h: number,
  tol: number,
): Float32Array {
  const value = (p: Float32Array) => tf.tidy(() => f(tf.tensor(p, [...shape])).dataSync()[0]!);
  const grad = tf.tidy(() => tf.grad(f)(tf.tensor(p0, [...shape])).dataSync() as Float32Array);
  for (let i = 0; i < p0.length; i++) {
    const plus = Float32Array.from(p0);
    const minus = Float32Array.from(p0);
    plus[i]! += h;
    minus[i]! -= h;
    const fd = (value(plus) - value(minus)) / (2 * h);
    t.true(Math.abs(fd - grad[i]!) < tol, `component ${i}: fd ${fd} vs grad ${grad[i]}`);
  }
  return grad;
}
