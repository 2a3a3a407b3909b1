import * as tf from '@tensorflow/tfjs';
import { derivedWeight } from './weight-cache.ts';

/** How the input gradient of a convolution is computed (see `conv2dInputGrad`). */
export type InputGradMethod = 'flipped-conv' | 'transpose';

/**
 * Input gradient of an NHWC convolution `y = conv(x, w, stride, pad)`:
 * - `flipped-conv`: a stride-1 forward convolution of the (stride-dilated) upstream gradient with the
 *   spatially flipped, in/out-swapped kernel `[kh, kw, out, in]` (`flipKernel`; cached for frozen
 *   weights, re-derived on each backward pass for trainable ones). It runs on wasm's XNNPACK convolution,
 *   the fastest kernel there.
 * - `transpose`: tfjs `conv2dTranspose` (Conv2DBackpropInput), kept for comparison (see the bench).
 * Derivation: `dx[i] = Σ_a dy_dil[i + pt - a] w[a]`, i.e. correlation of `dy_dil` padded by `kh-1-pt`
 * before and `H + pt - len(dy_dil)` after with the flipped kernel.
 */
export function conv2dInputGrad(
  dy: tf.Tensor4D, // [N, Ho, Wo, Co]
  w: tf.Tensor4D, // [kh, kw, Ci, Co]
  inputShape: readonly [number, number, number, number],
  stride: number,
  pad: readonly [number, number, number, number],
  method: InputGradMethod = 'flipped-conv',
): tf.Tensor4D {
  const [kh, kw] = w.shape;
  const [, h, wd] = inputShape;
  const [pt, , pl] = pad;
  if (method === 'transpose') {
    return tf.conv2dTranspose(dy, w, [...inputShape] as [number, number, number, number], stride, convPadding(pad));
  }
  return tf.tidy(() => {
    const wFlip = derivedWeight(w, 'flip', () => flipKernel(w));
    let g: tf.Tensor4D = stride === 1 ? dy : dilate(dy, stride);
    const lenH = g.shape[1];
    const lenW = g.shape[2];
    let top = kh - 1 - pt;
    let bottom = h + pt - lenH;
    let left = kw - 1 - pl;
    let right = wd + pl - lenW;
    // A pad larger than the kernel (never in these networks) shows up as a negative pad: crop instead.
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const ct = Math.max(0, -top);
      const cb = Math.max(0, -bottom);
      const cl = Math.max(0, -left);
      const cr = Math.max(0, -right);
      g = tf.slice(g, [0, ct, cl, 0], [-1, lenH - ct - cb, lenW - cl - cr, -1]);
      top = Math.max(0, top);
      bottom = Math.max(0, bottom);
      left = Math.max(0, left);
      right = Math.max(0, right);
    }
    return tf.conv2d(g, wFlip, 1, convPadding([top, bottom, left, right])) as tf.Tensor4D;
  });
}

/**
 * `[kh, kw, in, out]` -> `[kh, kw, out, in]` with both spatial axes reversed. The reversal is a product with
 * the anti-identity over the kh·kw taps (exact: products with 0 and 1): wasm's Reverse and Gather kernels
 * are several times slower, which counts for trainable kernels, flipped again on every backward pass.
 */
export function flipKernel(w: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = w.shape;
    const taps = kh * kw;
    let flipped = w;
    if (taps > 1) {
      const anti = new Float32Array(taps * taps);
      for (let i = 0; i < taps; i++) anti[i * taps + (taps - 1 - i)] = 1;
      const rows = tf.matMul(tf.tensor2d(anti, [taps, taps]), tf.reshape(w, [taps, ci * co]) as tf.Tensor2D);
      flipped = tf.reshape(rows, [kh, kw, ci, co]);
    }
    return tf.transpose(flipped, [0, 1, 3, 2]);
  });
}

/** `[top, bottom, left, right]` as a tfjs NHWC convolution padding: explicit, or `'valid'` when all zero. */
export function convPadding(pad: readonly [number, number, number, number]): tf.backend_util.ExplicitPadding | 'valid' {
  const [t, b, l, r] = pad;
  return t || b || l || r
    ? [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ]
    : 'valid';
}

/** Inserts `s - 1` zeros between rows and columns: [N, H, W, C] -> [N, (H-1)s+1, (W-1)s+1, C]. */
export function dilate(x: tf.Tensor4D, s: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const spread = tf.pad(tf.reshape(x, [n, h, 1, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, s - 1],
      [0, 0],
      [0, s - 1],
      [0, 0],
    ]);
    const full = tf.reshape(spread, [n, h * s, w * s, c]);
    return tf.slice(full, [0, 0, 0, 0], [n, (h - 1) * s + 1, (w - 1) * s + 1, c]) as tf.Tensor4D;
  });
}
