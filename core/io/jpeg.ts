import jpeg from 'jpeg-js';
import { ApertureDepthError } from '../errors.ts';
import { errorText, readFileBytes } from './file-bytes.ts';
import type { RasterImage } from './raster.ts';

/** Limits applied before a JPEG's pixels are allocated. */
export interface JpegReadOptions {
  /**
   * Largest accepted `width * height`, in megapixels.
   * @default 100
   */
  maxMegapixels?: number;
  /**
   * Memory the decoder may use (its coefficient buffers and the output), in MB.
   * @default 1024
   */
  maxMemoryUsageInMB?: number;
}

/** SOF markers jpeg-js decodes: baseline, extended sequential, progressive (Huffman). */
const SUPPORTED_SOF = new Set([0xc0, 0xc1, 0xc2]);
const OTHER_SOF = new Set([0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Reads a JPEG file as 8-bit RGB (greyscale JPEGs are expanded to three equal channels). */
export function readJpeg(path: string, options: JpegReadOptions = {}): RasterImage {
  return decodeJpeg(readFileBytes(path, 'JPEG'), path, options);
}

/**
 * Decodes JPEG bytes to 8-bit RGB. The frame header is checked against the limits (and against what
 * the file size can hold) before the decoder allocates anything. Decoding is strict (jpeg-js
 * `tolerantDecoding` off): a file without an end-of-image marker or with broken entropy data is refused
 * rather than returned with grey rows.
 */
export function decodeJpeg(bytes: Uint8Array, name: string, options: JpegReadOptions = {}): RasterImage {
  const maxMegapixels = options.maxMegapixels ?? 100;
  const maxMemoryUsageInMB = options.maxMemoryUsageInMB ?? 1024;
  const fail = (msg: string, cause?: unknown) => new ApertureDepthError(msg, { file: name, cause });
  if (bytes.length === 0) throw fail('empty file, expected a JPEG');
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8)
    throw fail('not a JPEG file (no start-of-image marker)');

  const frame = readFrameHeader(bytes, fail);
  if (frame.width === 0 || frame.height === 0) throw fail(`invalid size ${frame.width}x${frame.height}`);
  if (frame.width * frame.height > maxMegapixels * 1e6) {
    throw fail(`size ${frame.width}x${frame.height} exceeds the limit of ${maxMegapixels} megapixels`);
  }
  // Huffman coding spends at least one bit per 8x8 block of the full-resolution component, so a file
  // cannot hold more than 512 pixels per byte: a header claiming more is corrupt (and slow to decode).
  if (frame.width * frame.height > bytes.length * 512) {
    throw fail(
      `header claims ${frame.width}x${frame.height} pixels, more than a ${bytes.length}-byte JPEG can hold`,
    );
  }
  if (!hasEndMarker(bytes)) throw fail('truncated: no end-of-image marker');

  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: maxMegapixels,
      maxMemoryUsageInMB,
    });
  } catch (err) {
    const text = errorText(err);
    throw fail(
      /limit exceeded|allocate/.test(text) ? `too large to decode: ${text}` : `corrupt JPEG: ${text}`,
      err,
    );
  }
  const { width, height, data } = decoded;
  if (width !== frame.width || height !== frame.height || data.length !== width * height * 3) {
    throw fail(
      `corrupt JPEG: decoded ${width}x${height} (${data.length} bytes) for a ${frame.width}x${frame.height} header`,
    );
  }
  return { width, height, channels: 3, bitDepth: 8, data };
}

/** Walks the marker segments up to the first start-of-frame and returns its size. */
function readFrameHeader(
  bytes: Uint8Array,
  fail: (msg: string) => ApertureDepthError,
): { width: number; height: number } {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) throw fail(`corrupt: expected a marker at byte ${pos}`);
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) throw fail('corrupt: no frame header before the image data');
    const length = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    if (length < 2 || pos + 2 + length > bytes.length) {
      throw fail(
        `truncated: segment 0xFF${marker.toString(16).toUpperCase()} at byte ${pos} claims ${length} bytes`,
      );
    }
    if (SUPPORTED_SOF.has(marker)) {
      if (length < 8) throw fail('corrupt frame header');
      const height = (bytes[pos + 5]! << 8) | bytes[pos + 6]!;
      const width = (bytes[pos + 7]! << 8) | bytes[pos + 8]!;
      return { width, height };
    }
    if (OTHER_SOF.has(marker)) {
      throw fail(
        `unsupported JPEG coding (SOF 0xFF${marker.toString(16).toUpperCase()}: lossless or arithmetic)`,
      );
    }
    pos += 2 + length;
  }
  throw fail('truncated: no frame header');
}

function hasEndMarker(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 2; i >= 2; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}
