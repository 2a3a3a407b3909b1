import test from 'ava';
import { alignToGroundTruth, applyAlignment } from '../../../core/metrics/align.ts';
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
