import { check } from '../errors.ts';
import type { FloatImage } from '../io/raster.ts';
import type { DepthMap, Intrinsics, RgbdScene } from './dataset.ts';

/** Box-averages an image by an integer factor (the last partial rows/columns are dropped). */
export function downscaleImage(img: FloatImage, k: number): FloatImage {
  if (k === 1) return img;
  const { width: W, height: H, channels: C } = img;
  const w = Math.floor(W / k);
  const h = Math.floor(H / k);
  check(w > 0 && h > 0, () => `downscale ${k} leaves no pixel of a ${W}x${H} image`, {
    key: 'data.downscale',
  });
  const out = new Float32Array(w * h * C);
  const inv = 1 / (k * k);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let dy = 0; dy < k; dy++) {
          const row = (y * k + dy) * W;
          for (let dx = 0; dx < k; dx++) s += img.data[(row + x * k + dx) * C + c]!;
        }
        out[(y * w + x) * C + c] = s * inv;
      }
    }
  }
  return { width: w, height: h, channels: C, data: out };
}

/**
 * Downscales depth by an integer factor: the mean of each block whose pixels are all valid, NaN otherwise
 * (so no depth is invented across a hole or an occlusion boundary with missing data).
 */
export function downscaleDepth(depth: DepthMap, k: number): DepthMap {
  if (k === 1) return depth;
  const { width: W, height: H } = depth;
  const w = Math.floor(W / k);
  const h = Math.floor(H / k);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let ok = true;
      for (let dy = 0; dy < k && ok; dy++) {
        for (let dx = 0; dx < k; dx++) {
          const v = depth.data[(y * k + dy) * W + x * k + dx]!;
          if (!Number.isFinite(v)) {
            ok = false;
            break;
          }
          s += v;
        }
      }
      out[y * w + x] = ok ? s / (k * k) : Number.NaN;
    }
  }
  return { width: w, height: h, data: out };
}

/** A mask downscaled: a block counts only when every pixel in it does. */
export function downscaleMask(mask: Uint8Array, width: number, height: number, k: number): Uint8Array {
  if (k === 1) return mask;
  const w = Math.floor(width / k);
  const h = Math.floor(height / k);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let all = 1;
      for (let dy = 0; dy < k && all; dy++) {
        for (let dx = 0; dx < k; dx++) if (!mask[(y * k + dy) * width + x * k + dx]) all = 0;
      }
      out[y * w + x] = all;
    }
  }
  return out;
}

/** Intrinsics of an image downscaled by `k` (pixel centres at half-integers). */
export function downscaleIntrinsics(K: Intrinsics, k: number): Intrinsics {
  return { fx: K.fx / k, fy: K.fy / k, cx: (K.cx + 0.5) / k - 0.5, cy: (K.cy + 0.5) / k - 0.5 };
}

/** A scene downscaled by `k`, everything kept in register. */
export function downscaleScene(scene: RgbdScene, k: number): RgbdScene {
  if (k === 1) return scene;
  return {
    ...scene,
    rgb: downscaleImage(scene.rgb, k),
    depth: downscaleDepth(scene.depth, k),
    intrinsics: scene.intrinsics && downscaleIntrinsics(scene.intrinsics, k),
    evalMask: scene.evalMask && downscaleMask(scene.evalMask, scene.depth.width, scene.depth.height, k),
  };
}

/** Marks depth beyond `maxDepthM` (and non-positive depth) invalid, in place. */
export function clipDepthRange(depth: DepthMap, maxDepthM?: number): DepthMap {
  for (let i = 0; i < depth.data.length; i++) {
    const v = depth.data[i]!;
    if (!(v > 0) || (maxDepthM !== undefined && v > maxDepthM)) depth.data[i] = Number.NaN;
  }
  return depth;
}

