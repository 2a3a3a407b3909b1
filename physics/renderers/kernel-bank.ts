import { check } from '../../core/errors.ts';
import { psfRadiusPx, psfWeight, type PsfKind } from '../psf.ts';

/**
 * One fixed kernel of the bank, split for speed into horizontal runs of equal value (the flat inside of a
 * disc: added through a running sum, two operations per run) and single taps (the one-pixel fall-off ring,
 * every Gaussian tap). A disc of diameter `c` costs about `c + pi c` operations per pixel instead of `c^2`.
 */
export interface LevelKernel {
  /** CoC diameter of this level, pixels. */
  cocPx: number;
  /** Half-size of the square holding every tap. */
  radius: number;
  /** Run `r` covers `dx` in `[runX0[r], runX1[r]]` at row offset `runDy[r]`, each tap worth `runV[r]`. */
  runDy: Int32Array;
  runX0: Int32Array;
  runX1: Int32Array;
  runV: Float64Array;
  /** Tap `q` sits at `(tapDx[q], tapDy[q])` with weight `tapV[q]`. */
  tapDx: Int32Array;
  tapDy: Int32Array;
  tapV: Float64Array;
}

/** Runs shorter than this are cheaper as single taps. */
const MIN_RUN = 4;

/**
 * The normalized kernel of `kind` at CoC `c` in run/tap form (weights in float64, summing to 1). Every kernel
 * is point-symmetric, so the same taps serve scatter (convolution) and gather (correlation).
 */
export function levelKernel(kind: PsfKind, c: number): LevelKernel {
  const radius = psfRadiusPx(kind, c);
  const size = 2 * radius + 1;
  const w = new Float64Array(size * size);
  let sum = 0;
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      const v = psfWeight(kind, Math.hypot(dx, dy), c);
      w[(dy + radius) * size + dx + radius] = v;
      sum += v;
    }
  }
  const runs: [number, number, number, number][] = [];
  const taps: [number, number, number][] = [];
  for (let dy = -radius; dy <= radius; dy++) {
    const row = (dy + radius) * size;
    let dx = -radius;
    while (dx <= radius) {
      const v = w[row + dx + radius];
      let end = dx;
      while (end + 1 <= radius && w[row + end + 1 + radius] === v) end++;
      if (v !== 0) {
        if (end - dx + 1 >= MIN_RUN) runs.push([dy, dx, end, v / sum]);
        else for (let x = dx; x <= end; x++) taps.push([x, dy, v / sum]);
      }
      dx = end + 1;
    }
  }
  return {
    cocPx: c,
    radius,
    runDy: Int32Array.from(runs, (r) => r[0]),
    runX0: Int32Array.from(runs, (r) => r[1]),
    runX1: Int32Array.from(runs, (r) => r[2]),
    runV: Float64Array.from(runs, (r) => r[3]),
    tapDx: Int32Array.from(taps, (q) => q[0]),
    tapDy: Int32Array.from(taps, (q) => q[1]),
    tapV: Float64Array.from(taps, (q) => q[2]),
  };
}

/**
 * Kernels at the CoC levels `c_k = k * stepPx`, `k = 0..K`. A source (or destination) pixel with CoC `c`
 * uses the two neighbouring levels with hat weights `1 - t` and `t`, `t = c / stepPx - k0`, so its kernel
 * `(1 - t) h_k0 + t h_(k0+1)` is continuous and piecewise linear in `c` (differentiable between levels),
 * still sums to 1, and approaches the exact kernel of `c` as the step shrinks.
 */
export interface KernelBank {
  kind: PsfKind;
  stepPx: number;
  /** `levels[k].cocPx === k * stepPx`, `k = 0..K`. */
  levels: readonly LevelKernel[];
  /** Largest radius in the bank. */
  maxRadius: number;
}

const cache = new Map<string, LevelKernel[]>();

/** The bank of `kind` with step `stepPx` and levels `0..K` (kernels are cached per kind and step). */
export function kernelBank(kind: PsfKind, stepPx: number, K: number): KernelBank {
  check(Number.isFinite(stepPx) && stepPx > 0, () => `level step must be positive, got ${stepPx}`, {
    key: 'levelStepPx',
  });
  check(Number.isInteger(K) && K >= 1, () => `level count must be a positive integer, got ${K}`, {
    key: 'levels',
  });
  const key = `${kind}:${stepPx}`;
  let levels = cache.get(key);
  if (!levels) cache.set(key, (levels = []));
  while (levels.length <= K) levels.push(levelKernel(kind, levels.length * stepPx));
  const used = levels.slice(0, K + 1);
  return { kind, stepPx, levels: used, maxRadius: used[K].radius };
}
