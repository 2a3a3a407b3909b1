/**
 * The baseline the embedded prior must beat: the least-squares plane `depth = a x + b y + c` fitted to the
 * ground truth of each image (an oracle with three parameters, where the prior gets two: scale and shift).
 */
import { check } from '../../../core/errors.ts';

export interface PlaneFit {
  a: number;
  b: number;
  c: number;
}

/** Solves the 3x3 system `m v = r` by Cramer's rule (double precision). */
function solve3(m: number[][], r: number[]): [number, number, number] | undefined {
  const det = (q: number[][]) =>
    q[0]![0]! * (q[1]![1]! * q[2]![2]! - q[1]![2]! * q[2]![1]!) -
    q[0]![1]! * (q[1]![0]! * q[2]![2]! - q[1]![2]! * q[2]![0]!) +
    q[0]![2]! * (q[1]![0]! * q[2]![1]! - q[1]![1]! * q[2]![0]!);
  const d = det(m);
  if (!(Math.abs(d) > 1e-12)) return undefined;
  const col = (k: number) => m.map((row, i) => row.map((v, j) => (j === k ? r[i]! : v)));
  return [det(col(0)) / d, det(col(1)) / d, det(col(2)) / d];
}

/**
 * Fits the plane to `gt` ([H, W], row-major) over pixels with finite gt > 0 (and mask non-zero).
 * x, y are normalized to [-1, 1] for conditioning.
 */
export function fitDepthPlane(gt: ArrayLike<number>, width: number, height: number, mask?: ArrayLike<number>): PlaneFit {
  check(gt.length === width * height, () => `gt has ${gt.length} values for ${width}x${height}`, { key: 'fitDepthPlane' });
  const s = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const r = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < height; i++) {
    const y = height > 1 ? (2 * i) / (height - 1) - 1 : 0;
    for (let j = 0; j < width; j++) {
      const k = i * width + j;
      const g = gt[k]!;
      if (!(Number.isFinite(g) && g > 0) || (mask && !mask[k])) continue;
      const x = width > 1 ? (2 * j) / (width - 1) - 1 : 0;
      const f = [x, y, 1];
      for (let p = 0; p < 3; p++) {
        r[p]! += f[p]! * g;
        for (let q = 0; q < 3; q++) s[p]![q]! += f[p]! * f[q]!;
      }
      n++;
    }
  }
  check(n > 0, () => 'no valid ground-truth pixel', { key: 'fitDepthPlane' });
  const sol = solve3(s, r);
  if (!sol) return { a: 0, b: 0, c: r[2]! / n };
  return { a: sol[0], b: sol[1], c: sol[2] };
}

/** The fitted plane rendered as a depth map [H, W]. */
export function renderPlane(fit: PlaneFit, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let i = 0; i < height; i++) {
    const y = height > 1 ? (2 * i) / (height - 1) - 1 : 0;
    for (let j = 0; j < width; j++) {
      const x = width > 1 ? (2 * j) / (width - 1) - 1 : 0;
      out[i * width + j] = fit.a * x + fit.b * y + fit.c;
    }
  }
  return out;
}
