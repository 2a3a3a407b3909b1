/**
 * Scores a relative depth map the way Marigold's evaluation does: least-squares scale and shift against the
 * ground truth, then abs_rel and d1 over valid pixels. Both the aligned prediction and the plane baseline
 * are clipped to the image's ground-truth range first, so neither can hide a negative depth from the
 * metrics (which skip non-positive predictions).
 */
import { alignToGroundTruth, applyAlignment } from '../../../core/metrics/align.ts';
import { computeDepthMetrics } from '../../../core/metrics/depth-metrics.ts';
import { fitDepthPlane, renderPlane } from './plane-baseline.ts';

export interface ScoredMap {
  abs_rel: number;
  delta1: number;
  count: number;
}

export interface PriorVsPlane {
  prior: ScoredMap;
  plane: ScoredMap;
}

function gtRange(gt: ArrayLike<number>, mask?: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < gt.length; i++) {
    const g = gt[i]!;
    if (!(Number.isFinite(g) && g > 0) || (mask && !mask[i])) continue;
    lo = Math.min(lo, g);
    hi = Math.max(hi, g);
  }
  return [lo, hi];
}

function clipTo(values: Float32Array, lo: number, hi: number): Float32Array {
  for (let i = 0; i < values.length; i++) values[i] = Math.min(hi, Math.max(lo, values[i]!));
  return values;
}

function score(pred: Float32Array, gt: ArrayLike<number>, mask?: ArrayLike<number>): ScoredMap {
  const m = computeDepthMetrics(pred, gt, mask);
  return { abs_rel: m.abs_rel, delta1: m.delta1, count: m.count };
}

/** The prior's relative depth (any affine-invariant map) and the oracle plane, both scored against `gt`. */
export function scorePriorAndPlane(
  relative: Float32Array,
  gt: ArrayLike<number>,
  width: number,
  height: number,
  mask?: ArrayLike<number>,
): PriorVsPlane {
  const [lo, hi] = gtRange(gt, mask);
  const plane = clipTo(renderPlane(fitDepthPlane(gt, width, height, mask), width, height), lo, hi);
  return { prior: scoreAligned(relative, gt, mask), plane: score(plane, gt, mask) };
}

/** A relative depth map alone, least-squares aligned to `gt` and clipped to its range, then scored. */
export function scoreAligned(relative: Float32Array, gt: ArrayLike<number>, mask?: ArrayLike<number>): ScoredMap {
  const [lo, hi] = gtRange(gt, mask);
  return score(clipTo(applyAlignment(relative, alignToGroundTruth(relative, gt, 'scale-shift', mask)), lo, hi), gt, mask);
}
