import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  equalizeExposure,
  exposureFactor,
  fitGlobalGain,
  linearToSrgb,
  linearToSrgbScalar,
  srgbToLinear,
  srgbToLinearScalar,
} from '../../physics/radiometry.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';

test.before(async () => {
  await setupEngine();
});

test('sRGB transfer matches IEC 61966-2-1 reference values', (t) => {
  // Reference points: 0 -> 0; 0.04045 -> 0.0031308 (the break); 0.5 -> 0.21404; 1 -> 1; 0.2 -> 0.033105.
  const ref: [number, number][] = [
    [0, 0],
    [0.04045, 0.04045 / 12.92],
    [0.2, 0.0331048],
    [0.5, 0.2140411],
    [1, 1],
  ];
  for (const [s, l] of ref) t.true(Math.abs(srgbToLinearScalar(s) - l) < 1e-6, `${s}`);
  const x = tf.tensor1d(ref.map((r) => r[0]));
  const y = srgbToLinear(x).dataSync();
  ref.forEach(([, l], i) => t.true(Math.abs(y[i] - l) < 1e-6));
  // The two branches meet: continuous at the break.
  t.true(Math.abs(linearToSrgbScalar(0.0031308) - 0.04045) < 1e-6);
  t.true(Math.abs(linearToSrgbScalar(0.0031309) - 0.04045) < 1e-5);
  x.dispose();
});

test('sRGB round trips (tensor and scalar) over [0, 1]', (t) => {
  const n = 1001;
  const x = tf.linspace(0, 1, n);
  const back = tf.tidy(() => linearToSrgb(srgbToLinear(x)).dataSync());
  const xs = x.dataSync();
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(back[i] - xs[i]));
  t.true(worst < 2e-6, `${worst}`);
  for (let v = 0; v <= 1; v += 0.0137)
    t.true(Math.abs(linearToSrgbScalar(srgbToLinearScalar(v)) - v) < 1e-12);
  x.dispose();
});

test('sRGB conversions have finite gradients at and around the break', (t) => {
  const x = tf.tensor1d([0, 0.001, 0.0031308, 0.04045, 0.5, 1]);
  for (const f of [srgbToLinear, linearToSrgb]) {
    const g = tf
      .grad((v: tf.Tensor) => tf.sum(f(v)))(x)
      .dataSync();
    t.true(g.every(Number.isFinite), `${f.name}: ${g}`);
  }
  x.dispose();
});

test('exposure factor is (t_aif / t_b) (N_b^2 / N_aif^2)', (t) => {
  const e = { exposureTimeAifS: 1 / 4, exposureTimeBlurredS: 1 / 30, fNumberAif: 22, fNumberBlurred: 8 };
  // (0.25 * 30) * (64 / 484) = 7.5 * 0.132231 = 0.991736
  t.true(Math.abs(exposureFactor(e) - 0.9917355) < 1e-6);
  // Same light per pixel: t / N^2 equal -> factor 1.
  t.is(
    exposureFactor({ exposureTimeAifS: 4, exposureTimeBlurredS: 1, fNumberAif: 16, fNumberBlurred: 8 }),
    1,
  );
  const b = tf.ones([2, 2, 3]);
  const eq = equalizeExposure(b, e).dataSync();
  t.true(eq.every((v) => Math.abs(v - 0.9917355) < 1e-6));
  b.dispose();
  for (const key of ['exposureTimeAifS', 'exposureTimeBlurredS', 'fNumberAif', 'fNumberBlurred'] as const) {
    for (const bad of [0, -1, Number.NaN, Infinity]) {
      const err = t.throws(() => exposureFactor({ ...e, [key]: bad }), { instanceOf: ApertureDepthError });
      t.is(err!.key, key);
    }
  }
});

test('fitGlobalGain recovers a known gain, honours the mask, and rejects bad shapes', (t) => {
  const r = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
  const o = tf.mul(r, 1.7);
  t.true(Math.abs(fitGlobalGain(r, o) - 1.7) < 1e-6);
  // Corrupt one pixel; masking it out restores the gain.
  const oData = o.dataSync().slice();
  oData[0] = 100;
  oData[1] = 100;
  const o2 = tf.tensor3d(oData, [2, 2, 2]);
  t.true(Math.abs(fitGlobalGain(r, o2) - 1.7) > 0.1);
  const mask = tf.tensor2d([0, 1, 1, 1], [2, 2]);
  t.true(Math.abs(fitGlobalGain(r, o2, mask) - 1.7) < 1e-6);
  const mask3 = tf.tile(tf.expandDims(mask, -1), [1, 1, 2]);
  t.true(Math.abs(fitGlobalGain(r, o2, mask3) - 1.7) < 1e-6);
  const other = tf.ones([2, 3, 2]);
  t.is(t.throws(() => fitGlobalGain(r, other), { instanceOf: ApertureDepthError })!.key, 'observed');
  t.is(t.throws(() => fitGlobalGain(r, o, tf.ones([3])), { instanceOf: ApertureDepthError })!.key, 'mask');
  t.is(
    t.throws(() => fitGlobalGain(tf.zeros([2, 2]), tf.ones([2, 2])), { instanceOf: ApertureDepthError })!.key,
    'rendered',
  );
  tf.dispose([r, o, o2, mask, mask3, other]);
});

test.serial('radiometry leaks no tensors', async (t) => {
  const x = tf.tensor1d([0.1, 0.6]);
  t.is(await leakedTensors(() => srgbToLinear(x).dispose()), 0);
  t.is(await leakedTensors(() => linearToSrgb(x).dispose()), 0);
  t.is(await leakedTensors(() => fitGlobalGain(x, x)), 0);
  x.dispose();
});
