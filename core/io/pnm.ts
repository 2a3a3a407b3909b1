import { ApertureDepthError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { readFileBytes } from './file-bytes.ts';
import { checkRasterImage, fullScale, type RasterImage } from './raster.ts';

/** Limits applied before a PNM's pixels are allocated. */
export interface PnmReadOptions {
  /** @default 2 ** 27 */
  maxPixels?: number;
}

/**
 * Reads a binary PGM (`P5`, grey) or PPM (`P6`, RGB) file, 8-bit (maxval ≤ 255) or 16-bit big-endian
 * (maxval ≤ 65535), e.g. the NYU frames of the Open3D test data. Samples are returned as stored; a maxval
 * other than 255/65535 is kept in `maxValue` so `toFloat` scales by it.
 */
export function readPnm(path: string, options: PnmReadOptions = {}): RasterImage {
  return decodePnm(readFileBytes(path, 'PPM/PGM'), path, options);
}

/** True when `bytes` start like a binary or ASCII Netpbm file. */
export function looksLikePnm(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x50 /* P */ && bytes[1]! >= 0x31 && bytes[1]! <= 0x37;
}

export function decodePnm(bytes: Uint8Array, name: string, options: PnmReadOptions = {}): RasterImage {
  const maxPixels = options.maxPixels ?? 2 ** 27;
  const fail = (msg: string) => new ApertureDepthError(msg, { file: name });
  if (bytes.length === 0) throw fail('empty file, expected a PPM/PGM');
  if (!looksLikePnm(bytes)) throw fail('not a PPM/PGM file (bad magic)');
  const kind = String.fromCharCode(bytes[0]!, bytes[1]!);
  if (kind !== 'P5' && kind !== 'P6') {
    throw fail(`Netpbm type ${kind} is not supported (only binary P5 greymaps and P6 pixmaps)`);
  }

  // Header: magic, width, height, maxval as decimal tokens; `#` comments run to the end of a line.
  let pos = 2;
  const token = (what: string): number => {
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos]!)) pos++;
      if (bytes[pos] !== 0x23 /* # */) break;
      while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
    }
    const start = pos;
    while (pos < bytes.length && bytes[pos]! >= 0x30 && bytes[pos]! <= 0x39 && pos - start < 12) pos++;
    if (pos === start)
      throw fail(pos >= bytes.length ? `truncated header (no ${what})` : `corrupt header: expected ${what}`);
    if (pos < bytes.length && !isSpace(bytes[pos]!)) throw fail(`corrupt header: ${what} is not a number`);
    return Number(String.fromCharCode(...bytes.subarray(start, pos)));
  };
  const width = token('width');
  const height = token('height');
  const maxval = token('maxval');
  if (pos >= bytes.length) throw fail('truncated: no pixel data after the header');
  pos++; // the single whitespace byte that ends the header

  if (width < 1 || height < 1) throw fail(`invalid size ${width}x${height}`);
  if (maxval < 1 || maxval > 65535) throw fail(`maxval ${maxval} is outside 1..65535`);
  if (width * height > maxPixels)
    throw fail(`size ${width}x${height} exceeds the limit of ${maxPixels} pixels`);
  const channels = kind === 'P6' ? 3 : 1;
  const bytesPerSample = maxval > 255 ? 2 : 1;
  const need = width * height * channels * bytesPerSample;
  if (bytes.length - pos < need) {
    throw fail(
      `truncated: header claims ${width}x${height}x${channels} (${need} bytes), the file has ${bytes.length - pos}`,
    );
  }

  const n = width * height * channels;
  let data: Uint8Array | Uint16Array;
  if (bytesPerSample === 1) data = bytes.slice(pos, pos + n);
  else {
    data = new Uint16Array(n);
    for (let i = 0, p = pos; i < n; i++, p += 2) data[i] = (bytes[p]! << 8) | bytes[p + 1]!;
  }
  const img: RasterImage = { width, height, channels, bitDepth: bytesPerSample === 2 ? 16 : 8, data };
  if (maxval !== 255 && maxval !== 65535) img.maxValue = maxval;
  return img;
}

/** Encodes a 1-channel raster as P5 or a 3-channel raster as P6 (16-bit samples big-endian). */
export function encodePnm(img: RasterImage, name = 'PNM image'): Uint8Array {
  checkRasterImage(img, name);
  if (img.channels === 4)
    throw new ApertureDepthError('PPM/PGM has no alpha: expected 1 or 3 channels', { file: name });
  const maxval = fullScale(img);
  const header = new TextEncoder().encode(
    `${img.channels === 3 ? 'P6' : 'P5'}\n${img.width} ${img.height}\n${maxval}\n`,
  );
  const bps = maxval > 255 ? 2 : 1;
  const out = new Uint8Array(header.length + img.data.length * bps);
  out.set(header);
  if (bps === 1) out.set(img.data, header.length);
  else {
    for (let i = 0, p = header.length; i < img.data.length; i++, p += 2) {
      out[p] = img.data[i]! >> 8;
      out[p + 1] = img.data[i]! & 0xff;
    }
  }
  return out;
}

/** Writes a PGM/PPM file atomically. */
export function writePnm(path: string, img: RasterImage): void {
  writeFileAtomic(path, encodePnm(img, path));
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}
