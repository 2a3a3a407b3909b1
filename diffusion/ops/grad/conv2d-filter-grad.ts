import * as tf from '@tensorflow/tfjs';

/**
 * Filter gradient of an NHWC convolution by im2col + one matMul (wasm has no Conv2DBackpropFilter):
 * `dw[a, b, ci, co] = Σ_{n, i, j} xpad[n, i·s + a, j·s + b, ci] · dy[n, i, j, co]`.
 * The kh·kw strided views of the padded input are concatenated on the channel axis, so a patch row is
 * ordered (a, b, ci) like the filter's `[kh, kw, in]`.
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
    const [n, ho, wo] = dy.shape;
    const [pt, pb, pl, pr] = pad;
    const xp =
      pt || pb || pl || pr
        ? tf.pad(x, [
            [0, 0],
            [pt, pb],
            [pl, pr],
            [0, 0],
          ])
        : x;
    const taps: tf.Tensor4D[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const view =
          stride === 1
            ? tf.slice(xp, [0, a, b, 0], [n, ho, wo, ci])
            : tf.stridedSlice(xp, [0, a, b, 0], [n, a + (ho - 1) * stride + 1, b + (wo - 1) * stride + 1, ci], [
                1,
                stride,
                stride,
                1,
              ]);
        taps.push(view as tf.Tensor4D);
      }
    }
    const patches = (taps.length === 1 ? taps[0]! : tf.concat(taps, 3)).reshape([n * ho * wo, kh * kw * ci]);
    const dy2 = dy.reshape([n * ho * wo, co]);
    const dw = tf.matMul(tf.transpose(patches), dy2); // [kh·kw·ci, co]
    return dw.reshape([kh, kw, ci, co]);
  });
}
