import { check } from '../errors.ts';
import { pairedValues, type DepthValues } from './values.ts';

/** Kinds of least-squares alignment of a prediction to ground truth. */
export type AlignmentKind = 'scale' | 'scale-shift';

/** `aligned = scale * pred + shift`. */
export interface Alignment {
  scale: number;
  shift: number;
  /** Pixels the fit used. */
  count: number;
}

/**
 * Least-squares alignment of `pred` to `gt` over pixels where gt is finite and > 0, pred is finite and the
 * mask (if any) is non-zero: `scale` minimizes sum (s p - g)^2; `scale-shift` minimizes sum (s p + t - g)^2
 * (Marigold's affine-invariant evaluation, the "oracle" of the monocular setting). Double precision.
 *
 * @example
 * alignToGroundTruth([0, 0.5, 1], [1, 2, 3], 'scale-shift'); // { scale: 2, shift: 1, count: 3 }
 */
export function alignToGroundTruth(
  pred: DepthValues,
  gt: DepthValues,
  kind: AlignmentKind = 'scale-shift',
  mask?: DepthValues,
): Alignment {
  const { p, g, m } = pairedValues(pred, gt, mask, 'alignToGroundTruth');
  let n = 0;
  let sp = 0;
  let sg = 0;
  let spp = 0;
  let spg = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i];
    const gi = g[i];
    if (!Number.isFinite(pi) || !Number.isFinite(gi) || gi <= 0 || (m && !m[i])) continue;
    n += 1;
    sp += pi;
    sg += gi;
    spp += pi * pi;
    spg += pi * gi;
  }
  check(n > 0, () => 'no pixel is valid in both maps', { key: 'alignToGroundTruth' });
  if (kind === 'scale') {
    check(spp > 0, () => 'prediction is zero on every valid pixel', { key: 'alignToGroundTruth' });
    return { scale: spg / spp, shift: 0, count: n };
  }
  check(kind === 'scale-shift', () => `unknown alignment "${kind}"; expected scale or scale-shift`, {
    key: 'alignToGroundTruth(kind)',
  });
  const det = n * spp - sp * sp;
  if (n < 2 || Math.abs(det) <= 1e-12 * Math.max(1, n * spp)) {
    // A constant prediction: only a shift is determined.
    return { scale: 0, shift: sg / n, count: n };
  }
  const scale = (n * spg - sp * sg) / det;
  const shift = (sg - scale * sp) / n;
  return { scale, shift, count: n };
}

/** `scale * pred + shift`, as a new Float32Array. */
export function applyAlignment(
  pred: DepthValues,
  alignment: Pick<Alignment, 'scale' | 'shift'>,
): Float32Array {
  const { p } = pairedValues(pred, pred, undefined, 'applyAlignment');
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = alignment.scale * p[i] + alignment.shift;
  return out;
}
