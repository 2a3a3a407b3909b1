import * as tf from '@tensorflow/tfjs';
import { convPadding } from './conv2d-input-grad.ts';

/**
 * Filter gradient of an NHWC convolution (dilation 1) as ONE convolution, like TensorFlow's
 * Conv2DBackpropFilter (wasm has none): `dw[a, b, ci, co] = Σ_{n, i, j} xpad[n, i·s + a, j·s + b, ci] ·
 * dy[n, i, j, co]` is a valid stride-1 correlation of xpad seen as `[ci, Hp, Wp, N]` (channels as batch,
 * batch as channels) with dy seen as a `[Ho, Wo, N, co]` filter dilated by the stride `s`. Its output is
 * `[ci, Hp - (Ho-1)·s, Wp - (Wo-1)·s, co]`, at least `kh x kw` (rows and columns of xpad that no output reads
 * come out extra, and are cropped). On wasm this is 2-40x faster than im2col + matMul (no patch matrix to
 * concatenate and transpose; strided im2col views are especially slow). A 1x1 unpadded stride-1 filter is
 * a plain `xᵀ dy` matMul, faster still.
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D, // [N, H, W, Ci]
  dy: tf.Tensor4D, // [N, Ho, Wo, Co]
  filterShape: readonly [number, number, number, number],
  stride: number,
  pad: readonly [number, number, number, number],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = filterShape;
    const padding = convPadding(pad);
    if (kh === 1 && kw === 1 && stride === 1 && padding === 'valid') {
      const x2 = tf.reshape(x, [-1, ci]) as tf.Tensor2D;
      return tf.reshape(tf.matMul(tf.transpose(x2), tf.reshape(dy, [-1, co]) as tf.Tensor2D), [1, 1, ci, co]) as tf.Tensor4D;
    }
    const xp = padding === 'valid' ? x : tf.pad(x, padding);
    const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, N]
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Co]
    const y = tf.conv2d(xt, f, 1, 'valid', 'NHWC', stride); // [Ci, >= kh, >= kw, Co]
    const cropped = y.shape[1] === kh && y.shape[2] === kw ? y : tf.slice(y, [0, 0, 0, 0], [-1, kh, kw, -1]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, Ci, Co]
  });
}
