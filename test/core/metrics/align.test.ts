import test from 'ava';
import { alignToGroundTruth, applyAlignment, leastSquaresFit } from '../../../core/metrics/align.ts';
import { ApertureDepthError } from '../../../core/errors.ts';

test('scale-shift alignment recovers an exact affine map', (t) => {
  const a = alignToGroundTruth([0, 0.5, 1], [1, 2, 3], 'scale-shift');
  t.is(a.count, 3);
  t.true(Math.abs(a.scale - 2) < 1e-12);
  t.true(Math.abs(a.shift - 1) < 1e-12);
  t.deepEqual(Array.from(applyAlignment([0, 0.5, 1], a)), [1, 2, 3]);
});

test('least squares by hand: p = [1, 2, 3], g = [2, 2, 5]', (t) => {
  // scale only: sum pg / sum pp = (2 + 4 + 15) / 14 = 1.5
  t.true(Math.abs(alignToGroundTruth([1, 2, 3], [2, 2, 5], 'scale').scale - 1.5) < 1e-12);
  // scale-shift: n=3, sp=6, sg=9, spp=14, spg=21 -> s = (63 - 54) / (42 - 36) = 1.5, t = (9 - 9) / 3 = 0
  const a = alignToGroundTruth([1, 2, 3], [2, 2, 5]);
  t.true(Math.abs(a.scale - 1.5) < 1e-12);
  t.true(Math.abs(a.shift) < 1e-12);
});

test('invalid ground truth and masked pixels are skipped', (t) => {
  const a = alignToGroundTruth([0, 0.5, 1, 7, 9], [1, 2, 3, 0, Number.NaN], 'scale-shift');
  t.is(a.count, 3);
  t.true(Math.abs(a.scale - 2) < 1e-12);
  const b = alignToGroundTruth([0, 0.5, 1, 7], [1, 2, 3, 100], 'scale-shift', [1, 1, 1, 0]);
  t.is(b.count, 3);
  t.true(Math.abs(b.shift - 1) < 1e-12);
});

test('constant prediction gives shift only; nothing valid is an error', (t) => {
  const a = alignToGroundTruth([0.5, 0.5], [1, 3]);
  t.is(a.scale, 0);
  t.is(a.shift, 2);
  t.throws(() => alignToGroundTruth([1], [0]), { instanceOf: ApertureDepthError, message: /no pixel/ });
});

test('leastSquaresFit: no validity rule of its own (zeros fit), a pixel filter, the degenerate flag', (t) => {
  // target = 2p + 1 with a zero in it: every pixel counts (ground truth would drop the 0).
  const f = leastSquaresFit([0, 1, 2, -0.5], [1, 3, 5, 0], 'scale-shift');
  t.is(f.count, 4);
  t.true(f.determined);
  t.true(Math.abs(f.scale - 2) < 1e-12 && Math.abs(f.shift - 1) < 1e-12);
  t.true(Math.abs(f.meanPred - 0.625) < 1e-12 && Math.abs(f.meanTarget - 2.25) < 1e-12);
  // The by-hand case of alignToGroundTruth, through a filter that drops the last pixel.
  const g = leastSquaresFit([1, 2, 3, 50], [2, 2, 5, -1], 'scale-shift', (i) => i < 3);
  t.is(g.count, 3);
  t.true(Math.abs(g.scale - 1.5) < 1e-12 && Math.abs(g.shift) < 1e-12);
  // Scale only: sum pg / sum pp, no shift, means not taken.
  const s = leastSquaresFit([1, 2, 3], [2, 2, 5], 'scale');
  t.true(Math.abs(s.scale - 1.5) < 1e-12 && s.shift === 0 && s.meanPred === 0);
  // Constant (affine) or zero (scale) prediction: not determined, scale 0, shift the target's mean.
  const c = leastSquaresFit([0.5, 0.5, 0.5], [1, 2, 6], 'scale-shift');
  t.false(c.determined);
  t.deepEqual([c.scale, c.shift, c.meanPred], [0, 3, 0.5]);
  t.false(leastSquaresFit([0, 0], [1, 2], 'scale').determined);
  t.true(leastSquaresFit([0.5, 0.5], [1, 2], 'scale').determined); // a constant has a scale when no shift is fitted
  t.false(leastSquaresFit([1, 2], [1, 2], 'scale-shift', () => false).determined);
  t.throws(() => leastSquaresFit([1], [1], 'affine' as never), {
    instanceOf: ApertureDepthError,
    message: /leastSquaresFit\(kind\): unknown alignment "affine"; expected scale or scale-shift/,
  });
  // Alignment to ground truth is this fit over its valid pixels; a zero prediction under scale is an error.
  t.throws(() => alignToGroundTruth([0, 0], [1, 2], 'scale'), { message: /prediction is zero/ });
});
