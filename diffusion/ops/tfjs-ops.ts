import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { Param } from '../checkpoint/param.ts';
import { conv2dWithGrad } from './grad/conv2d.ts';
import { matMul2d } from './grad/matmul.ts';
import { registerWeight, releaseDerived } from './grad/weight-cache.ts';
import { explicitPadding, type Conv2dOptions, type Ops } from './ops.ts';

const TFJS_BINDING = Symbol('tfjs');

/**
 * `Ops` on TensorFlow.js tensors, eager and differentiable on any tfjs backend. Intermediates follow tfjs
 * rules: wrap a forward in `tf.tidy` (or dispose the result yourself). Convolutions and matMuls use the
 * custom gradients of `grad/` (wasm lacks a filter gradient and is slow on transposed matMuls).
 * Weights are bound once (`param`): a `tf.Variable` when the Param is trainable, else a kept constant
 * tensor that the gradient ops close over; both are disposed with the Param.
 */
export const tfjsOps: Ops<tf.Tensor> = Object.freeze({
  name: 'tfjs',

  param(p: Param): tf.Tensor {
    return p.bind<tf.Tensor>(TFJS_BINDING, () => {
      const data = p.hostData();
      let value: tf.Tensor;
      if (p.trainable) {
        const init = tf.tensor(data, [...p.shape], 'float32');
        value = tf.variable(init, true); // shares init's data
        init.dispose();
      } else {
        value = tf.keep(tf.tensor(data, [...p.shape], 'float32'));
      }
      registerWeight(value, p.trainable);
      return {
        value,
        dispose: () => {
          releaseDerived(value);
          value.dispose();
        },
      };
    });
  },

  constant: (data: Float32Array, shape: readonly number[]) => tf.tensor(data, [...shape], 'float32'),
  shape: (x: tf.Tensor) => [...x.shape],

  conv2d(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, options: Conv2dOptions = {}): tf.Tensor {
    check(x.rank === 4 && w.rank === 4, () => `conv2d expects NHWC x and [kh, kw, in, out] w, got [${x.shape}] and [${w.shape}]`, {
      key: 'conv2d',
    });
    check(x.shape[3] === w.shape[2], () => `conv2d: x has ${x.shape[3]} channels, filter expects ${w.shape[2]}`, {
      key: 'conv2d',
    });
    const y = conv2dWithGrad(x as tf.Tensor4D, w as tf.Tensor4D, options.stride ?? 1, explicitPadding(options.padding));
    return b ? tf.add(y, b) : y;
  },

  linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
    const inDim = x.shape[x.rank - 1]!;
    check(w.rank === 2 && w.shape[0] === inDim, () => `linear: x [${x.shape}] does not match weight [${w.shape}] ([in, out])`, {
      key: 'linear',
    });
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
    let y: tf.Tensor = matMul2d(x2, w as tf.Tensor2D);
    if (b) y = tf.add(y, b);
    return x.rank === 2 ? y : tf.reshape(y, [...lead, w.shape[1]!]);
  },

  matMul: (a: tf.Tensor, b: tf.Tensor) => matMul2d(a as tf.Tensor2D, b as tf.Tensor2D),

  groupNorm(x: tf.Tensor, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
    const c = x.shape[x.rank - 1]!;
    check(c % groups === 0, () => `groupNorm: ${c} channels not divisible into ${groups} groups`, { key: 'groupNorm' });
    const b = x.shape[0]!;
    const g = tf.reshape(x, [b, -1, groups, c / groups]); // [B, HW, G, C/G]
    const { mean, variance } = tf.moments(g, [1, 3], true);
    const normed = tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(tf.reshape(normed, x.shape), gamma), beta);
  },

  layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
    const { mean, variance } = tf.moments(x, [x.rank - 1], true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normed, gamma), beta);
  },

  softmax: (x: tf.Tensor) => tf.softmax(x),
  silu: (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x)),
  gelu: (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
  quickGelu: (x: tf.Tensor) => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))),

  upsampleNearest(x: tf.Tensor, size: readonly [number, number]): tf.Tensor {
    const [, h, w] = x.shape;
    if (h === size[0] && w === size[1]) return x;
    return tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [size[0], size[1]], false, false);
  },

  concat: (xs: readonly tf.Tensor[], axis: number) => tf.concat([...xs], axis),
  reshape: (x: tf.Tensor, shape: readonly number[]) => tf.reshape(x, [...shape]),
  transpose: (x: tf.Tensor, perm: readonly number[]) => tf.transpose(x, [...perm]),
  slice: (x: tf.Tensor, begin: readonly number[], size: readonly number[]) => tf.slice(x, [...begin], [...size]),
  split: (x: tf.Tensor, parts: number | readonly number[], axis: number) =>
    tf.split(x, typeof parts === 'number' ? parts : [...parts], axis),

  add: (a: tf.Tensor, b: tf.Tensor) => tf.add(a, b),
  sub: (a: tf.Tensor, b: tf.Tensor) => tf.sub(a, b),
  mul: (a: tf.Tensor, b: tf.Tensor) => tf.mul(a, b),
  scale: (x: tf.Tensor, s: number) => tf.mul(x, s),
  clamp: (x: tf.Tensor, lo: number, hi: number) => tf.clipByValue(x, lo, hi),
  mean: (x: tf.Tensor, axes: readonly number[], keepDims = false) => tf.mean(x, [...axes], keepDims),

  gatherRows(table: tf.Tensor, ids: readonly number[]): tf.Tensor {
    const rows = table.shape[0]!;
    for (const id of ids) {
      check(Number.isInteger(id) && id >= 0 && id < rows, () => `id ${id} outside the table's ${rows} rows`, {
        key: 'gatherRows',
      });
    }
    return tf.gather(table, tf.tensor1d([...ids], 'int32'), 0);
  },
});
