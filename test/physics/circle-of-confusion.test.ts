import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  circleOfConfusionPx,
  circleOfConfusionPxScalar,
  cocScalePx,
} from '../../physics/circle-of-confusion.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';

test.before(async () => {
  await setupEngine();
});

const cam = new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 2 });

// Worked by hand, eq. 2, f = 0.05 m, N = 8, F = 2 m, s = 5e-6 m:
//   d = 3 m:   f^2 |d - F| = 0.0025 * 1 = 0.0025;  N d (F - f) s = 8 * 3 * 1.95 * 5e-6 = 2.34e-4
//              c = 0.0025 / 2.34e-4 = 10.6838 px
//   d = 1 m:   0.0025 * 1 / (8 * 1 * 1.95 * 5e-6 = 7.8e-5) = 32.0513 px
//   d = 2 m:   0 (in focus)
//   d = 100 m: 0.0025 * 98 / (8 * 100 * 1.95 * 5e-6 = 7.8e-3) = 31.4103 px (-> K = 32.0513 at infinity)
const worked: [number, number][] = [
  [3, 10.6838],
  [1, 32.0513],
  [2, 0],
  [100, 31.4103],
];

test('scalar CoC matches the hand-worked numbers', (t) => {
  t.true(Math.abs(cocScalePx(cam, 8) - 32.0513) < 1e-4);
  for (const [d, c] of worked) t.true(Math.abs(circleOfConfusionPxScalar(cam, d, 8) - c) < 1e-4, `d=${d}`);
  // Halving N doubles the CoC.
  t.true(Math.abs(circleOfConfusionPxScalar(cam, 3, 4) - 2 * 10.6838) < 2e-4);
});

test('tensor CoC matches the scalar form, keeps the shape, and leaks nothing', (t) => {
  const depth = tf.tensor2d(
    worked.map((w) => w[0]),
    [2, 2],
  );
  const c = circleOfConfusionPx(cam, depth, 8);
  t.deepEqual(c.shape, [2, 2]);
  const v = c.dataSync();
  worked.forEach(([, expect], i) => t.true(Math.abs(v[i] - expect) < 1e-3, `${v[i]} vs ${expect}`));
  tf.dispose([c, depth]);
});

test.serial('tensor CoC does not leak', async (t) => {
  const depth = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  t.is(await leakedTensors(() => circleOfConfusionPx(cam, depth, 8).dispose()), 0);
  depth.dispose();
});

test('gradient in depth matches d c / d d = K F / d^2 (sign of d - F)', (t) => {
  // c = K |1 - F/d|  ->  dc/dd = K F / d^2 for d > F, -K F / d^2 for d < F.
  const K = cocScalePx(cam, 8);
  const depth = tf.tensor1d([1, 1.5, 3, 5]);
  const g = tf
    .grad((d: tf.Tensor) => tf.sum(circleOfConfusionPx(cam, d, 8)))(depth)
    .dataSync();
  [1, 1.5, 3, 5].forEach((d, i) => {
    const expect = (Math.sign(d - 2) * K * 2) / (d * d);
    t.true(Math.abs(g[i] - expect) / Math.abs(expect) < 1e-5, `d=${d}: ${g[i]} vs ${expect}`);
  });
  depth.dispose();
});

test('bad f-number, depth and dtype are errors naming the argument', (t) => {
  const depth = tf.tensor1d([1, 2]);
  for (const n of [0, -1, Number.NaN, Infinity]) {
    t.is(
      t.throws(() => circleOfConfusionPx(cam, depth, n), { instanceOf: ApertureDepthError })!.key,
      'fNumber',
    );
    t.is(
      t.throws(() => circleOfConfusionPxScalar(cam, 2, n), { instanceOf: ApertureDepthError })!.key,
      'fNumber',
    );
  }
  for (const d of [0, -1, Number.NaN]) {
    t.is(
      t.throws(() => circleOfConfusionPxScalar(cam, d, 8), { instanceOf: ApertureDepthError })!.key,
      'depthM',
    );
  }
  const ints = tf.tensor1d([1, 2], 'int32');
  t.is(t.throws(() => circleOfConfusionPx(cam, ints, 8), { instanceOf: ApertureDepthError })!.key, 'depthM');
  tf.dispose([depth, ints]);
});
