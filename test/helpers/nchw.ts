import * as tf from '@tensorflow/tfjs';
import type { NpyFixture } from './npy-fixture.ts';

/** An NCHW fixture as an NHWC tensor (the networks' layout). */
export function nhwcFromNchw(a: NpyFixture): tf.Tensor4D {
  const [n, c, h, w] = a.shape as [number, number, number, number];
  return tf.tidy(() => tf.transpose(tf.tensor4d(a.data, [n, c, h, w]), [0, 2, 3, 1]));
}

/** An NHWC tensor's values in NCHW order (to compare with a fixture). */
export function nchwValues(x: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.transpose(x, [0, 3, 1, 2])).dataSync() as Float32Array;
}
