import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { maxAbsDiff } from '../helpers/npy-fixture.ts';
import { naiveConv, naiveConvGrads, outSize, randomArray, type ConvCase } from '../helpers/naive-conv.ts';
import { conv2dWithGrad, setConvInputGradMethod } from '../../diffusion/ops/grad/conv2d.ts';
import { dilate, flipKernel } from '../../diffusion/ops/grad/conv2d-input-grad.ts';
import { registerWeight, releaseDerived } from '../../diffusion/ops/grad/weight-cache.ts';

test.before(async () => {
  await setupEngine();
});

const CASES: Array<[string, ConvCase]> = [
  ['3x3 stride 1 pad 1', { n: 2, h: 5, w: 4, ci: 3, co: 4, k: 3, stride: 1, pad: [1, 1, 1, 1] }],
  ['3x3 stride 2 pad 1, odd size (UNet downsample)', { n: 1, h: 5, w: 7, ci: 3, co: 2, k: 3, stride: 2, pad: [1, 1, 1, 1] }],
  ['3x3 stride 2 pad 1, even size', { n: 1, h: 6, w: 4, ci: 2, co: 3, k: 3, stride: 2, pad: [1, 1, 1, 1] }],
  ['3x3 stride 2 pad right/bottom (VAE downsample)', { n: 1, h: 6, w: 5, ci: 2, co: 3, k: 3, stride: 2, pad: [0, 1, 0, 1] }],
  ['1x1 shortcut', { n: 1, h: 3, w: 4, ci: 5, co: 2, k: 1, stride: 1, pad: [0, 0, 0, 0] }],
  ['3x3 valid', { n: 1, h: 5, w: 5, ci: 2, co: 2, k: 3, stride: 1, pad: [0, 0, 0, 0] }],
];

function tensors(c: ConvCase, seed: number) {
  const [ho, wo] = outSize(c);
  const xv = randomArray(c.n * c.h * c.w * c.ci, seed);
  const wv = randomArray(c.k * c.k * c.ci * c.co, seed + 1);
  const dyv = randomArray(c.n * ho * wo * c.co, seed + 2);
  return { xv, wv, dyv, ho, wo };
}

for (const method of ['flipped-conv', 'transpose'] as const) {
  for (const [name, c] of CASES) {
    test.serial(`conv2d ${name}: forward, dx and dw match the float64 definition (${method})`, (t) => {
      setConvInputGradMethod(method);
      const { xv, wv, dyv, ho, wo } = tensors(c, 7);
      const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
      const w = tf.tensor4d(wv, [c.k, c.k, c.ci, c.co]);
      const dy = tf.tensor4d(dyv, [c.n, ho, wo, c.co]);
      const y = conv2dWithGrad(x, w, c.stride, c.pad);
      t.true(maxAbsDiff(y.dataSync(), naiveConv(c, xv, wv)) < 1e-5);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        conv2dWithGrad(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad),
      )([x, w], dy);
      const ref = naiveConvGrads(c, xv, wv, dyv);
      const ex = maxAbsDiff(dx!.dataSync(), ref.dx);
      const ew = maxAbsDiff(dw!.dataSync(), ref.dw);
      t.log(`${method}: max|dx - ref| ${ex.toExponential(2)}, max|dw - ref| ${ew.toExponential(2)}`);
      t.true(ex < 1e-5 && ew < 1e-5);
      tf.dispose([x, w, dy, y, dx!, dw!]);
      setConvInputGradMethod('flipped-conv');
    });
  }
}

