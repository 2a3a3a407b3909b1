/**
 * A fixed set of procedural scenes held in memory for training (RGB as bytes, depth normalized Marigold's
 * way), with batch assembly and flip augmentation. Built once from a list of training seeds; a resumed run
 * rebuilds the identical set from the same seeds.
 */
import { check } from '../../../core/errors.ts';
import { generateScene, seedSplit, type SceneOptions } from '../procedural-scenes.ts';

export interface SceneDataset {
  readonly width: number;
  readonly height: number;
  readonly seeds: readonly number[];
  /** [N, H, W, 3] sRGB-ish bytes. */
  readonly rgb: Uint8Array;
  /** [N, H, W] depth normalized to [-1, 1] by its 2 % / 98 % quantiles (see {@link normalizeDepth}). */
  readonly depth: Float32Array;
}

/** The `q`-quantile of `values` (linear interpolation between order statistics). */
export function quantile(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Marigold's depth normalization: `2 * (d - q2) / (q98 - q2) - 1`, clipped to [-1, 1]. A (near) constant map
 * gives zeros.
 */
export function normalizeDepth(depth: Float32Array, lowQ = 0.02, highQ = 0.98): Float32Array {
  const lo = quantile(depth, lowQ);
  const hi = quantile(depth, highQ);
  const out = new Float32Array(depth.length);
  const range = hi - lo;
  if (!(range > 1e-9)) return out;
  for (let i = 0; i < depth.length; i++) out[i] = Math.min(1, Math.max(-1, (2 * (depth[i]! - lo)) / range - 1));
  return out;
}

export interface BuildOptions extends Omit<SceneOptions, 'kind'> {
  /** Called after each scene (for progress output). */
  onScene?: (done: number, total: number) => void;
}

/** Renders every seed (training seeds only: a held-out seed is an error). */
export function buildSceneDataset(seeds: readonly number[], options: BuildOptions): SceneDataset {
  const { width, height } = options;
  const hw = width * height;
  const rgb = new Uint8Array(seeds.length * hw * 3);
  const depth = new Float32Array(seeds.length * hw);
  seeds.forEach((seed, n) => {
    check(seedSplit(seed) === 'train', () => `seed ${seed} is a held-out test seed; never train on it`, {
      key: 'seeds',
    });
    const s = generateScene(seed, options);
    for (let i = 0; i < hw * 3; i++) rgb[n * hw * 3 + i] = Math.round(s.rgb[i]! * 255);
    depth.set(normalizeDepth(s.depth), n * hw);
    options.onScene?.(n + 1, seeds.length);
  });
  return { width, height, seeds: [...seeds], rgb, depth };
}

/** One training batch, NHWC float32. */
export interface SceneBatch {
  /** [B, H, W, 3] in [-1, 1]. */
  readonly rgb: Float32Array;
  /** [B, H, W, 3] normalized depth replicated to 3 channels, in [-1, 1]. */
  readonly depth3: Float32Array;
  readonly shape: [number, number, number, number];
}

/** Where to cut a batch item from its scene: top-left corner and mirror flag. */
export interface CropSpec {
  readonly x0: number;
  readonly y0: number;
  readonly flip: boolean;
}

/**
 * Assembles scenes `indices` into a batch of `size[0]` x `size[1]` (width x height) crops, item k cut at
 * `crops[k]` (default: the whole scene, unflipped).
 */
export function assembleBatch(
  ds: SceneDataset,
  indices: readonly number[],
  crops: readonly CropSpec[] = [],
  size: readonly [number, number] = [ds.width, ds.height],
): SceneBatch {
  const { width: w, height: h } = ds;
  const [cw, ch] = size;
  check(cw <= w && ch <= h, () => `crop ${cw}x${ch} larger than the scenes (${w}x${h})`, { key: 'size' });
  const hw = w * h;
  const b = indices.length;
  const rgb = new Float32Array(b * cw * ch * 3);
  const depth3 = new Float32Array(b * cw * ch * 3);
  indices.forEach((n, k) => {
    check(Number.isInteger(n) && n >= 0 && n < ds.seeds.length, () => `scene index ${n} out of range`, {
      key: 'indices',
    });
    const { x0, y0, flip } = crops[k] ?? { x0: 0, y0: 0, flip: false };
    check(x0 >= 0 && y0 >= 0 && x0 + cw <= w && y0 + ch <= h, () => `crop at (${x0}, ${y0}) leaves the scene`, {
      key: 'crops',
    });
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const src = n * hw + (y0 + y) * w + x0 + (flip ? cw - 1 - x : x);
        const dst = (k * ch + y) * cw + x;
        const d = ds.depth[src]!;
        for (let c = 0; c < 3; c++) {
          rgb[dst * 3 + c] = (ds.rgb[src * 3 + c]! / 255) * 2 - 1;
          depth3[dst * 3 + c] = d;
        }
      }
    }
  });
  return { rgb, depth3, shape: [b, ch, cw, 3] };
}
