import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { conv2dFilterGrad } from '../../diffusion/ops/grad/conv2d-filter-grad.ts';
import { conv2dInputGrad } from '../../diffusion/ops/grad/conv2d-input-grad.ts';
import { registerWeight } from '../../diffusion/ops/grad/weight-cache.ts';
import { conv2dFilterGradByConv, conv2dSaved, matMulSaved, trainOps } from '../../experiments/training/trainer/train-ops.ts';

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
  test(`conv2d on an intermediate input with a trainable filter: ${c.name}`, (t) => {
    const x0 = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([c.k, c.k, c.x[3], c.co], 0, 1, 'float32', 2));
    registerWeight(w, true);
    const xv = tf.variable(x0);
    const y0 = conv2dSaved(tf.sigmoid(x0) as tf.Tensor4D, w as unknown as tf.Tensor4D, c.stride, c.pad);
    const r = tf.randomNormal(y0.shape, 0, 1, 'float32', 3);
    // The sigmoid output is an intermediate: tfjs disposes it after the forward unless the op saves it.
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(conv2dSaved(tf.sigmoid(xv) as tf.Tensor4D, w as unknown as tf.Tensor4D, c.stride, c.pad), r)) as tf.Scalar, [w, xv]);
    const s = tf.sigmoid(x0) as tf.Tensor4D;
    const dwRef = conv2dFilterGrad(s, r as tf.Tensor4D, w.shape as [number, number, number, number], c.stride, c.pad);
    const dxRef = tf.mul(conv2dInputGrad(r as tf.Tensor4D, w as unknown as tf.Tensor4D, c.x, c.stride, c.pad), tf.mul(s, tf.sub(1, s)));
    t.true(relErr(grads[w.name]!, dwRef) < 1e-5, `dw ${relErr(grads[w.name]!, dwRef)}`);
    t.true(relErr(grads[xv.name]!, dxRef) < 1e-5, `dx ${relErr(grads[xv.name]!, dxRef)}`);
    t.true(relErr(conv2dFilterGradByConv(s, r as tf.Tensor4D, w.shape as [number, number, number, number], c.stride, c.pad), dwRef) < 1e-5);
  });
}

test('conv2d filter gradient matches finite differences', (t) => {
  const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
  const wData = Float32Array.from(tf.randomNormal([3, 3, 2, 2], 0, 1, 'float32', 5).dataSync());
  const w = tf.variable(tf.tensor4d(wData, [3, 3, 2, 2]));
  registerWeight(w, true);
  const f = (wt: tf.Tensor4D) => tf.sum(tf.square(conv2dSaved(x, wt, 2, [0, 1, 0, 1])));
  const { grads } = tf.variableGrads(() => f(w as unknown as tf.Tensor4D) as tf.Scalar, [w]);
  const g = grads[w.name]!.dataSync();
  const h = 1e-2;
  for (const i of [0, 7, 19, 35]) {
    const plus = wData.slice();
    const minus = wData.slice();
    plus[i]! += h;
    minus[i]! -= h;
    const fd = (f(tf.tensor4d(plus, [3, 3, 2, 2])).dataSync()[0]! - f(tf.tensor4d(minus, [3, 3, 2, 2])).dataSync()[0]!) / (2 * h);
    t.true(Math.abs(fd - g[i]!) < 2e-2 * Math.max(1, Math.abs(fd)), `${i}: fd ${fd} vs ${g[i]}`);
  }
});

test('matMul of two intermediates: R Bᵀ and Aᵀ R', (t) => {
  const a0 = tf.randomNormal([4, 3], 0, 1, 'float32', 6) as tf.Tensor2D;
  const b0 = tf.randomNormal([3, 5], 0, 1, 'float32', 7) as tf.Tensor2D;
  const av = tf.variable(a0);
  const bv = tf.variable(b0);
  const r = tf.randomNormal([4, 5], 0, 1, 'float32', 8);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(matMulSaved(tf.mul(av, 1) as tf.Tensor2D, tf.mul(bv, 1) as tf.Tensor2D), r)) as tf.Scalar, [av, bv]);
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
