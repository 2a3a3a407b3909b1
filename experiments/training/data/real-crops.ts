/**
 * Crops of real RGB-D frames for training (declared training data, never evaluated on): the two Open3D
 * frames whose depth is registered to the colour image, TUM and SUN RGB-D (MIT, see
 * test/data/open3d-rgbd/README.txt; NYU's raw depth is not registered, so it is left out). Each crop is a
 * seeded window (a random share of the frame's width, the target aspect ratio, a random position),
 * area-resized to `width` x `height`. Depth holes (0 = invalid) are filled from their valid neighbours,
 * so the VAE encodes a complete map; the share of filled pixels is reported.
 *
 * @example
 * const c = realCrops(400, 96, 72, 0);
 * c.rgb; // Uint8Array(400 * 72 * 96 * 3)
 * c.depth; // Float32Array(400 * 72 * 96), metres
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { check } from '../../../core/errors.ts';
import { readImage, toFloat } from '../../../core/io/image.ts';
import { rgbOf } from '../../../core/io/raster.ts';
import { Rng } from '../../../core/tensor/rng.ts';
import { areaResize } from '../eval/eval-scenes.ts';

export const REAL_RGBD_FRAMES = Object.freeze([
  ['TUM_color.png', 'TUM_depth_mm.png'],
  ['SUN_color.jpg', 'SUN_depth_mm.png'],
] as const);

const DEFAULT_DIR = fileURLToPath(new URL('../../../test/data/open3d-rgbd/', import.meta.url));

interface Frame {
  width: number;
  height: number;
  rgb: Float32Array; // [H, W, 3] in [0, 1]
  depth: Float32Array; // metres, holes filled
}

export interface RealCrops {
  rgb: Uint8Array;
  depth: Float32Array;
  /** Share of depth pixels that were holes in the frames and were filled. */
  filled: number;
}

/** Fills zero (invalid) depth by repeated averaging of valid 4-neighbours; returns the count filled. */
export function fillDepthHoles(depth: Float32Array, width: number, height: number): number {
  let holes = 0;
  for (const d of depth) if (!(d > 0)) holes++;
  check(holes < depth.length, () => 'the depth map has no valid pixel', { key: 'depth' });
  let left = holes;
  while (left > 0) {
    const next = depth.slice();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (depth[i]! > 0) continue;
        let s = 0;
        let n = 0;
        const take = (j: number) => {
          if (depth[j]! > 0) {
            s += depth[j]!;
            n++;
          }
        };
        if (x > 0) take(i - 1);
        if (x < width - 1) take(i + 1);
        if (y > 0) take(i - width);
        if (y < height - 1) take(i + width);
        if (n > 0) {
          next[i] = s / n;
          left--;
        }
      }
    }
    depth.set(next);
  }
  return holes;
}

function loadFrames(dir: string): { frames: Frame[]; filled: number } {
  let holes = 0;
  let total = 0;
  const frames = REAL_RGBD_FRAMES.map(([color, depthFile]) => {
    const img = toFloat(readImage(join(dir, color)));
    const raw = readImage(join(dir, depthFile));
    check(
      raw.width === img.width && raw.height === img.height && raw.channels === 1 && raw.bitDepth === 16,
      () => `expected a 16-bit depth image of ${img.width}x${img.height}`,
      { file: join(dir, depthFile) },
    );
    const rgb = rgbOf(img).data;
    const depth = Float32Array.from(raw.data, (v) => v / 1000);
    holes += fillDepthHoles(depth, img.width, img.height);
    total += depth.length;
    return { width: img.width, height: img.height, rgb, depth };
  });
  return { frames, filled: holes / total };
}

/** `count` seeded crops at `width` x `height` (frames alternate; window 35-100 % of the frame's width). */
export function realCrops(
  count: number,
  width: number,
  height: number,
  seed: number,
  dir = DEFAULT_DIR,
): RealCrops {
  const { frames, filled } = loadFrames(dir);
  const rng = new Rng(seed * 7919 + 17);
  const hw = width * height;
  const rgb = new Uint8Array(count * hw * 3);
  const depth = new Float32Array(count * hw);
  for (let n = 0; n < count; n++) {
    const f = frames[n % frames.length]!;
    const aspect = height / width;
    const cw = Math.min(
      f.width,
      Math.round(f.width * (0.35 + 0.65 * rng.uniform())),
      Math.floor(f.height / aspect),
    );
    const ch = Math.round(cw * aspect);
    const x0 = Math.floor(rng.uniform() * (f.width - cw + 1));
    const y0 = Math.floor(rng.uniform() * (f.height - ch + 1));
    const cropRgb = new Float32Array(cw * ch * 3);
    const cropDepth = new Float32Array(cw * ch);
    for (let y = 0; y < ch; y++) {
      cropRgb.set(
        f.rgb.subarray(((y0 + y) * f.width + x0) * 3, ((y0 + y) * f.width + x0 + cw) * 3),
        y * cw * 3,
      );
      cropDepth.set(f.depth.subarray((y0 + y) * f.width + x0, (y0 + y) * f.width + x0 + cw), y * cw);
    }
    const r = areaResize(cropRgb, cw, ch, 3, width, height);
    for (let i = 0; i < r.length; i++)
      rgb[n * hw * 3 + i] = Math.max(0, Math.min(255, Math.round(r[i]! * 255)));
    depth.set(areaResize(cropDepth, cw, ch, 1, width, height), n * hw);
  }
  return { rgb, depth, filled };
}
