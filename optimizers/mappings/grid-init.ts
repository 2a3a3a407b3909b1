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
  for (const c of levels) {
    const r = c / cInf;
    const near = F / (1 + r);
    if (near > 1.05 * f && side !== 'behind') depths.add(near);
    if (r < 0.98 && side !== 'front') depths.add(F / (1 - r));
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
}

/** Options of {@link gridSearchScaleShift}. */
export interface GridSearchOptions {
  /** Also try constant depths (near = far), for priors whose relative depth starts flat. @default false */
  includeConstant?: boolean;
  /** Rounds of local refinement around the best pair (a 5 x 5 grid in log near, log far). @default 2 */
  refineRounds?: number;
  /** Relative half-width of the first refinement grid (each round halves it). @default 0.3 */
  refineSpan?: number;
}

/**
 * Coarse-to-fine search of a loss over metric scale and shift. The relative depth spans [0, 1], so a
 * (near, far) pair with near < far means `shift = near`, `scale = far - near`; every ordered pair of
 * {@link candidateDepths} is tried (scenes wholly in front of F, wholly behind it, and straddling it), then
 * the best is refined on a small grid in (log near, log far). `evaluate` must be deterministic; non-finite
 * losses are skipped.
 */
export function gridSearchScaleShift(
  evaluate: (candidate: ScaleShift) => number,
  depths: readonly number[],
  options: GridSearchOptions = {},
): GridSearchResult {
  check(depths.length >= 2, () => `need at least 2 candidate depths, got ${depths.length}`, {
    key: 'gridSearchScaleShift',
  });
  const evaluated: GridCandidate[] = [];
  let best: GridCandidate | undefined;
  const tryPair = (near: number, far: number): void => {
    const candidate = { scale: Math.max(far - near, near * 1e-3), shift: near };
    const loss = evaluate(candidate);
    const entry = { ...candidate, loss };
    evaluated.push(entry);
    if (Number.isFinite(loss) && (!best || loss < best.loss)) best = entry;
  };
  // 1. Coarse: every ordered pair of candidates (both sides of the focus plane).
  for (let i = 0; i < depths.length; i++) {
    if (options.includeConstant) tryPair(depths[i], depths[i]);
    for (let j = i + 1; j < depths.length; j++) tryPair(depths[i], depths[j]);
  }
  check(best, () => 'the defocus loss was not finite at any candidate scale/shift', {
    key: 'gridSearchScaleShift',
  });
  // 2. Fine: a 5 x 5 grid in log(near), log(far) around the best pair, shrinking each round.
  let span = options.refineSpan ?? 0.3;
  for (let round = 0; round < (options.refineRounds ?? 2); round++) {
    const center = best;
    const near0 = center.shift;
    const far0 = center.shift + center.scale;
    for (const fn of [-1, -0.5, 0, 0.5, 1]) {
      for (const ff of [-1, -0.5, 0, 0.5, 1]) {
        if (fn === 0 && ff === 0) continue;
        const near = near0 * Math.exp(span * fn);
        const far = far0 * Math.exp(span * ff);
        if (far > near) tryPair(near, far);
      }
    }
    span /= 2;
  }
  return { scale: best.scale, shift: best.shift, loss: best.loss, evaluated };
}
