import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { ApertureDepthError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { errorText, readFileBytes } from './file-bytes.ts';
import { crc32 } from './crc32.ts';
import { inflatedSizeOf, unfilterAndUnpack, type PngHeader } from './png-pixels.ts';
import { checkRasterImage, type RasterImage } from './raster.ts';

/** Limits applied before a PNG's pixels are allocated. */
export interface PngReadOptions {
  /**
   * Largest accepted `width * height`.
   * @default 2 ** 27 (134 megapixels)
   */
  maxPixels?: number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** zlib's deflate cannot expand more than about 1032:1, so a header claiming more is a lie. */
const MAX_INFLATE_RATIO = 1032;
const DEPTHS_BY_COLOR_TYPE: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/**
 * Reads a PNG file. Output channels by PNG colour type:
 * grey → 1, grey+alpha → 1 (the alpha is dropped: depth maps and masks have no use for it),
 * RGB → 3, RGBA → 4, palette → 3 (4 when a `tRNS` chunk gives alpha).
 * 16-bit files stay 16-bit (`Uint16Array`); 1/2/4-bit grey and palette files are expanded to 8-bit.
 * A `tRNS` colour key on grey/RGB files is ignored, so sample values are never altered. Interlaced files
 * are de-interlaced. Every chunk CRC is checked. (Decoding is done here on node:zlib; pngjs only encodes.)
 */
export function readPng(path: string, options: PngReadOptions = {}): RasterImage {
  return decodePng(readFileBytes(path, 'PNG'), path, options);
}

/** Decodes PNG bytes; `name` is used in error messages (a path or a label). */
export function decodePng(bytes: Uint8Array, name: string, options: PngReadOptions = {}): RasterImage {
  const maxPixels = options.maxPixels ?? 2 ** 27;
  const fail = (msg: string, cause?: unknown) => new ApertureDepthError(msg, { file: name, cause });
  if (bytes.length === 0) throw fail('empty file, expected a PNG');
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b))
    throw fail('not a PNG file (bad signature)');

  // 1. Walk the chunk list: every length must fit in the file, IHDR first, IEND last.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let header: PngHeader | undefined;
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  for (let sawEnd = false; !sawEnd;) {
    if (pos + 8 > bytes.length)
      throw fail(`truncated: ${header ? 'no IEND chunk' : 'no IHDR chunk'} before end of file`);
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw fail(`corrupt chunk type at byte ${pos + 4}`);
    if (length > 2 ** 31 - 1 || pos + 12 + length > bytes.length) {
      throw fail(
        `truncated: chunk ${type} at byte ${pos} claims ${length} bytes, the file has ${bytes.length - pos - 12} left`,
      );
    }
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + length)) !== view.getUint32(pos + 8 + length)) {
      throw fail(`corrupt: CRC mismatch in chunk ${type} at byte ${pos}`);
    }
    if (!header && type !== 'IHDR') throw fail(`first chunk is ${type}, expected IHDR`);
    if (type === 'IHDR') {
      if (header) throw fail('more than one IHDR chunk');
      if (length !== 13) throw fail(`IHDR chunk has ${length} bytes, expected 13`);
      header = {
        width: view.getUint32(pos + 8),
        height: view.getUint32(pos + 12),
        depth: data[8]!,
        colorType: data[9]!,
        interlace: data[12]!,
      };
      if (data[10] !== 0 || data[11] !== 0) throw fail('unknown compression or filter method in IHDR');
    } else if (type === 'IDAT') {
      idat.push(data);
      idatBytes += length;
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IEND') sawEnd = true;
    pos += 12 + length;
  }
  const h = header!;
  const { width, height, depth, colorType } = h;

  // 2. Check the header's claims before anything is allocated.
  if (width < 1 || height < 1 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1)
    throw fail(`invalid size ${width}x${height}`);
  if (!(colorType in DEPTHS_BY_COLOR_TYPE)) throw fail(`invalid colour type ${colorType}`);
  if (!DEPTHS_BY_COLOR_TYPE[colorType]!.includes(depth))
    throw fail(`bit depth ${depth} is invalid for colour type ${colorType}`);
  if (h.interlace > 1) throw fail(`invalid interlace method ${h.interlace}`);
  if (width * height > maxPixels) {
    throw fail(`size ${width}x${height} exceeds the limit of ${maxPixels} pixels (PngReadOptions.maxPixels)`);
  }
  if (idatBytes === 0) throw fail('no IDAT chunk (no pixel data)');
  const inflatedSize = inflatedSizeOf(h);
  if (inflatedSize > idatBytes * MAX_INFLATE_RATIO + 1024) {
    throw fail(
      `header claims ${width}x${height} pixels (${inflatedSize} bytes) but the file holds only ${idatBytes} compressed bytes`,
    );
  }
  if (colorType === 3) {
    if (!palette || palette.length === 0 || palette.length % 3 !== 0 || palette.length > 768) {
      throw fail(
        palette
          ? `PLTE chunk has ${palette.length} bytes, expected 3 per entry, at most 256 entries`
          : 'palette image without a PLTE chunk',
      );
    }
  }

  // 3. Inflate (stopping at the size the header implies), unfilter, unpack.
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), {
      maxOutputLength: Math.max(inflatedSize, 1),
      finishFlush: zlibConstants.Z_SYNC_FLUSH, // tolerate a missing end-of-stream checksum, not missing pixels
    });
  } catch (err) {
    const tooBig = (err as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE';
    throw fail(
      tooBig ? 'corrupt: more pixel data than the header says' : `corrupt pixel data: ${errorText(err)}`,
      err,
    );
  }
  if (inflated.length !== inflatedSize) {
    throw fail(`truncated pixel data: ${inflated.length} of ${inflatedSize} bytes after inflation`);
  }
  let samples: Uint8Array | Uint16Array;
  try {
    samples = unfilterAndUnpack(h, inflated);
  } catch (err) {
    throw fail(`corrupt pixel data: ${errorText(err)}`, err);
  }
  return toRaster(h, samples, palette, trns, fail);
}

