import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import {
  borderMask,
  charbonnierLoss,
  combineMasks,
  composeLoss,
  gradientLoss,
  l1Loss,
  l2Loss,
  resolveLoss,
  saturationMask,
  tvRegularizer,
  type LossContext,
} from '../../optimizers/losses/index.ts';
import { ApertureDepthError } from '../../core/errors.ts';

test.before(async () => {
  await setupEngine();
});

function ctx(mask?: tf.Tensor2D): LossContext {
  // rendered - observed = [[1, -2], [0, 3]] on one channel
  const rendered = tf.tensor3d([1, 0, 2, 3], [2, 2, 1]);
  const observed = tf.tensor3d([0, 2, 2, 0], [2, 2, 1]);
  const depth = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  return {
    rendered,
    observed,
    depth,
    relativeDepth: tf.div(depth, 4) as tf.Tensor2D,
    latent: tf.zeros([0]),
    iteration: 0,
    mask,
  };
}

const value = (s: tf.Scalar): number => {
  const v = s.dataSync()[0];
  s.dispose();
  return v;
};

test('L2, L1 and Charbonnier by hand', (t) => {
  const c = ctx();
  t.true(Math.abs(value(l2Loss()(c)) - 14 / 4) < 1e-6);
  t.true(Math.abs(value(l1Loss()(c)) - 6 / 4) < 1e-6);
  // Charbonnier with eps = 1: sum(sqrt(r^2 + 1) - 1) / 4
  const expect = (Math.SQRT2 - 1 + Math.sqrt(5) - 1 + 0 + Math.sqrt(10) - 1) / 4;
  t.true(Math.abs(value(charbonnierLoss({ eps: 1 })(c)) - expect) < 1e-6);
});

test('mask weights pixels and normalizes by the masked count', (t) => {
  const c = ctx(tf.tensor2d([1, 0, 0, 1], [2, 2]));
  t.true(Math.abs(value(l2Loss()(c)) - (1 + 9) / 2) < 1e-6);
  const empty = ctx(tf.zeros([2, 2]) as tf.Tensor2D);
  t.is(value(l1Loss()(empty)), 0);
});

test('gradient loss ignores a constant offset and sees edges', (t) => {
  const img = tf.tensor3d([0, 1, 0, 1, 0, 1, 0, 1, 0], [3, 3, 1]);
  const base = {
    depth: tf.ones([3, 3]) as tf.Tensor2D,
    relativeDepth: tf.ones([3, 3]) as tf.Tensor2D,
    latent: tf.zeros([0]),
    iteration: 0,
  };
  t.true(value(gradientLoss()({ ...base, rendered: img, observed: tf.add(img, 0.3) as tf.Tensor3D })) < 1e-7);
  t.true(
    value(gradientLoss()({ ...base, rendered: img, observed: tf.zeros([3, 3, 1]) as tf.Tensor3D })) > 0.5,
  );
});

test('TV regularizer: zero on a constant map, weight * mean |grad| on a ramp', (t) => {
  const flat = ctx();
  const tv = tvRegularizer({ weight: 2, eps: 1e-6 });
  // relativeDepth [[0.25, 0.5], [0.75, 1]]: dx = 0.25 (x2), dy = 0.5 (x2) -> 2 * (0.25 + 0.5)
  t.true(Math.abs(value(tv(flat)) - 1.5) < 1e-5);
  const constant = { ...flat, relativeDepth: tf.fill([2, 2], 0.3) as tf.Tensor2D };
  t.true(value(tv(constant)) < 1e-5);
});

test('composeLoss adds terms; custom losses plug in; unknown names fail', (t) => {
  const c = ctx();
  const custom = ({ depth }: LossContext) => tf.mean(depth) as tf.Scalar;
  const total = composeLoss(resolveLoss('l1'), [custom, tvRegularizer({ weight: 0 })]);
  t.true(Math.abs(value(total(c)) - (1.5 + 2.5)) < 1e-5);
  t.is(resolveLoss(custom), custom);
  t.throws(() => resolveLoss('l3' as never), { instanceOf: ApertureDepthError, message: /l2, l1/ });
});

test('masks: saturation, border, combination', (t) => {
  const a = tf.tensor3d([0.5, 0.5, 1, 0.2], [2, 2, 1]);
  const b = tf.tensor3d([0.995, 0.1, 0.1, 0.1], [2, 2, 1]);
  t.deepEqual(Array.from(saturationMask([a, b], 0.99).dataSync()), [0, 1, 0, 1]);
  const bm = borderMask(4, 5, 1);
  t.deepEqual(Array.from(bm.dataSync()), [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  t.is(combineMasks(undefined, undefined), undefined);
  t.deepEqual(Array.from(combineMasks(bm, undefined, bm)!.dataSync()), Array.from(bm.dataSync()));
  t.throws(() => borderMask(4, 4, 2), { instanceOf: ApertureDepthError });
});

test.serial('losses are differentiable and leak nothing', async (t) => {
  const c = ctx(tf.tensor2d([1, 1, 0, 1], [2, 2]));
  for (const loss of [l2Loss(), l1Loss(), charbonnierLoss(), gradientLoss(), tvRegularizer()]) {
    const leaked = await leakedTensors(() => {
      const g = tf.grad((r: tf.Tensor) =>
        loss({
          ...c,
          rendered: r as tf.Tensor3D,
          relativeDepth: tf.mul(c.relativeDepth, tf.mean(r)) as tf.Tensor2D,
        }),
      )(c.rendered);
      t.true(g.dataSync().every(Number.isFinite));
      g.dispose();
    });
    t.is(leaked, 0);
  }
});
