import type { Param } from '../checkpoint/param.ts';

/**
 * The primitives every network (UNet, VAE, CLIP text encoder) is written against, once. An executor
 * implements them over its own opaque tensor type `T`: `tfjsOps` runs eagerly on TensorFlow.js tensors
 * (differentiable); a graph-recording executor (ONNX) can implement the same calls later.
 *
 * Layout contract (the same for every executor):
 * - images / feature maps are NHWC `[B, H, W, C]`; token sequences are `[B, S, D]`;
 * - conv filters are `[kh, kw, in, out]`, linear weights `[in, out]` (see `ParamLayout`);
 * - `axis` arguments are plain non-negative indices into the tensor's shape.
 * Networks never call an executor's library directly, never branch on `T`, and read shapes only
 * through `shape()` (statically known in a graph executor too).
 */
export interface Ops<T> {
  /** Executor name, for messages (`tfjs`, `onnx`). */
  readonly name: string;

  /** The executor's tensor for a network weight (bound once, reused; owned by the Param). */
  param(p: Param): T;
  /** A constant from host values (time embeddings, masks). */
  constant(data: Float32Array, shape: readonly number[]): T;
  shape(x: T): number[];

  /** 2-D convolution, NHWC x `[kh, kw, in, out]` filter, optional bias `[out]`. */
  conv2d(x: T, w: T, b: T | null, options?: Conv2dOptions): T;
  /** `x @ w + b` over the last axis: x `[..., in]`, w `[in, out]`, b `[out]`. */
  linear(x: T, w: T, b: T | null): T;
  /** Plain 2-D matrix product `[m, k] @ [k, n]`. */
  matMul(a: T, b: T): T;

  /** GroupNorm over channels-last input `[B, ..., C]`: stats per (batch, group) over all other axes. */
  groupNorm(x: T, groups: number, gamma: T, beta: T, eps: number): T;
  /** LayerNorm over the last axis. */
  layerNorm(x: T, gamma: T, beta: T, eps: number): T;
  /** Softmax over the last axis. */
  softmax(x: T): T;

  silu(x: T): T;
  /** Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`. */
  gelu(x: T): T;
  /** CLIP's `x * sigmoid(1.702 x)`. */
  quickGelu(x: T): T;

  /** Nearest-neighbour resize of NHWC to `[h, w]` (torch `interpolate(mode="nearest", size)` indexing). */
  upsampleNearest(x: T, size: readonly [number, number]): T;

  concat(xs: readonly T[], axis: number): T;
  reshape(x: T, shape: readonly number[]): T;
  transpose(x: T, perm: readonly number[]): T;
  /** Contiguous slice; `size[i] = -1` means "to the end". */
  slice(x: T, begin: readonly number[], size: readonly number[]): T;
  /** Splits along `axis` into equal `parts` (a number) or the given sizes. */
  split(x: T, parts: number | readonly number[], axis: number): T[];

  /** Elementwise with broadcasting (numpy rules). */
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  /** `x * s` for a host scalar. */
  scale(x: T, s: number): T;
  clamp(x: T, lo: number, hi: number): T;
  mean(x: T, axes: readonly number[], keepDims?: boolean): T;

  /**
   * Rows of a `[rows, dim]` table for host ids -> `[ids.length, dim]` (CLIP token/position embeddings).
   * The ids are host numbers: Marigold only encodes the empty prompt, so no id tensor is ever needed.
   */
  gatherRows(table: T, ids: readonly number[]): T;
}

/**
 * Convolution options. `padding` is symmetric (`1` = torch `padding=1`) or explicit
 * `[top, bottom, left, right]` (the VAE downsampler pads right/bottom only: `[0, 1, 0, 1]`).
 */
export interface Conv2dOptions {
  stride?: number;
  padding?: number | readonly [number, number, number, number];
}

/** Normalises `Conv2dOptions.padding` to `[top, bottom, left, right]`. */
export function explicitPadding(padding: Conv2dOptions['padding']): [number, number, number, number] {
  if (padding === undefined) return [0, 0, 0, 0];
  if (typeof padding === 'number') return [padding, padding, padding, padding];
  return [padding[0], padding[1], padding[2], padding[3]];
}