/** PNG samples → the output channels (see `readPng`). */
function toRaster(
  h: PngHeader,
  samples: Uint8Array | Uint16Array,
  palette: Uint8Array | undefined,
  trns: Uint8Array | undefined,
  fail: (msg: string) => ApertureDepthError,
): RasterImage {
  const { width, height, depth, colorType } = h;
  const n = width * height;
  const bitDepth = depth === 16 ? 16 : 8;
  if (colorType === 3) {
    const entries = palette!.length / 3;
    const channels = trns ? 4 : 3;
    const out = new Uint8Array(n * channels);
    for (let i = 0; i < n; i++) {
      const k = samples[i]!;
      if (k >= entries)
        throw fail(
          `corrupt pixel data: palette index ${k} at pixel ${i}, the palette has ${entries} entries`,
        );
      out[i * channels] = palette![3 * k]!;
      out[i * channels + 1] = palette![3 * k + 1]!;
      out[i * channels + 2] = palette![3 * k + 2]!;
      if (channels === 4) out[i * 4 + 3] = k < trns!.length ? trns![k]! : 255;
    }
    return { width, height, channels, bitDepth: 8, data: out };
  }
  if (colorType === 0 && depth < 8) {
    const scale = 255 / ((1 << depth) - 1);
    return { width, height, channels: 1, bitDepth: 8, data: Uint8Array.from(samples, (v) => v * scale) };
  }
  if (colorType === 4) {
    const out = bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = samples[2 * i]!;
    return { width, height, channels: 1, bitDepth, data: out };
  }
  const channels = colorType === 0 ? 1 : colorType === 2 ? 3 : 4;
  return { width, height, channels, bitDepth, data: samples };
}

/** Encodes a raster as PNG bytes (grey, RGB or RGBA; 8 or 16 bit). `maxValue` is not stored. */
export function encodePng(img: RasterImage, name = 'PNG image'): Uint8Array {
  checkRasterImage(img, name);
  const colorType = img.channels === 1 ? 0 : img.channels === 3 ? 2 : 6;
  // pngjs reads 16-bit input through `new Uint16Array(data.buffer)`, so hand it an exact, aligned copy.
  const data =
    img.bitDepth === 16
      ? Buffer.from(new Uint16Array(img.data).buffer)
      : Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  try {
    const png = PNG.sync.write({ width: img.width, height: img.height, data } as PNG, {
      colorType,
      inputColorType: colorType,
      inputHasAlpha: img.channels === 4,
      bitDepth: img.bitDepth,
      deflateLevel: 6,
    });
    return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  } catch (err) {
    throw new ApertureDepthError(`PNG encoding failed: ${errorText(err)}`, { file: name, cause: err });
  }
}

/** Writes a raster as a PNG file, atomically (temp file, then rename). */
export function writePng(path: string, img: RasterImage): void {
  writeFileAtomic(path, encodePng(img, path));
}
