import test from 'ava';
import { setupEngine } from '../../helpers/engine.ts';
import {
  absRel,
  computeDepthMetrics,
  deltaAccuracy,
  log10Error,
  rmse,
  rmseLog,
  sqRel,
  validIndices,
} from '../../../core/metrics/depth-metrics.ts';
import { ApertureDepthError } from '../../../core/errors.ts';

// pred [1, 2, 4] vs gt [1, 1, 5] by hand, plus three invalid pixels (NaN pred, gt 0, negative pred):
//   abs_rel = (0 + 1 + 0.2) / 3 = 0.4        sq_rel = (0 + 1 + 0.2) / 3 = 0.4
//   rmse = sqrt(2 / 3) = 0.816497            rmse_log = sqrt((ln2^2 + ln(0.8)^2) / 3) = 0.420415
//   log10 = (log10 2 + log10 1.25) / 3 = 0.132647
//   ratios 1, 2, 1.25 -> delta1 = 1/3 (1.25 is not < 1.25), delta2 = 2/3, delta3 = 2/3 (2 > 1.953)
const pred = [1, 2, 4, Number.NaN, 3, -1];
const gt = [1, 1, 5, 2, 0, 2];

test('metrics match hand-computed values', (t) => {
  const m = computeDepthMetrics(pred, gt);
  t.is(m.count, 3);
  t.true(Math.abs(m.abs_rel - 0.4) < 1e-12);
  t.true(Math.abs(m.sq_rel - 0.4) < 1e-12);
  t.true(Math.abs(m.rmse - Math.sqrt(2 / 3)) < 1e-12);
  t.true(Math.abs(m.rmse_log - 0.420415) < 1e-6);
  t.true(Math.abs(m.log10 - 0.132647) < 1e-6);
  t.is(m.delta1, 1 / 3);
  t.is(m.delta2, 2 / 3);
  t.is(m.delta3, 2 / 3);
});

test('free functions agree with computeDepthMetrics', (t) => {
  const m = computeDepthMetrics(pred, gt);
  t.is(absRel(pred, gt), m.abs_rel);
  t.is(sqRel(pred, gt), m.sq_rel);
  t.is(rmse(pred, gt), m.rmse);
  t.true(Math.abs(rmseLog(pred, gt) - m.rmse_log) < 1e-15);
  t.true(Math.abs(log10Error(pred, gt) - m.log10) < 1e-15);
  t.is(deltaAccuracy(pred, gt, 1), m.delta1);
  t.is(deltaAccuracy(pred, gt, 3), m.delta3);
});

test('mask removes pixels; tensors are accepted', async (t) => {
  const tf = await setupEngine();
  const mask = [1, 0, 1, 1, 1, 1]; // drop the (2 vs 1) pixel
  const m = computeDepthMetrics(tf.tensor2d(pred, [2, 3]), tf.tensor2d(gt, [2, 3]), mask);
  t.is(m.count, 2);
  t.true(Math.abs(m.abs_rel - 0.1) < 1e-7);
  t.deepEqual(validIndices(pred, gt, mask), [0, 2]);
});

test('no valid pixel gives NaN; mismatched sizes name the function', (t) => {
  const m = computeDepthMetrics([Number.NaN], [1]);
  t.is(m.count, 0);
  t.true(Number.isNaN(m.abs_rel));
  const err = t.throws(() => computeDepthMetrics([1, 2], [1]), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /computeDepthMetrics/);
});
