import type { Ops } from './ops.ts';

/** Multiply-add FLOPs (2 per MAC) seen by `countingOps`, split by what the backward pass will cost. */
export interface FlopCount {
  /** Forward FLOPs of conv2d, linear and matMul (everything else is memory-bound and not counted). */
  forward: number;
  /**
   * FLOPs of the input-gradient pass for the same calls: one product per conv / linear (dx only,
   * weights frozen), two per activation x activation matMul (attention: both operands need gradients).
   */
  inputGrad: number;
  /** Extra FLOPs if every weight were trainable (one more product per conv / linear). */
  weightGrad: number;
}

/**
 * Wraps an executor and counts conv / linear / matMul FLOPs analytically from shapes, for benchmarks
 * (GFLOP/s) of any network written against `Ops`. Counts accumulate until `reset()`.
 */
export function countingOps<T>(inner: Ops<T>): { ops: Ops<T>; count: FlopCount; reset(): void } {
  const count: FlopCount = { forward: 0, inputGrad: 0, weightGrad: 0 };
  const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
  const ops: Ops<T> = {
    ...inner,
    name: `${inner.name}+flops`,
    conv2d(x, w, b, options) {
      const y = inner.conv2d(x, w, b, options);
      const [kh, kw, ci] = inner.shape(w) as [number, number, number, number];
      const f = 2 * prod(inner.shape(y)) * kh * kw * ci;
      count.forward += f;
      count.inputGrad += f;
      count.weightGrad += f;
      return y;
    },
    linear(x, w, b) {
      const [inDim, outDim] = inner.shape(w) as [number, number];
      const rows = prod(inner.shape(x)) / inDim;
      const f = 2 * rows * inDim * outDim;
      count.forward += f;
      count.inputGrad += f;
      count.weightGrad += f;
      return inner.linear(x, w, b);
    },
    matMul(a, b) {
      const [m, k] = inner.shape(a) as [number, number];
      const n = inner.shape(b)[1]!;
      const f = 2 * m * k * n;
      count.forward += f;
      count.inputGrad += 2 * f;
      return inner.matMul(a, b);
    },
  };
  return {
    ops,
    count,
    reset() {
      count.forward = 0;
      count.inputGrad = 0;
      count.weightGrad = 0;
    },
  };
}
