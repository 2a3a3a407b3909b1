import type { ParamLayout } from './param.ts';

/** The torch shape that a project-layout shape is stored as in a checkpoint. */
export function torchShape(shape: readonly number[], layout: ParamLayout): number[] {
  if (layout === 'conv') {
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    return [co, ci, kh, kw];
  }
  if (layout === 'linear') {
    const [inDim, outDim] = shape as [number, number];
    return [outDim, inDim];
  }
  return [...shape];
}

/**
 * The axis order, over the project-layout shape, in which a parameter's values are laid out in a torch
 * checkpoint (`conv`: [kh, kw, ci, co] -> [co, ci, kh, kw]; `linear`: [in, out] -> [out, in]).
 */
export function torchPerm(layout: ParamLayout, rank: number): number[] {
  if (layout === 'conv') return [3, 2, 0, 1];
  if (layout === 'linear') return [1, 0];
  return Array.from({ length: rank }, (_, i) => i);
}

/** torch conv `[co, ci, kh, kw]` -> `[kh, kw, ci, co]`. */
export function convFromTorch(src: Float32Array, co: number, ci: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let o = 0; o < co; o++) {
    for (let i = 0; i < ci; i++) {
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          out[((a * kw + b) * ci + i) * co + o] = src[((o * ci + i) * kh + a) * kw + b]!;
        }
      }
    }
  }
  return out;
}

/** Row-major `[rows, cols]` -> `[cols, rows]`. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c]!;
  }
  return out;
}

/** Converts torch-layout values to the project layout. */
export function fromTorch(src: Float32Array, shape: readonly number[], layout: ParamLayout): Float32Array {
  if (layout === 'conv') {
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    return convFromTorch(src, co, ci, kh, kw);
  }
  if (layout === 'linear') {
    const [inDim, outDim] = shape as [number, number];
    return transpose2d(src, outDim, inDim);
  }
  return src;
}
