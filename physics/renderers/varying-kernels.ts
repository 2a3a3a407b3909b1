import * as tf from '@tensorflow/tfjs';
import type { KernelBank, LevelKernel } from './kernel-bank.ts';

/**
 * Spatially varying convolution with one fixed kernel of the bank per pixel, in plain loops over typed arrays.
 *
 * Why not tf convolutions: on the wasm backend a 27x27 depthwise convolution of a 768x512 RGB image takes
 * about 4.5 s (0.19 GMAC/s), and a level-by-level design convolves the whole image once per level although
 * each pixel uses only two levels. Here each pixel visits only its own kernel, as runs (a flat disc inside,
 * through a running sum) plus taps (the fall-off ring), so the cost is about `(c + pi c) C` per pixel and
 * level: eq. 6 at 768x512 with CoCs up to 25 px takes well under a second per pass.
 *
 * Two linear maps, adjoint to each other (the kernels are point-symmetric), each wrapped as a tf op whose
 * gradient is the other:
 * - scatter `S`: `out(q) = sum_p src(p) h_level(p)(q - p)` (each SOURCE spreads with its own kernel);
 * - gather `G`:  `out(p) = sum_q src(q) h_level(p)(q - p)` (each DESTINATION averages with its own kernel).
 * Outside the frame is zero, except that `extendPx > 0` continues the frame by replicating its edge pixels
 * (value and kernel) that far, used to blur coverage (alpha) so that a plane fills the frame edge to 1.
 *
 * These loops run on the CPU whatever the tf backend: each op reads its input back (`dataSync`) and uploads
 * its output, which on a GPU backend costs two transfers per op. A per-level tf convolution path would suit
 * a GPU better; it is not written yet.
 */
export interface VaryingKernelPlan {
  H: number;
  W: number;
  /** Level index into `bank.levels` for each pixel, `[H * W]`. */
  level: Int32Array;
  bank: KernelBank;
  /** Replicate the edge pixels this far outside the frame (0: zero outside). */
  extendPx?: number;
  /**
   * Only these pixels take part (`[H * W]`, 1 = yes): the maps become `S diag(m)` and `diag(m) G`, still
   * adjoint, and cost only what the selected pixels cost (the layers of `layered`).
   */
  sources?: Uint8Array;
}

/** Calls `visit(i, j, p)` for each position just outside the frame (within `e`), `p` its clamped pixel. */
function forEachExtended(
  H: number,
  W: number,
  e: number,
  visit: (i: number, j: number, p: number) => void,
): void {
  if (e <= 0) return;
  for (let i = -e; i < H + e; i++) {
    const ci = i < 0 ? 0 : i >= H ? H - 1 : i;
    const inside = i >= 0 && i < H;
    for (let j = -e; j < W + e; j++) {
      if (inside && j === 0) j = W; // skip the frame itself
      const cj = j < 0 ? 0 : j >= W ? W - 1 : j;
      visit(i, j, ci * W + cj);
    }
  }
}

/**
 * The part of the frame any selected pixel's kernel can reach: the bounding box of the sources grown by the
 * largest radius among them, clipped to the frame (replicated positions lie beyond their edge pixel, so
 * their in-frame taps stay within that box). Work and buffers are confined to it.
 */
