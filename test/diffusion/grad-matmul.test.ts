import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { maxAbsDiff } from '../helpers/npy-fixture.ts';
import { randomArray } from '../helpers/naive-conv.ts';
import { matMul2d } from '../../diffusion/ops/grad/matmul.ts';
import { registerWeight, releaseDerived } from '../../diffusion/ops/grad/weight-cache.ts';
import { ApertureDepthError } from '../../core/errors.ts';

test.before(async () => {
  await setupEngine();
});

/** Float64 `a @ b` for row-major [m, k] x [k, n]. */
function naiveMatMul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}
const naiveT = (a: ArrayLike<number>, r: number, c: number) => {
  const o = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[j * r + i] = a[i * c + j]!;
  return o;
};

test.serial('matMul2d: value, da = dy bᵀ and db = aᵀ dy match the float64 definition', (t) => {
  const [m, k, n] = [5, 7, 3];
  const av = randomArray(m * k, 1);
  const bv = randomArray(k * n, 2);
  const dyv = randomArray(m * n, 3);
  const a = tf.tensor2d(av, [m, k]);
  const b = tf.tensor2d(bv, [k, n]);
  const dy = tf.tensor2d(dyv, [m, n]);
  const c = matMul2d(a, b);
  t.true(maxAbsDiff(c.dataSync(), naiveMatMul(av, bv, m, k, n)) < 1e-6);
  const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => matMul2d(x as tf.Tensor2D, y as tf.Tensor2D))([a, b], dy);
  const eda = maxAbsDiff(da!.dataSync(), naiveMatMul(dyv, naiveT(bv, k, n), m, n, k));
  const edb = maxAbsDiff(db!.dataSync(), naiveMatMul(naiveT(av, m, k), dyv, k, m, n));
  t.log(`max|da - ref| ${eda.toExponential(2)}, max|db - ref| ${edb.toExponential(2)}`);
  t.true(eda < 1e-6 && edb < 1e-6);
  tf.dispose([a, b, dy, c, da!, db!]);
});

test.serial('matMul2d gradient agrees with central finite differences (attention-like chain)', (t) => {
  const [m, k, n] = [4, 3, 4];
  const av = randomArray(m * k, 9);
  const bv = randomArray(k * n, 10);
  const b = tf.tensor2d(bv, [k, n]);
  // L(a) = sum(softmax(a b) ⊙ W): the shape of an attention score row.
  const wv = tf.tensor2d(randomArray(m * n, 12), [m, n]);
  const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(matMul2d(x as tf.Tensor2D, b)), wv));
  const g = tf.tidy(() => tf.grad(f)(tf.tensor2d(av, [m, k])).dataSync());
  const eps = 1e-2;
  let worst = 0;
  for (let i = 0; i < av.length; i++) {
    const p = av.slice();
    const q = av.slice();
    p[i]! += eps;
    q[i]! -= eps;
    const fd = tf.tidy(() => (f(tf.tensor2d(p, [m, k])).dataSync()[0]! - f(tf.tensor2d(q, [m, k])).dataSync()[0]!) / (2 * eps));
    worst = Math.max(worst, Math.abs(fd - g[i]!));
  }
  t.log(`worst |analytic - finite difference| ${worst.toExponential(2)}`);
  t.true(worst < 2e-4);
  tf.dispose([b, wv]);
});

test.serial('frozen b: only da, bᵀ cached once and released with the weight', async (t) => {
  const [m, k, n] = [3, 4, 2];
  const av = randomArray(m * k, 4);
  const bv = randomArray(k * n, 5);
  const b = tf.keep(tf.tensor2d(bv, [k, n]));
  registerWeight(b, false);
  const a = tf.tensor2d(av, [m, k]);
  const dy = tf.ones([m, n]);
  const run = () => tf.tidy(() => tf.grad((x: tf.Tensor) => matMul2d(x as tf.Tensor2D, b))(a, dy));
  const first = run();
  t.true(maxAbsDiff(first.dataSync(), naiveMatMul(new Float32Array(m * n).fill(1), naiveT(bv, k, n), m, n, k)) < 1e-6);
  first.dispose();
  t.is(await leakedTensors(() => run().dispose()), 0);
  const before = tf.memory().numTensors;
  releaseDerived(b);
  t.is(tf.memory().numTensors, before - 1);
  tf.dispose([a, b, dy]);
});

test.serial('matMul2d rejects non-2-D and mismatched inputs by name', (t) => {
  const a = tf.zeros([2, 3]);
  const b = tf.zeros([4, 2]);
  const e = t.throws(() => matMul2d(a as tf.Tensor2D, b as tf.Tensor2D), { instanceOf: ApertureDepthError });
  t.regex(e!.message, /matMul2d.*\[2,3\] @ b \[4,2\]/);
  tf.dispose([a, b]);
});
