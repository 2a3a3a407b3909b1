import { check } from '../../core/errors.ts';
import type { ScaleShift } from './metric-mapping.ts';

/** Options of {@link candidateDepths}. */
export interface CandidateDepthsOptions {
  /** Focus distance F, metres. */
  focusDistanceM: number;
  /** Focal length f, metres (candidates stay beyond 1.05 f). */
  focalLengthM: number;
  /**
   * Circle of confusion, in pixels of the image the search renders, of a point at infinity for the blurred
   * f-number: `f^2 / (N (F - f) s)` (METHOD.md eq. 2 with d -> infinity).
   */
  cocAtInfinityPx: number;
  /** Blur levels (pixels) to place candidates at, on each side of the focus plane. @default [0.5, 1, 2, 4, 8, 16] */
  levelsPx?: readonly number[];
  /**
   * Where the scene lies relative to the focus plane, when known: `behind` (farther than F), `front`
   * (nearer), or `both` (unknown; candidates on both sides). @default 'both'
   */
  side?: SceneSide;
}

/** Blur as fractions of c_inf for the candidates behind the focus plane when few pixel levels fit below it. */
const BEHIND_FRACTIONS = [0.25, 0.5, 0.75, 0.9] as const;

/** Which side(s) of the focus plane the scene may occupy. */
export type SceneSide = 'both' | 'behind' | 'front';

/**
 * Candidate depths for the coarse search, on BOTH sides of the focus plane. The circle of confusion is
 * linear in inverse depth, `c(d) = c_inf * |1 - F / d|`, so every blur level `c` is reached twice: behind
 * the focus plane at `d = F / (1 - c / c_inf)` (only while `c < c_inf`) and in front of it at
 * `d = F / (1 + c / c_inf)`. A search over one side only would miss half of the scenes that make a given
 * blur; this list holds both, plus F itself, sorted ascending (metres).
 */
export function candidateDepths(options: CandidateDepthsOptions): number[] {
  const { focusDistanceM: F, focalLengthM: f, cocAtInfinityPx: cInf } = options;
  check(F > 0 && Number.isFinite(F), () => `focusDistanceM must be > 0, got ${F}`, {
    key: 'candidateDepths',
  });
  check(f > 0 && f < F, () => `focalLengthM must lie in (0, F), got ${f}`, { key: 'candidateDepths' });
  check(cInf > 0 && Number.isFinite(cInf), () => `cocAtInfinityPx must be > 0, got ${cInf}`, {
    key: 'candidateDepths',
  });
  const levels = options.levelsPx ?? [0.5, 1, 2, 4, 8, 16];
  const side = options.side ?? 'both';
  check(['both', 'behind', 'front'].includes(side), () => `side must be both, behind or front, got ${side}`, {
    key: 'sceneSide',
  });
  const depths = new Set<number>([F]);
  let behind = 0;
  for (const c of levels) {
    const r = c / cInf;
    const near = F / (1 + r);
    if (near > 1.05 * f && side !== 'behind') depths.add(near);
    if (r < 0.98 && side !== 'front') {
      depths.add(F / (1 - r));
      behind++;
    }
  }
  // Behind the focus plane the blur never exceeds c_inf: when c_inf is small (a weak relative blur, a coarse
  // search image) fewer than two of the pixel levels fit below it, and a search that may look behind F would
  // have nothing but F (and at most one level) to try there. Then place candidates at fractions of c_inf too.
  if (side !== 'front' && behind < Math.min(2, levels.length)) {
    for (const r of BEHIND_FRACTIONS) depths.add(F / (1 - r));
  }
  return [...depths].sort((a, b) => a - b);
}

/** One evaluated candidate of the search. */
export interface GridCandidate extends ScaleShift {
  loss: number;
}

/** Result of {@link gridSearchScaleShift}. */
export interface GridSearchResult extends ScaleShift {
  /** Loss at the chosen scale and shift. */
  loss: number;
  /** Every candidate evaluated, in order (coarse pairs, then refinements). */
  evaluated: GridCandidate[];
  /** The refined best of each basin, lowest loss first (`basins[0]` is the result itself). */
  basins: GridCandidate[];
}

/** Options of {@link gridSearchScaleShift}. */
export interface GridSearchOptions {
  /** Also try constant depths (near = far), for priors whose relative depth starts flat. @default false */
  includeConstant?: boolean;
  /** Rounds of local refinement around the best pair (a 5 x 5 grid in log near, log far). @default 2 */
  refineRounds?: number;
  /** Relative half-width of the first refinement grid (each round halves it). @default 0.3 */
  refineSpan?: number;
  /**
   * How many basins to refine: the best coarse pair and the next best local minima of the coarse (near, far)
   * grid, each refined on its own, reported best first in `basins` (fewer when the grid has fewer minima, or
   * two refine into one: within a quarter of `refineSpan` of each other in log near and log far). @default 1
   */
  basins?: number;
}

