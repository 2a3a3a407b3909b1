import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import { customGrad1, customGrad2 } from './custom-grad.ts';
import { derivedWeight, isFrozenWeight } from './weight-cache.ts';

/**
 * `a @ b` for 2-D tensors with a hand-written gradient: `da = dy @ bᵀ`, `db = aᵀ @ dy`, each an explicit
 * transpose followed by a plain 2-D matMul. tfjs's own MatMul gradient uses the transposeA/transposeB
 * flags, which wasm's BatchMatMul handles slowly (and which a graph executor would not mirror); a frozen
 * `b` (a registered network weight) is closed over, its transpose cached, and gets no gradient.
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  check(a.rank === 2 && b.rank === 2, () => `matMul2d expects 2-D a and b, got [${a.shape}] and [${b.shape}]`, {
    key: 'matMul2d',
  });
  check(a.shape[1] === b.shape[0], () => `inner dimensions differ: a [${a.shape}] @ b [${b.shape}]`, {
    key: 'matMul2d',
  });
  if (isFrozenWeight(b)) return matMulFrozenB(a, b);
  return matMulBoth(a, b);
}

function matMulFrozenB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = customGrad1(
    (aIn) => tf.matMul(aIn as tf.Tensor2D, b),
    (dy) => {
      const bT = derivedWeight(b, 'T', () => tf.transpose(b)); // [n, k]
      return tf.matMul(dy as tf.Tensor2D, bT);
    },
  );
  return f(a) as tf.Tensor2D;
}

function matMulBoth(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = customGrad2(
    (aIn, bIn) => tf.matMul(aIn as tf.Tensor2D, bIn as tf.Tensor2D),
    (dy, aIn, bIn) => [
      tf.matMul(dy as tf.Tensor2D, tf.transpose(bIn as tf.Tensor2D)), // da = dy bᵀ: [m, n] @ [n, k]
      tf.matMul(tf.transpose(aIn as tf.Tensor2D), dy as tf.Tensor2D), // db = aᵀ dy: [k, m] @ [m, n]
    ],
  );
  return f(a, b) as tf.Tensor2D;
}
