/**
 * The natural images the procedural scenes may cut texture patches from (declared training data): the three
 * Open3D RGB-D colour frames (TUM, SUN RGB-D, NYU; MIT, see test/data/open3d-rgbd/README.txt). Only their
 * colours are used, never their depth, and none of them is an evaluation scene.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readImage, toFloat } from '../../../core/io/image.ts';
import type { TextureImage } from './textures.ts';

export const TEXTURE_IMAGE_FILES = Object.freeze(['TUM_color.png', 'SUN_color.jpg', 'NYU_color.ppm'] as const);

const DEFAULT_DIR = fileURLToPath(new URL('../../../test/data/open3d-rgbd/', import.meta.url));

/** Loads the texture source images, box-downscaled by `downscale` (default 2, 640x480 -> 320x240). */
export function loadTextureImages(dir = DEFAULT_DIR, downscale = 2): TextureImage[] {
  return TEXTURE_IMAGE_FILES.map((name) => {
    const img = toFloat(readImage(join(dir, name)));
    const w = Math.floor(img.width / downscale);
    const h = Math.floor(img.height / downscale);
    const rgb = new Float32Array(w * h * 3);
    const c = img.channels;
    const norm = 1 / (downscale * downscale);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < 3; k++) {
          let s = 0;
          for (let dy = 0; dy < downscale; dy++) {
            for (let dx = 0; dx < downscale; dx++) {
              s += img.data[((y * downscale + dy) * img.width + x * downscale + dx) * c + Math.min(k, c - 1)]!;
            }
          }
          rgb[(y * w + x) * 3 + k] = s * norm;
        }
      }
    }
    return { name, width: w, height: h, rgb };
  });
}
