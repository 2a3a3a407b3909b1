/**
 * Evaluation scenes for the embedded prior, at a small resolution: the five Middlebury 2014 scenes in
 * `test/data/middlebury2014-q/` (evaluation only, never trained on) and held-out procedural seeds.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from '../../../core/errors.ts';
import { readImage, toFloat } from '../../../core/io/image.ts';
import { rgbOf } from '../../../core/io/raster.ts';
import { EVAL_SEED_COUNT, TEST_SEED_START, VALIDATION_SEED_START, generateScene } from '../procedural-scenes.ts';
import { loadTextureImages } from '../scene/texture-images.ts';
import type { TextureImage } from '../scene/textures.ts';

export const MIDDLEBURY_DIR = fileURLToPath(new URL('../../../test/data/middlebury2014-q/', import.meta.url));

/** An RGB-D evaluation sample: rgb [H, W, 3] in [0, 1], metric depth [H, W] (0 = invalid). */
export interface EvalScene {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
  readonly depthM: Float32Array;
}

/** Output size with long side `longSide`, aspect kept (Marigold's `h * res // max(h, w)`). */
export function fitLongSide(width: number, height: number, longSide: number): [number, number] {
  const m = Math.max(width, height);
  return [Math.max(1, Math.floor((width * longSide) / m)), Math.max(1, Math.floor((height * longSide) / m))];
}

/** Box (area) downscale of an [H, W, C] float image. */
export function areaResize(src: Float32Array, w: number, h: number, c: number, ow: number, oh: number): Float32Array {
  const out = new Float32Array(ow * oh * c);
  const sx = w / ow;
  const sy = h / oh;
  for (let i = 0; i < oh; i++) {
    const y0 = i * sy;
    const y1 = y0 + sy;
    for (let j = 0; j < ow; j++) {
      const x0 = j * sx;
      const x1 = x0 + sx;
      let wsum = 0;
      const acc = new Float64Array(c);
      for (let y = Math.floor(y0); y < Math.min(h, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(w, Math.ceil(x1)); x++) {
          const wt = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          if (wt <= 0) continue;
          wsum += wt;
          for (let k = 0; k < c; k++) acc[k]! += wt * src[(y * w + x) * c + k]!;
        }
      }
      for (let k = 0; k < c; k++) out[(i * ow + j) * c + k] = acc[k]! / wsum;
    }
  }
  return out;
}

/** Nearest sample at each output pixel's footprint centre (keeps depth edges and the 0 = invalid code). */
export function nearestResize(src: Float32Array, w: number, h: number, ow: number, oh: number): Float32Array {
  const out = new Float32Array(ow * oh);
  for (let i = 0; i < oh; i++) {
    const y = Math.min(h - 1, Math.floor((i + 0.5) * (h / oh)));
    for (let j = 0; j < ow; j++) out[i * ow + j] = src[y * w + Math.min(w - 1, Math.floor((j + 0.5) * (w / ow)))]!;
  }
  return out;
}

/** Names of the Middlebury scenes present. */
export function middleburyScenes(dir = MIDDLEBURY_DIR): string[] {
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, 'im0.png')) && existsSync(join(dir, n, 'depth0_mm.png')))
    .sort();
}

/** One Middlebury scene (left view, metric depth from `depth0_mm.png`) at long side `longSide`. */
export function loadMiddlebury(name: string, longSide: number, dir = MIDDLEBURY_DIR): EvalScene {
  const img = readImage(join(dir, name, 'im0.png'));
  const dep = readImage(join(dir, name, 'depth0_mm.png'));
  check(dep.channels === 1 && dep.bitDepth === 16, () => 'depth0_mm.png must be 16-bit grey', { file: join(dir, name) });
  check(img.width === dep.width && img.height === dep.height, () => 'image and depth sizes differ', { file: join(dir, name) });
  const { width: w, height: h } = img;
  const rgb = rgbOf(toFloat(img)).data;
  const depthM = Float32Array.from(dep.data, (v) => v / 1000);
  const [ow, oh] = fitLongSide(w, h, longSide);
  return { name: `middlebury/${name}`, width: ow, height: oh, rgb: areaResize(rgb, w, h, 3, ow, oh), depthM: nearestResize(depthM, w, h, ow, oh) };
}

let defaultTextures: TextureImage[] | undefined;

/** Held-out procedural sets: `test` (what the tables report) and `validation` (where settings are chosen). */
export type ProceduralSplit = 'test' | 'validation';
export const PROCEDURAL_SPLITS: readonly ProceduralSplit[] = ['test', 'validation'];
/**
 * The validation split starts this far past VALIDATION_SEED_START: the seeds before it are the training
 * log's monitoring scenes (train-prior `--val-scenes`, 8 by default), which a choice should not reuse.
 */
export const VALIDATION_SPLIT_OFFSET = 16;

/**
 * Held-out procedural scene `k` at `width` x `height`, drawn from the same generator as the training scenes
 * (natural texture patches included unless `textureImages` says otherwise): seed TEST_SEED_START + k for the
 * `test` split, VALIDATION_SEED_START + VALIDATION_SPLIT_OFFSET + k for `validation`.
 */
export function heldOutProcedural(
  k: number,
  width: number,
  height: number,
  textureImages?: readonly TextureImage[],
  split: ProceduralSplit = 'test',
): EvalScene {
  check(Number.isInteger(k) && k >= 0 && k < EVAL_SEED_COUNT, () => `held-out scene index must be an integer in [0, ${EVAL_SEED_COUNT}), got ${k}`, { key: 'procedural' });
  check(PROCEDURAL_SPLITS.includes(split), () => `expected one of ${PROCEDURAL_SPLITS.join(', ')}, got ${String(split)}`, { key: 'split' });
  const seed = split === 'test' ? TEST_SEED_START + k : VALIDATION_SEED_START + VALIDATION_SPLIT_OFFSET + k;
  const s = generateScene(seed, { width, height, textureImages: textureImages ?? (defaultTextures ??= loadTextureImages()) });
  return { name: `procedural/${seed}-${s.kind}`, width, height, rgb: s.rgb, depthM: s.depth };
}
