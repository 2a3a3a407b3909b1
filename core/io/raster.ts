import { ApertureDepthError } from '../errors.ts';

/**
 * A decoded raster image, row-major HWC: pixel (x, y) channel c is `data[(y * width + x) * channels + c]`.
 * `data` is a `Uint8Array` when `bitDepth` is 8 and a `Uint16Array` when it is 16.
 *
 * @example `{ width: 347, height: 277, channels: 1, bitDepth: 16, data: Uint16Array(96119) }`
 */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array;
  /**
   * The value that means full scale, when it is not `2^bitDepth - 1` (a PGM with `maxval` 1023, say).
   * @default 255 for 8-bit, 65535 for 16-bit
   */
  maxValue?: number;
}

/** A raster converted to floats in [0, 1], same HWC layout. */
export interface FloatImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Float32Array;
}

/** The RGB channels of an image in [0, 1], `[H, W, 3]`: grey is repeated, alpha dropped. */
export function rgbOf(img: FloatImage): FloatImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = img.data[i * img.channels + (img.channels === 1 ? 0 : c)]!;
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** The full-scale value of `img` (what 1.0 maps to). */
export function fullScale(img: RasterImage): number {
  return img.maxValue ?? (img.bitDepth === 16 ? 65535 : 255);
}

/** Checks a raster before a writer touches it; errors name the file being written. */
export function checkRasterImage(img: RasterImage, file: string): void {
  const fail = (msg: string) => new ApertureDepthError(msg, { file, key: 'image' });
  if (!img || typeof img !== 'object')
    throw fail('expected a RasterImage { width, height, channels, bitDepth, data }');
  for (const k of ['width', 'height'] as const) {
    if (!Number.isSafeInteger(img[k]) || img[k] < 1)
      throw fail(`${k} must be a positive integer, got ${img[k]}`);
  }
  if (![1, 3, 4].includes(img.channels)) throw fail(`channels must be 1, 3 or 4, got ${img.channels}`);
  if (img.bitDepth !== 8 && img.bitDepth !== 16) throw fail(`bitDepth must be 8 or 16, got ${img.bitDepth}`);
  const want = img.bitDepth === 8 ? Uint8Array : Uint16Array;
  if (!(img.data instanceof want)) throw fail(`bitDepth ${img.bitDepth} needs a ${want.name} for data`);
  const n = img.width * img.height * img.channels;
  if (img.data.length !== n) {
    throw fail(`${img.width}x${img.height}x${img.channels} needs ${n} samples, data has ${img.data.length}`);
  }
}