/**
 * Coarse-to-fine search of a loss over metric scale and shift. The relative depth spans [0, 1], so a
 * (near, far) pair with near < far means `shift = near`, `scale = far - near`; every ordered pair of
 * {@link candidateDepths} is tried (scenes wholly in front of F, wholly behind it, and straddling it), then
 * the best is refined on a small grid in (log near, log far) (with `basins` > 1, also the next best local
 * minima of the coarse grid, each on its own). `evaluate` must be deterministic; non-finite losses are skipped.
 */
export function gridSearchScaleShift(
  evaluate: (candidate: ScaleShift) => number,
  depths: readonly number[],
  options: GridSearchOptions = {},
): GridSearchResult {
  check(depths.length >= 2, () => `need at least 2 candidate depths, got ${depths.length}`, {
    key: 'gridSearchScaleShift',
  });
  const basinCount = options.basins ?? 1;
  check(Number.isInteger(basinCount) && basinCount >= 1, () => `basins must be a positive integer, got ${basinCount}`, {
    key: 'grid.basins',
  });
  const span0 = options.refineSpan ?? 0.3;
  const evaluated: GridCandidate[] = [];
  const tryPair = (near: number, far: number): GridCandidate => {
    const candidate = { scale: Math.max(far - near, near * 1e-3), shift: near };
    const entry = { ...candidate, loss: evaluate(candidate) };
    evaluated.push(entry);
    return entry;
  };
  const better = (a: GridCandidate, b: GridCandidate | undefined): boolean =>
    Number.isFinite(a.loss) && (!b || a.loss < b.loss);
  // 1. Coarse: every ordered pair of candidates (both sides of the focus plane), on an (i, j) index grid.
  const at = new Map<string, GridCandidate>();
  for (let i = 0; i < depths.length; i++) {
    if (options.includeConstant) at.set(`${i},${i}`, tryPair(depths[i], depths[i]));
    for (let j = i + 1; j < depths.length; j++) at.set(`${i},${j}`, tryPair(depths[i], depths[j]));
  }
  // The basins' starts: the best coarse pair, then the best local minima of the index grid (no finite
  // neighbour (i +- 1, j +- 1) lower), lowest first.
  const finite = (c: GridCandidate): boolean => Number.isFinite(c.loss);
  const localMinimum = (key: string): boolean => {
    const [i, j] = key.split(',').map(Number);
    const c = at.get(key)!;
    for (let di = -1; di <= 1; di++) {
      for (let dj = -1; dj <= 1; dj++) {
        const n = at.get(`${i + di},${j + dj}`);
        if (n && n !== c && finite(n) && n.loss < c.loss) return false;
      }
    }
    return true;
  };
  const ranked = [...at.values()].filter(finite).sort((a, b) => a.loss - b.loss);
  const starts = ranked.slice(0, 1);
  if (basinCount > 1) {
    const minima = new Set([...at].filter(([k, c]) => finite(c) && localMinimum(k)).map(([, c]) => c));
    for (const c of ranked) {
      if (starts.length >= basinCount) break;
      if (c !== starts[0] && minima.has(c)) starts.push(c);
    }
  }
  check(starts.length > 0, () => 'the defocus loss was not finite at any candidate scale/shift', {
    key: 'gridSearchScaleShift',
  });
  // 2. Fine, per basin: a 5 x 5 grid in log(near), log(far) around its best pair, shrinking each round.
  const basins = starts.map((start) => {
    let best = start;
    let span = span0;
    for (let round = 0; round < (options.refineRounds ?? 2); round++) {
      const near0 = best.shift;
      const far0 = best.shift + best.scale;
      let next = best;
      for (const fn of [-1, -0.5, 0, 0.5, 1]) {
        for (const ff of [-1, -0.5, 0, 0.5, 1]) {
          if (fn === 0 && ff === 0) continue;
          const near = near0 * Math.exp(span * fn);
          const far = far0 * Math.exp(span * ff);
          if (far > near) {
            const c = tryPair(near, far);
            if (better(c, next)) next = c;
          }
        }
      }
      best = next;
      span /= 2;
    }
    return best;
  });
  // Two minima of the coarse grid can still refine into one basin: keep the better of any two that end
  // within the last refinement step of each other.
  const close = (a: GridCandidate, b: GridCandidate): boolean =>
    Math.abs(Math.log(a.shift / b.shift)) <= span0 / 4 &&
    Math.abs(Math.log((a.shift + a.scale) / (b.shift + b.scale))) <= span0 / 4;
  const distinct: GridCandidate[] = [];
  for (const b of basins.sort((x, y) => x.loss - y.loss)) if (!distinct.some((d) => close(b, d))) distinct.push(b);
  const best = distinct[0];
  return { scale: best.scale, shift: best.shift, loss: best.loss, evaluated, basins: distinct };
}
