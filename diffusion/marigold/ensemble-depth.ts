/**
 * Test-time ensembling of relative depth maps (Marigold's `ensemble_size`): several predictions of one image
 * from different noise latents, aligned to each other and reduced pixel by pixel.
 *
 * Alignment differs from diffusers' `MarigoldDepthPipeline.ensemble_depth` (which runs two BFGS steps of
 * scipy on the members' pairwise RMSE plus a pull of the result towards [0, 1]): here each member is fitted by
 * least squares to the current reduction of all members, `iterations` times, a closed form that needs no
 * solver and is deterministic. The output is normalized as diffusers does: affine to [0, 1] by its min and
 * max, scale-only divided by its max. The prior command ensembles at the input resolution (diffusers does it at
 * the processing resolution, before upsampling).
 *
 *   const { depth, uncertainty } = ensembleDepth([d0, d1, d2], { reduction: 'median', uncertainty: true });
 */
import { check } from '../../core/errors.ts';
import { leastSquaresFit } from '../../core/metrics/align.ts';

/** How the members relate: `affine` (scale and shift unknown, Marigold's depth), `scale`, or `none` (absolute). */
export type EnsembleAlignment = 'affine' | 'scale' | 'none';
export type EnsembleReduction = 'median' | 'mean';

export interface EnsembleOptions {
  /** @default 'median' */
  reduction?: EnsembleReduction;
  /** @default 'affine' */
  alignment?: EnsembleAlignment;
  /** Rounds of "fit every member to the current reduction, reduce again". @default 3 */
  iterations?: number;
  /** Also return the spread of the aligned members (population std for mean, median absolute deviation for median). */
  uncertainty?: boolean;
}

export interface EnsembleResult {
  /** The reduced map, normalized (affine: [0, 1]; scale: max 1; none: as reduced). */
  depth: Float32Array;
  /** Per-pixel spread, in the units of `depth` (divided by the same range). */
  uncertainty?: Float32Array;
  /** Each member's fitted `aligned = scale * member + shift` (before the final normalization). */
  fits: Array<{ scale: number; shift: number }>;
}

export const ENSEMBLE_REDUCTIONS: readonly EnsembleReduction[] = ['median', 'mean'];
export const ENSEMBLE_ALIGNMENTS: readonly EnsembleAlignment[] = ['affine', 'scale', 'none'];

/** Checks an ensemble size (members to draw, e.g. `--ensemble`): an integer >= 1; the error names `key`. */
export function checkEnsembleSize(size: number, key: string): void {
  check(Number.isInteger(size) && size >= 1, () => `expected an integer >= 1, got ${size}`, { key });
}

/** Aligns `members` (each `[H * W]`, the same size) to each other and reduces them to one map. */
export function ensembleDepth(
  members: readonly Float32Array[],
  options: EnsembleOptions = {},
): EnsembleResult {
  const reduction = options.reduction ?? 'median';
  const alignment = options.alignment ?? 'affine';
  const iterations = options.iterations ?? 3;
  check(members.length > 0, () => 'no members to ensemble', { key: 'ensemble' });
  const n = members[0]!.length;
  check(n > 0, () => 'members are empty', { key: 'ensemble' });
  members.forEach((m, i) =>
    check(m.length === n, () => `member ${i} has ${m.length} values, member 0 has ${n}`, { key: 'ensemble' }),
  );
  check(
    ENSEMBLE_REDUCTIONS.includes(reduction),
    () => `must be one of ${ENSEMBLE_REDUCTIONS.join(', ')}, got ${reduction}`,
    {
      key: 'ensemble.reduction',
    },
  );
  check(
    ENSEMBLE_ALIGNMENTS.includes(alignment),
    () => `must be one of ${ENSEMBLE_ALIGNMENTS.join(', ')}, got ${alignment}`,
    {
      key: 'ensemble.alignment',
    },
  );
  check(Number.isInteger(iterations) && iterations >= 0, () => `must be an integer >= 0, got ${iterations}`, {
    key: 'ensemble.iterations',
  });

  const fits = members.map(() => ({ scale: 1, shift: 0 }));
  const aligned = members.map((m) => Float32Array.from(m));
  let reduced = reduce(aligned, reduction);
  if (alignment !== 'none') {
    for (let it = 0; it < iterations; it++) {
      members.forEach((m, i) => {
        fits[i] = fitTo(m, reduced, alignment);
        const { scale, shift } = fits[i]!;
        const out = aligned[i]!;
        for (let p = 0; p < n; p++) out[p] = scale * m[p]! + shift;
      });
      reduced = reduce(aligned, reduction);
    }
  }
  const spread = options.uncertainty ? spreadOf(aligned, reduced, reduction) : undefined;
  let lo = 0;
  let range = 1;
  if (alignment !== 'none') {
    let min = Infinity;
    let max = -Infinity;
    for (const v of reduced) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    lo = alignment === 'affine' ? min : 0;
    range = Math.max(max - lo, 1e-6);
  }
  const depth = reduced.map((v) => (v - lo) / range);
  return { depth, ...(spread ? { uncertainty: spread.map((v) => v / range) } : {}), fits };
}

/** Least-squares `scale * m + shift ~ target` (shift 0 for `scale`); the identity for a constant member. */
function fitTo(
  m: Float32Array,
  target: Float32Array,
  alignment: 'affine' | 'scale',
): { scale: number; shift: number } {
  const fit = leastSquaresFit(m, target, alignment === 'affine' ? 'scale-shift' : 'scale');
  if (fit.determined) return { scale: fit.scale, shift: fit.shift };
  return { scale: 1, shift: fit.meanTarget - fit.meanPred };
}

/** `out[p] = f(column, p)`, where `column` holds every member's value at pixel `p` (reused; `f` may overwrite it). */
function overMembers(
  maps: readonly Float32Array[],
  f: (column: Float64Array, p: number) => number,
): Float32Array {
  const out = new Float32Array(maps[0]!.length);
  const column = new Float64Array(maps.length);
  for (let p = 0; p < out.length; p++) {
    for (let i = 0; i < maps.length; i++) column[i] = maps[i]![p]!;
    out[p] = f(column, p);
  }
  return out;
}

const mean = (values: Float64Array): number => values.reduce((a, v) => a + v, 0) / values.length;

/** Median of `values` (sorted in place); the mean of the middle two for an even count. */
function median(values: Float64Array): number {
  values.sort();
  const k = values.length;
  return k % 2 === 1 ? values[(k - 1) / 2]! : (values[k / 2 - 1]! + values[k / 2]!) / 2;
}

function reduce(maps: readonly Float32Array[], reduction: EnsembleReduction): Float32Array {
  return overMembers(maps, reduction === 'mean' ? mean : median);
}

/** Standard deviation (mean) or median absolute deviation (median) of the members around `center`. */
function spreadOf(
  maps: readonly Float32Array[],
  center: Float32Array,
  reduction: EnsembleReduction,
): Float32Array {
  return overMembers(maps, (column, p) => {
    for (let i = 0; i < column.length; i++) {
      const d = column[i]! - center[p]!;
      column[i] = reduction === 'mean' ? d * d : Math.abs(d);
    }
    return reduction === 'mean' ? Math.sqrt(mean(column)) : median(column);
  });
}
