/**
 * The executor used for TRAINING: `tfjsOps` with conv2d, linear and matMul whose gradients are tuned for
 * trainable weights on wasm. The filter gradient is one convolution ({@link conv2dFilterGradByConv}, 2-40x
 * faster than im2col here), the kernel flip of the input gradient is a tiny matMul (wasm's Reverse/Gather are
 * slow and a trainable kernel cannot be flipped once and cached), and the custom gradients `save` their
 * inputs (tfjs disposes forward intermediates before the backward pass). Frozen weights keep `tfjsOps`' path.
 * The networks themselves are the project's, unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import { conv2dWithGrad } from '../../../diffusion/ops/grad/conv2d.ts';
import { dilate } from '../../../diffusion/ops/grad/conv2d-input-grad.ts';
import { matMul2d } from '../../../diffusion/ops/grad/matmul.ts';
import { isFrozenWeight } from '../../../diffusion/ops/grad/weight-cache.ts';
import { explicitPadding, type Conv2dOptions, type Ops } from '../../../diffusion/ops/ops.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';

type Save = (tensors: tf.Tensor[]) => void;

const antiIdentities = new Map<number, tf.Tensor2D>();

/** The n x n matrix that reverses row order (kept for the process; exact: products with 0 and 1). */
function antiIdentity(n: number): tf.Tensor2D {
  let m = antiIdentities.get(n);
  if (!m) {
    const data = new Float32Array(n * n);
    for (let i = 0; i < n; i++) data[i * n + (n - 1 - i)] = 1;
    m = tf.keep(tf.tensor2d(data, [n, n]));
    antiIdentities.set(n, m);
  }
  return m;
}

/**
 * Input gradient of an NHWC convolution for a TRAINABLE filter: the stride-1 correlation of the
 * (stride-dilated) upstream gradient with the spatially flipped, in/out-swapped kernel, as
 * `conv2dInputGrad` computes it; the flip is a product with an anti-identity over the kh*kw taps (wasm's
 * Reverse, Gather and Slice kernels are 5x slower here, and a trainable kernel cannot be flipped once and
 * cached).
 */
export function conv2dInputGradTrainable(
  dy: tf.Tensor4D, // [N, Ho, Wo, Co]
  w: tf.Tensor4D, // [kh, kw, Ci, Co]
  inputShape: readonly [number, number, number, number],
  stride: number,
  pad: readonly [number, number, number, number],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, ci, co] = w.shape;
    const [, h, wd] = inputShape;
    const [pt, , pl] = pad;
    const flipped = tf.reshape(tf.matMul(antiIdentity(kh * kw), tf.reshape(w, [kh * kw, ci * co])), [kh, kw, ci, co]);
    const wFlip = tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, Co, Ci]
    let g: tf.Tensor4D = stride === 1 ? dy : dilate(dy, stride);
    const lenH = g.shape[1];
    const lenW = g.shape[2];
    const top = kh - 1 - pt;
    const bottom = h + pt - lenH;
    const left = kw - 1 - pl;
    const right = wd + pl - lenW;
    check(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, () => `padding [${pad}] larger than the kernel`, {
      key: 'conv2dInputGradTrainable',
    });
    const padArg =
      top || bottom || left || right
        ? ([
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ] as tf.backend_util.ExplicitPadding)
        : 'valid';
    g = tf.conv2d(g, wFlip, 1, padArg);
    return g;
  });
}

/**
 * Filter gradient of an NHWC convolution as ONE convolution (what TensorFlow's Conv2DBackpropFilter does):
 * `dw[a, b, ci, co] = Σ_{n,i,j} xpad[n, i·s + a, j·s + b, ci] · dy[n, i, j, co]` is a valid correlation of
 * xpad seen as `[ci, H, W, N]` (channels as batch, batch as channels) with dy seen as a `[Ho, Wo, N, co]`
 * filter dilated by the stride. On wasm this is 2-40x faster than im2col (no giant patch matrix to concat
 * and transpose; strided im2col views are especially slow). Results agree to float rounding.
 */
export function conv2dFilterGradByConv(
  x: tf.Tensor4D, // [N, H, W, Ci]
  dy: tf.Tensor4D, // [N, Ho, Wo, Co]
  filterShape: readonly [number, number, number, number],
  stride: number,
  pad: readonly [number, number, number, number],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filterShape;
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
    const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, N]
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Co]
    const y = tf.conv2d(xt, f, 1, 'valid', 'NHWC', stride); // [Ci, >= kh, >= kw, Co]
    const cropped = y.shape[1] === kh && y.shape[2] === kw ? y : tf.slice(y, [0, 0, 0, 0], [-1, kh, kw, -1]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, Ci, Co]
  });
}

/** NHWC conv whose gradient uses the saved input and filter. */
export function conv2dSaved(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  stride: number,
  pad: readonly [number, number, number, number],
): tf.Tensor4D {
  if (isFrozenWeight(w)) return conv2dWithGrad(x, w, stride, pad);
  const [pt, pb, pl, pr] = pad;
  const padArg =
    pt || pb || pl || pr
      ? ([
          [0, 0],
          [pt, pb],
          [pl, pr],
          [0, 0],
        ] as tf.backend_util.ExplicitPadding)
      : 'valid';
  const f = tf.customGrad(((xi: tf.Tensor4D, wi: tf.Tensor4D, save: Save) => {
    save([xi, wi]);
    return {
      value: tf.conv2d(xi, wi, stride, padArg),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [
          conv2dInputGradTrainable(dy, ws, xs.shape, stride, pad),
          conv2dFilterGradByConv(xs, dy, ws.shape, stride, pad),
        ];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, w) as tf.Tensor4D;
}

/** `a @ b` (2-D) with explicit-transpose gradients from the saved inputs. */
export function matMulSaved(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (isFrozenWeight(b)) return matMul2d(a, b);
  check(a.rank === 2 && b.rank === 2 && a.shape[1] === b.shape[0], () => `matMul [${a.shape}] @ [${b.shape}]`, {
    key: 'matMulSaved',
  });
  const f = tf.customGrad(((ai: tf.Tensor2D, bi: tf.Tensor2D, save: Save) => {
    save([ai, bi]);
    return {
      value: tf.matMul(ai, bi),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy, tf.transpose(bs)), tf.matMul(tf.transpose(as), dy)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(a, b) as tf.Tensor2D;
}

export const trainOps: Ops<tf.Tensor> = Object.freeze({
  ...tfjsOps,
  name: 'tfjs-train',
  conv2d(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, options: Conv2dOptions = {}): tf.Tensor {
    check(x.rank === 4 && w.rank === 4 && x.shape[3] === w.shape[2], () => `conv2d: x [${x.shape}], w [${w.shape}]`, {
      key: 'conv2d',
    });
    const y = conv2dSaved(x as tf.Tensor4D, w as tf.Tensor4D, options.stride ?? 1, explicitPadding(options.padding));
    return b ? tf.add(y, b) : y;
  },
  linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
    const inDim = x.shape[x.rank - 1]!;
    check(w.rank === 2 && w.shape[0] === inDim, () => `linear: x [${x.shape}], w [${w.shape}]`, { key: 'linear' });
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, inDim]) as tf.Tensor2D);
    let y: tf.Tensor = matMulSaved(x2, w as tf.Tensor2D);
    if (b) y = tf.add(y, b);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1]!]);
  },
  matMul: (a: tf.Tensor, b: tf.Tensor) => matMulSaved(a as tf.Tensor2D, b as tf.Tensor2D),
});