// L(x, w) = sum(conv(x, w) * dy) + sum(conv(x, w)^2) / 2: non-linear, so the check exercises the chain rule.
const FD_CASES: Array<[string, ConvCase]> = [
  ['stride 2 pad 1 (UNet downsample)', { n: 1, h: 5, w: 4, ci: 2, co: 3, k: 3, stride: 2, pad: [1, 1, 1, 1] }],
  ['stride 2 pad right/bottom (VAE downsample)', { n: 2, h: 5, w: 6, ci: 2, co: 2, k: 3, stride: 2, pad: [0, 1, 0, 1] }],
];
for (const [name, c] of FD_CASES) {
  for (const wrt of ['x', 'w'] as const) {
    test.serial(`conv2d ${name}: d${wrt} agrees with central finite differences of the forward pass`, (t) => {
      const { xv, wv, dyv, ho, wo } = tensors(c, 11);
      const dy = tf.tensor4d(dyv, [c.n, ho, wo, c.co]);
      const xShape: [number, number, number, number] = [c.n, c.h, c.w, c.ci];
      const wShape: [number, number, number, number] = [c.k, c.k, c.ci, c.co];
      const lossOf = (x: tf.Tensor, w: tf.Tensor) => {
        const y = conv2dWithGrad(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad);
        return tf.add(tf.sum(tf.mul(y, dy)), tf.mul(tf.sum(tf.square(y)), 0.5)) as tf.Scalar;
      };
      const at = (v: Float32Array) =>
        tf.tidy(() =>
          (wrt === 'x' ? lossOf(tf.tensor4d(v, xShape), tf.tensor4d(wv, wShape)) : lossOf(tf.tensor4d(xv, xShape), tf.tensor4d(v, wShape))).dataSync()[0]!,
        );
      const g = tf.tidy(() => {
        const [dx, dw] = tf.grads(lossOf)([tf.tensor4d(xv, xShape), tf.tensor4d(wv, wShape)]);
        return (wrt === 'x' ? dx! : dw!).dataSync();
      });
      const v0 = wrt === 'x' ? xv : wv;
      const eps = 1e-2;
      let worst = 0;
      for (let i = 0; i < v0.length; i += 3) {
        const plus = v0.slice();
        const minus = v0.slice();
        plus[i]! += eps;
        minus[i]! -= eps;
        const fd = (at(plus) - at(minus)) / (2 * eps);
        worst = Math.max(worst, Math.abs(fd - g[i]!) / Math.max(1, Math.abs(fd)));
      }
      t.log(`worst relative |analytic - finite difference| ${worst.toExponential(2)}`);
      t.true(worst < 2e-3);
      dy.dispose();
    });
  }
}

test.serial('a frozen (registered) weight gets no gradient input and its flipped kernel is cached', async (t) => {
  const c: ConvCase = { n: 1, h: 4, w: 4, ci: 2, co: 3, k: 3, stride: 1, pad: [1, 1, 1, 1] };
  const { xv, wv, dyv, ho, wo } = tensors(c, 3);
  const w = tf.keep(tf.tensor4d(wv, [c.k, c.k, c.ci, c.co]));
  registerWeight(w, false);
  const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
  const dy = tf.tensor4d(dyv, [c.n, ho, wo, c.co]);
  const run = () => tf.tidy(() => tf.grad((a: tf.Tensor) => conv2dWithGrad(a as tf.Tensor4D, w, 1, c.pad))(x, dy));
  const first = run();
  t.true(maxAbsDiff(first.dataSync(), naiveConvGrads(c, xv, wv, dyv).dx) < 1e-5);
  first.dispose();
  // The first backward cached one flipped kernel; later ones allocate nothing that outlives them.
  t.is(await leakedTensors(() => run().dispose()), 0);
  const before = tf.memory().numTensors;
  releaseDerived(w);
  t.is(tf.memory().numTensors, before - 1);
  tf.dispose([w, x, dy]);
});

test.serial('trainable weight: tf.variableGrads gives dw (one convolution)', (t) => {
  const c: ConvCase = { n: 1, h: 5, w: 5, ci: 2, co: 2, k: 3, stride: 2, pad: [0, 1, 0, 1] };
  const { xv, wv, dyv, ho, wo } = tensors(c, 5);
  const w = tf.variable(tf.tensor4d(wv, [c.k, c.k, c.ci, c.co]), true);
  registerWeight(w, true);
  const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
  const dy = tf.tensor4d(dyv, [c.n, ho, wo, c.co]);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(conv2dWithGrad(x, w as tf.Tensor4D, 2, c.pad), dy)) as tf.Scalar, [w]);
  t.true(maxAbsDiff(grads[w.name]!.dataSync(), naiveConvGrads(c, xv, wv, dyv).dw) < 1e-5);
  tf.dispose([value, grads[w.name]!, x, dy]);
  w.dispose();
});

test.serial('dilate inserts stride-1 zeros', (t) => {
  const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
  const d = dilate(x, 2);
  t.deepEqual(d.shape, [1, 3, 3, 1]);
  t.deepEqual(Array.from(d.dataSync()), [1, 0, 2, 0, 0, 0, 3, 0, 4]);
  tf.dispose([x, d]);
});

test.serial('flipKernel reverses both spatial axes and swaps in/out (non-square kernel)', (t) => {
  const w = tf.tensor4d(randomArray(2 * 3 * 2 * 4, 13), [2, 3, 2, 4]);
  const f = flipKernel(w);
  const ref = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]);
  t.deepEqual(f.shape, [2, 3, 4, 2]);
  t.deepEqual(Array.from(f.dataSync()), Array.from(ref.dataSync()));
  tf.dispose([w, f, ref]);
});
