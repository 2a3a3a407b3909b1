import { pairedValues, type DepthValues } from './values.ts';

/**
 * The usual monocular-depth metrics (as in Marigold's evaluation and the reference paper), over the pixels
 * valid in both maps: finite, > 0, and non-zero in `mask` when one is given. Depths in metres (any unit
 * works for the ratios; rmse is in the input unit). NaN when no pixel is valid.
 */
export interface DepthMetrics {
  /** mean |p - g| / g */
  abs_rel: number;
  /** mean (p - g)^2 / g */
  sq_rel: number;
  /** sqrt(mean (p - g)^2) */
  rmse: number;
  /** sqrt(mean (ln p - ln g)^2) */
  rmse_log: number;
  /** mean |log10 p - log10 g| */
  log10: number;
  /** fraction with max(p/g, g/p) < 1.25 */
  delta1: number;
  /** ... < 1.25^2 */
  delta2: number;
  /** ... < 1.25^3 */
  delta3: number;
  /** Number of valid pixels the means run over. */
  count: number;
}

/** Indices of pixels valid in both maps (finite, > 0, mask non-zero). */
export function validIndices(
  pred: DepthValues,
  gt: DepthValues,
  mask?: DepthValues,
  fn = 'validIndices',
): number[] {
  const { p, g, m } = pairedValues(pred, gt, mask, fn);
  const out: number[] = [];
  for (let i = 0; i < p.length; i++) {
    const pi = p[i];
    const gi = g[i];
    if (Number.isFinite(pi) && Number.isFinite(gi) && pi > 0 && gi > 0 && (!m || m[i])) out.push(i);
  }
  return out;
}

function meanOver(
  pred: DepthValues,
  gt: DepthValues,
  mask: DepthValues | undefined,
  fn: string,
  term: (p: number, g: number) => number,
): number {
  const { p, g } = pairedValues(pred, gt, mask, fn);
  const idx = validIndices(pred, gt, mask, fn);
  if (idx.length === 0) return Number.NaN;
  let sum = 0;
  for (const i of idx) sum += term(p[i], g[i]);
  return sum / idx.length;
}

export const absRel = (pred: DepthValues, gt: DepthValues, mask?: DepthValues): number =>
  meanOver(pred, gt, mask, 'absRel', (p, g) => Math.abs(p - g) / g);

export const sqRel = (pred: DepthValues, gt: DepthValues, mask?: DepthValues): number =>
  meanOver(pred, gt, mask, 'sqRel', (p, g) => ((p - g) * (p - g)) / g);

export const rmse = (pred: DepthValues, gt: DepthValues, mask?: DepthValues): number =>
  Math.sqrt(meanOver(pred, gt, mask, 'rmse', (p, g) => (p - g) * (p - g)));

export const rmseLog = (pred: DepthValues, gt: DepthValues, mask?: DepthValues): number =>
  Math.sqrt(meanOver(pred, gt, mask, 'rmseLog', (p, g) => (Math.log(p) - Math.log(g)) ** 2));

export const log10Error = (pred: DepthValues, gt: DepthValues, mask?: DepthValues): number =>
  meanOver(pred, gt, mask, 'log10Error', (p, g) => Math.abs(Math.log10(p) - Math.log10(g)));

/** Fraction of valid pixels with max(p/g, g/p) < 1.25^k. */
export const deltaAccuracy = (pred: DepthValues, gt: DepthValues, k: number, mask?: DepthValues): number =>
  meanOver(pred, gt, mask, 'deltaAccuracy', (p, g) => (Math.max(p / g, g / p) < 1.25 ** k ? 1 : 0));

/** Every metric of {@link DepthMetrics} at once. */
export function computeDepthMetrics(pred: DepthValues, gt: DepthValues, mask?: DepthValues): DepthMetrics {
  const { p, g } = pairedValues(pred, gt, mask, 'computeDepthMetrics');
  const idx = validIndices(p, g, mask, 'computeDepthMetrics');
  const n = idx.length;
  let absRelSum = 0;
  let sqRelSum = 0;
  let sqSum = 0;
  let logSqSum = 0;
  let log10Sum = 0;
  const deltas = [0, 0, 0];
  for (const i of idx) {
    const pi = p[i];
    const gi = g[i];
    const diff = pi - gi;
    absRelSum += Math.abs(diff) / gi;
    sqRelSum += (diff * diff) / gi;
    sqSum += diff * diff;
    logSqSum += (Math.log(pi) - Math.log(gi)) ** 2;
    log10Sum += Math.abs(Math.log10(pi) - Math.log10(gi));
    const ratio = Math.max(pi / gi, gi / pi);
    for (let k = 0; k < 3; k++) if (ratio < 1.25 ** (k + 1)) deltas[k] += 1;
  }
  const mean = (s: number): number => (n === 0 ? Number.NaN : s / n);
  return {
    abs_rel: mean(absRelSum),
    sq_rel: mean(sqRelSum),
    rmse: Math.sqrt(mean(sqSum)),
    rmse_log: Math.sqrt(mean(logSqSum)),
    log10: mean(log10Sum),
    delta1: mean(deltas[0]),
    delta2: mean(deltas[1]),
    delta3: mean(deltas[2]),
    count: n,
  };
}
