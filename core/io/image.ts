import { ApertureDepthError } from '../errors.ts';
import { readFileBytes } from './file-bytes.ts';
import { decodeJpeg } from './jpeg.ts';
import { decodePng } from './png.ts';
import { decodePnm, looksLikePnm } from './pnm.ts';
import { fullScale, type FloatImage, type RasterImage } from './raster.ts';

/** Limits shared by the image decoders. */
export interface ImageReadOptions {
  /** @default 2 ** 27 (134 megapixels) */
  maxPixels?: number;
}

/**
 * Reads a PNG, JPEG or binary PPM/PGM file, chosen by its magic bytes (not its extension).
 * @example readImage('test/data/open3d-rgbd/NYU_depth.pgm') // { width: 640, height: 480, channels: 1, bitDepth: 16, ... }
 */
export function readImage(path: string, options: ImageReadOptions = {}): RasterImage {
  return decodeImage(readFileBytes(path, 'image'), path, options);
}

/** Decodes image bytes by magic number; `name` is used in error messages. */
export function decodeImage(bytes: Uint8Array, name: string, options: ImageReadOptions = {}): RasterImage {
  const maxPixels = options.maxPixels ?? 2 ** 27;
  if (bytes.length === 0) throw new ApertureDepthError('empty file, expected an image', { file: name });
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return decodePng(bytes, name, { maxPixels });
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8)
    return decodeJpeg(bytes, name, { maxMegapixels: maxPixels / 1e6 });
  if (looksLikePnm(bytes)) return decodePnm(bytes, name, { maxPixels });
  throw new ApertureDepthError('not a PNG, JPEG or PPM/PGM file (unknown magic bytes)', { file: name });
}

/**
 * Converts samples to floats in [0, 1], dividing by the full-scale value (255, 65535, or the PNM maxval).
 */
export function toFloat(img: RasterImage): FloatImage {
  const scale = fullScale(img);
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = img.data[i]! / scale;
  return { width: img.width, height: img.height, channels: img.channels, data };
}
