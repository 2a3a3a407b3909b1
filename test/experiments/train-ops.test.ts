import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { naiveConvGrads } from '../helpers/naive-conv.ts';
import { registerWeight } from '../../diffusion/ops/grad/weight-cache.ts';
import { trainOps } from '../../experiments/training/trainer/train-ops.ts';

test.before(async () => {
  await setupEngine();
});

const relErr = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0]! / Math.max(1e-12, tf.norm(b).dataSync()[0]!));

const CASES: { name: string; x: [number, number, number, number]; k: number; co: number; stride: number; pad: [number, number, number, number] }[] = [
  { name: '3x3 same', x: [2, 7, 6, 3], k: 3, co: 4, stride: 1, pad: [1, 1, 1, 1] },
  { name: '3x3 stride 2, right/bottom pad (VAE downsampler)', x: [2, 8, 6, 3], k: 3, co: 5, stride: 2, pad: [0, 1, 0, 1] },
  { name: '3x3 stride 2, symmetric pad (UNet downsampler)', x: [1, 9, 8, 4], k: 3, co: 3, stride: 2, pad: [1, 1, 1, 1] },
  { name: '1x1', x: [3, 4, 5, 6], k: 1, co: 2, stride: 1, pad: [0, 0, 0, 0] },
];

for (const c of CASES) {
  test(`trainOps.conv2d on an intermediate input with a trainable filter: ${c.name}`, (t) => {
    const x0 = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([c.k, c.k, c.x[3], c.co], 0, 1, 'float32', 2));
    registerWeight(w, true);
    const xv = tf.variable(x0);
    const conv = (x: tf.Tensor) => trainOps.conv2d(x, w, null, { stride: c.stride, padding: c.pad });
    const y0 = conv(tf.sigmoid(x0));
    const r = tf.randomNormal(y0.shape, 0, 1, 'float32', 3);
    // The sigmoid output is an intermediate: tfjs disposes it after the forward unless the op saves it.
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(conv(tf.sigmoid(xv)), r)) as tf.Scalar, [w, xv]);
    const s = tf.sigmoid(x0) as tf.Tensor4D;
    const [n, h, wd, ci] = c.x;
    const ref = naiveConvGrads({ n, h, w: wd, ci, co: c.co, k: c.k, stride: c.stride, pad: c.pad }, s.dataSync(), w.dataSync(), r.dataSync());
    const dwRef = tf.tensor(Float32Array.from(ref.dw), w.shape);
    const dxRef = tf.mul(tf.tensor(Float32Array.from(ref.dx), c.x), tf.mul(s, tf.sub(1, s)));
    t.true(relErr(grads[w.name]!, dwRef) < 1e-5, `dw ${relErr(grads[w.name]!, dwRef)}`);
    t.true(relErr(grads[xv.name]!, dxRef) < 1e-5, `dx ${relErr(grads[xv.name]!, dxRef)}`);
  });
}

test('trainOps.matMul of two intermediates: R Bᵀ and Aᵀ R', (t) => {
  const a0 = tf.randomNormal([4, 3], 0, 1, 'float32', 6) as tf.Tensor2D;
  const b0 = tf.randomNormal([3, 5], 0, 1, 'float32', 7) as tf.Tensor2D;
  const av = tf.variable(a0);
  const bv = tf.variable(b0);
  const r = tf.randomNormal([4, 5], 0, 1, 'float32', 8);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(trainOps.matMul(tf.mul(av, 1), tf.mul(bv, 1)), r)) as tf.Scalar, [av, bv]);
  t.true(relErr(grads[av.name]!, tf.matMul(r, b0, false, true)) < 1e-6);
  t.true(relErr(grads[bv.name]!, tf.matMul(a0, r, true, false)) < 1e-6);
});

test('trainOps.linear over [B, S, D] equals x @ W + b with gradients for W and b', (t) => {
  const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 9);
  const w = tf.variable(tf.randomNormal([4, 5], 0, 1, 'float32', 10));
  const b = tf.variable(tf.randomNormal([5], 0, 1, 'float32', 11));
  registerWeight(w, true);
  const y = trainOps.linear(x, w, b);
  t.deepEqual(y.shape, [2, 3, 5]);
  t.true(relErr(y, tf.add(tf.reshape(tf.matMul(tf.reshape(x, [6, 4]), w), [2, 3, 5]), b)) < 1e-6);
  const { grads } = tf.variableGrads(() => tf.sum(trainOps.linear(tf.sigmoid(x), w, b)) as tf.Scalar, [w, b]);
  t.true(relErr(grads[b.name]!, tf.fill([5], 6)) < 1e-6);
  t.true(relErr(grads[w.name]!, tf.matMul(tf.reshape(tf.sigmoid(x), [6, 4]), tf.ones([6, 5]), true, false)) < 1e-5);
});
