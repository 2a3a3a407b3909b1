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

/** A least-squares fit `scale * pred + shift ~ target` over the pixels it used. */
export interface LinearFit extends Alignment {
  /**
   * False when `pred` carries no scale over those pixels (constant for `scale-shift`, all zero for `scale`, or
   * no pixel): `scale` is then 0 and `shift` the target's mean (0 for `scale`). Callers pick their convention.
   */
  determined: boolean;
  /** Means of pred and target over the pixels used (pred's is 0 for `scale`, which fits no shift). */
  meanPred: number;
  meanTarget: number;
}

/**
 * Closed-form least squares `min sum (scale * pred + shift - target)^2` (shift 0 for `scale`) over the pixels
 * `use(i)` accepts (all by default), in double precision with centred sums. No validity rule of its own:
 * {@link alignToGroundTruth} adds ground truth's, the ensemble (`diffusion/marigold/ensemble-depth.ts`) fits
 * relative depths where 0 is a value.
 */
export function leastSquaresFit(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  kind: AlignmentKind,
  use?: (i: number) => boolean,
): LinearFit {
  check(
    kind === 'scale' || kind === 'scale-shift',
    () => `unknown alignment "${kind}"; expected scale or scale-shift`,
    {
      key: 'leastSquaresFit(kind)',
    },
  );
  let n = 0;
  let sp = 0;
  let st = 0;
  for (let i = 0; i < pred.length; i++) {
    if (use && !use(i)) continue;
    n += 1;
    sp += pred[i]!;
    st += target[i]!;
  }
  const affine = kind === 'scale-shift';
  const mp = affine && n > 0 ? sp / n : 0;
  const mt = affine && n > 0 ? st / n : 0;
  let cov = 0;
  let vp = 0;
  for (let i = 0; i < pred.length; i++) {
    if (use && !use(i)) continue;
    const a = pred[i]! - mp;
    cov += a * (target[i]! - mt);
    vp += a * a;
  }
  // Affine: a spread below 1e-12 of the prediction's energy is a constant map in floating point.
  const determined = n > 0 && (affine ? n >= 2 && vp > 1e-12 * Math.max(1 / n, vp + n * mp * mp) : vp > 0);
  if (!determined) return { scale: 0, shift: mt, count: n, determined, meanPred: mp, meanTarget: mt };
  const scale = cov / vp;
  return { scale, shift: mt - scale * mp, count: n, determined, meanPred: mp, meanTarget: mt };
}

/**
 * Least-squares alignment of `pred` to `gt` over pixels where gt is finite and > 0, pred is finite and the
 * mask (if any) is non-zero: `scale` minimizes sum (s p - g)^2; `scale-shift` minimizes sum (s p + t - g)^2
 * (Marigold's affine-invariant evaluation, the "oracle" of the monocular setting). Double precision. A
 * constant prediction gets scale 0 and the mean of gt as shift.
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
  const valid = (i: number) => Number.isFinite(p[i]) && Number.isFinite(g[i]) && g[i]! > 0 && (!m || !!m[i]);
  const { scale, shift, count, determined } = leastSquaresFit(p, g, kind, valid);
  check(count > 0, () => 'no pixel is valid in both maps', { key: 'alignToGroundTruth' });
  check(determined || kind === 'scale-shift', () => 'prediction is zero on every valid pixel', {
    key: 'alignToGroundTruth',
  });
  return { scale, shift, count };
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