interface Region {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

function reachRegion(plan: VaryingKernelPlan): Region | undefined {
  const { H, W, level, bank, sources } = plan;
  if (!sources) return { r0: 0, r1: H - 1, c0: 0, c1: W - 1 };
  let r0 = H;
  let r1 = -1;
  let c0 = W;
  let c1 = -1;
  let radius = 0;
  for (let i = 0, p = 0; i < H; i++) {
    for (let j = 0; j < W; j++, p++) {
      if (!sources[p]) continue;
      if (i < r0) r0 = i;
      if (i > r1) r1 = i;
      if (j < c0) c0 = j;
      if (j > c1) c1 = j;
      const r = bank.levels[level[p]].radius;
      if (r > radius) radius = r;
    }
  }
  if (r1 < 0) return undefined;
  return {
    r0: Math.max(0, r0 - radius),
    r1: Math.min(H - 1, r1 + radius),
    c0: Math.max(0, c0 - radius),
    c1: Math.min(W - 1, c1 + radius),
  };
}

/**
 * Channels are processed in groups of three (one pass, unrolled: about twice as fast as a channel loop),
 * then one by one: `[0, 3)`, `[3, 6)`, ..., then single channels.
 */
function channelGroups(C: number): [number, 1 | 3][] {
  const groups: [number, 1 | 3][] = [];
  let g = 0;
  for (; g + 3 <= C; g += 3) groups.push([g, 3]);
  for (; g < C; g++) groups.push([g, 1]);
  return groups;
}

/** `S(src)`: each pixel spreads `src` (`[H, W, C]`, row-major) with its kernel. Returns `[H, W, C]`. */
export function scatterVarying(
  src: Float32Array | Float64Array,
  C: number,
  plan: VaryingKernelPlan,
): Float32Array {
  const { H, W, level, bank, sources } = plan;
  const out = new Float32Array(H * W * C);
  const region = reachRegion(plan);
  if (!region) return out;
  const { r0, r1, c0, c1 } = region;
  const RW = c1 - c0 + 1;
  const RW1 = RW + 1;
  const taps = new Float64Array((r1 - r0 + 1) * RW * C); // region-local, [row][col][C]
  const diff = new Float64Array((r1 - r0 + 1) * RW1 * C); // per-row difference array for the runs
  let g = 0; // first channel of the group being spread

  const splat3 = (i: number, j: number, p: number): void => {
    if (sources && !sources[p]) return;
    const o = g; // a local copy: the closure's own `g` would be reloaded on every use
    const v0 = src[p * C + o];
    const v1 = src[p * C + o + 1];
    const v2 = src[p * C + o + 2];
    if (v0 === 0 && v1 === 0 && v2 === 0) return;
    const k: LevelKernel = bank.levels[level[p]];
    const { runDy, runX0, runX1, runV, tapDx, tapDy, tapV } = k;
    for (let r = 0; r < runDy.length; r++) {
      const row = i + runDy[r];
      if (row < r0 || row > r1) continue;
      let a = j + runX0[r];
      let b = j + runX1[r];
      if (a < c0) a = c0;
      if (b > c1) b = c1;
      if (a > b) continue;
      const v = runV[r];
      const ia = ((row - r0) * RW1 + a - c0) * C + o;
      const ib = ia + (b + 1 - a) * C;
      diff[ia] += v * v0;
      diff[ia + 1] += v * v1;
      diff[ia + 2] += v * v2;
      diff[ib] -= v * v0;
      diff[ib + 1] -= v * v1;
      diff[ib + 2] -= v * v2;
    }
    for (let q = 0; q < tapDy.length; q++) {
      const row = i + tapDy[q];
      const col = j + tapDx[q];
      if (row < r0 || row > r1 || col < c0 || col > c1) continue;
      const v = tapV[q];
      const io = ((row - r0) * RW + col - c0) * C + o;
      taps[io] += v * v0;
      taps[io + 1] += v * v1;
      taps[io + 2] += v * v2;
    }
  };

  const splat1 = (i: number, j: number, p: number): void => {
    if (sources && !sources[p]) return;
    const o = g; // a local copy: the closure's own `g` would be reloaded on every use
    const v0 = src[p * C + o];
    if (v0 === 0) return;
    const k: LevelKernel = bank.levels[level[p]];
    const { runDy, runX0, runX1, runV, tapDx, tapDy, tapV } = k;
    for (let r = 0; r < runDy.length; r++) {
      const row = i + runDy[r];
      if (row < r0 || row > r1) continue;
      let a = j + runX0[r];
      let b = j + runX1[r];
      if (a < c0) a = c0;
      if (b > c1) b = c1;
      if (a > b) continue;
      const s = runV[r] * v0;
      const ia = ((row - r0) * RW1 + a - c0) * C + o;
      diff[ia] += s;
      diff[ia + (b + 1 - a) * C] -= s;
    }
    for (let q = 0; q < tapDy.length; q++) {
      const row = i + tapDy[q];
      const col = j + tapDx[q];
      if (row < r0 || row > r1 || col < c0 || col > c1) continue;
      taps[((row - r0) * RW + col - c0) * C + o] += tapV[q] * v0;
    }
  };

  const e = plan.extendPx ?? 0;
  for (const [first, n] of channelGroups(C)) {
    g = first;
    const splat = n === 3 ? splat3 : splat1;
    for (let i = 0; i < H; i++) for (let j = 0, p = i * W; j < W; j++, p++) splat(i, j, p);
    forEachExtended(H, W, e, splat);
  }

  for (let row = r0; row <= r1; row++) {
    for (let ch = 0; ch < C; ch++) {
      let run = 0;
      for (let col = c0; col <= c1; col++) {
        run += diff[((row - r0) * RW1 + col - c0) * C + ch];
        out[(row * W + col) * C + ch] = taps[((row - r0) * RW + col - c0) * C + ch] + run;
      }
    }
  }
  return out;
}

/** `G(src)`: each pixel averages `src` (`[H, W, C]`) under its own kernel. The adjoint of `S`. */
export function gatherVarying(
  src: Float32Array | Float64Array,
  C: number,
  plan: VaryingKernelPlan,
): Float32Array {
  const { H, W, level, bank, sources } = plan;
  const out = new Float32Array(H * W * C);
  const region = reachRegion(plan);
  if (!region) return out;
  const { r0, r1, c0, c1 } = region;
  const RW = c1 - c0 + 1;
  const RW1 = RW + 1;
  const prefix = new Float64Array((r1 - r0 + 1) * RW1 * C); // prefix[row][x]: sum of src[row][c0 .. c0+x-1]
  for (let row = r0; row <= r1; row++) {
    for (let col = c0; col <= c1; col++) {
      const id = ((row - r0) * RW1 + col - c0) * C;
      const is = (row * W + col) * C;
      for (let ch = 0; ch < C; ch++) prefix[id + C + ch] = prefix[id + ch] + src[is + ch];
    }
  }
  let g = 0; // first channel of the group being gathered

  const pull3 = (i: number, j: number, p: number): void => {
    if (sources && !sources[p]) return;
    const o = g; // a local copy: the closure's own `g` would be reloaded on every use
    const k: LevelKernel = bank.levels[level[p]];
    const { radius, runDy, runX0, runX1, runV, tapDx, tapDy, tapV } = k;
    if (i + radius < r0 || i - radius > r1 || j + radius < c0 || j - radius > c1) return;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    for (let r = 0; r < runDy.length; r++) {
      const row = i + runDy[r];
      if (row < r0 || row > r1) continue;
      let a = j + runX0[r];
      let b = j + runX1[r];
      if (a < c0) a = c0;
      if (b > c1) b = c1;
      if (a > b) continue;
      const v = runV[r];
      const ia = ((row - r0) * RW1 + a - c0) * C + o;
      const ib = ia + (b + 1 - a) * C;
      s0 += v * (prefix[ib] - prefix[ia]);
      s1 += v * (prefix[ib + 1] - prefix[ia + 1]);
      s2 += v * (prefix[ib + 2] - prefix[ia + 2]);
    }
    for (let q = 0; q < tapDy.length; q++) {
      const row = i + tapDy[q];
      const col = j + tapDx[q];
      if (row < r0 || row > r1 || col < c0 || col > c1) continue;
      const v = tapV[q];
      const is = (row * W + col) * C + o;
      s0 += v * src[is];
      s1 += v * src[is + 1];
      s2 += v * src[is + 2];
    }
    out[p * C + o] += s0;
    out[p * C + o + 1] += s1;
    out[p * C + o + 2] += s2;
  };

  const pull1 = (i: number, j: number, p: number): void => {
    if (sources && !sources[p]) return;
    const o = g; // a local copy: the closure's own `g` would be reloaded on every use
    const k: LevelKernel = bank.levels[level[p]];
    const { radius, runDy, runX0, runX1, runV, tapDx, tapDy, tapV } = k;
    if (i + radius < r0 || i - radius > r1 || j + radius < c0 || j - radius > c1) return;
    let s0 = 0;
    for (let r = 0; r < runDy.length; r++) {
      const row = i + runDy[r];
      if (row < r0 || row > r1) continue;
      let a = j + runX0[r];
      let b = j + runX1[r];
      if (a < c0) a = c0;
      if (b > c1) b = c1;
      if (a > b) continue;
      const ia = ((row - r0) * RW1 + a - c0) * C + o;
      s0 += runV[r] * (prefix[ia + (b + 1 - a) * C] - prefix[ia]);
    }
    for (let q = 0; q < tapDy.length; q++) {
      const row = i + tapDy[q];
      const col = j + tapDx[q];
      if (row < r0 || row > r1 || col < c0 || col > c1) continue;
      s0 += tapV[q] * src[(row * W + col) * C + o];
    }
    out[p * C + o] += s0;
  };

  const e = plan.extendPx ?? 0;
  for (const [first, n] of channelGroups(C)) {
    g = first;
    const pull = n === 3 ? pull3 : pull1;
    for (let i = 0; i < H; i++) for (let j = 0, p = i * W; j < W; j++, p++) pull(i, j, p);
    forEachExtended(H, W, e, pull);
  }
  return out;
}

type Linear = (src: Float32Array, C: number, plan: VaryingKernelPlan) => Float32Array;

function linearOp(
  forward: Linear,
  adjoint: Linear,
  plan: VaryingKernelPlan,
): (x: tf.Tensor3D) => tf.Tensor3D {
  const op = tf.customGrad((...inputs) => {
    const x = inputs[0] as tf.Tensor3D;
    const [H, W, C] = x.shape;
    return {
      value: tf.tensor3d(forward(x.dataSync() as Float32Array, C, plan), [H, W, C]),
      gradFunc: (dy: tf.Tensor) => tf.tensor3d(adjoint(dy.dataSync() as Float32Array, C, plan), [H, W, C]),
    };
  });
  return (x) => op(x) as tf.Tensor3D;
}

/** `S` as a differentiable tf op on `[H, W, C]` (its gradient is `G`). */
export function scatterVaryingOp(src: tf.Tensor3D, plan: VaryingKernelPlan): tf.Tensor3D {
  return linearOp(scatterVarying, gatherVarying, plan)(src);
}

/** `G` as a differentiable tf op on `[H, W, C]` (its gradient is `S`). */
export function gatherVaryingOp(src: tf.Tensor3D, plan: VaryingKernelPlan): tf.Tensor3D {
  return linearOp(gatherVarying, scatterVarying, plan)(src);
}
