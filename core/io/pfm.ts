import { ApertureDepthError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { MAX_DECODED_BYTES, readFileBytes } from './file-bytes.ts';
import { checkNdArray, type NdArray } from './ndarray.ts';

/** A PFM image: `shape` is `[H, W]` (`Pf`, grey) or `[H, W, 3]` (`PF`, colour), rows top-down. */
export interface PfmImage extends NdArray {
  dtype: 'float32';
  data: Float32Array;
  /** |scale| from the header (its sign only gives the byte order). Middlebury files store 1/255 or 1. */
  scale: number;
}

/**
 * Reads a PFM file (the Middlebury disparity format): header `Pf`/`PF`, width height, scale (negative:
 * little-endian), then float32 rows stored bottom-up. Rows are returned top-down; `inf` (Middlebury's
 * "unknown disparity") stays `Infinity`.
 * @example readPfm('test/data/middlebury2014-q/ArtL/disp0GT.pfm') // { shape: [277, 347], dtype: 'float32', ... }
 */
export function readPfm(path: string): PfmImage {
  return decodePfm(readFileBytes(path, 'PFM'), path);
}

export function decodePfm(bytes: Uint8Array, name: string): PfmImage {
  const fail = (msg: string) => new ApertureDepthError(msg, { file: name });
  if (bytes.length === 0) throw fail('empty file, expected a PFM');
  if (bytes.length < 3 || bytes[0] !== 0x50 || (bytes[1] !== 0x66 && bytes[1] !== 0x46)) {
    throw fail('not a PFM file (expected "Pf" or "PF")');
  }
  const channels = bytes[1] === 0x46 ? 3 : 1;
  let pos = 2;
  const token = (what: string, pattern: RegExp): string => {
    const startSpace = pos;
    while (pos < bytes.length && isSpace(bytes[pos]!)) pos++;
    if (pos === startSpace) throw fail(`corrupt header: expected whitespace before ${what}`);
    const start = pos;
    while (pos < bytes.length && !isSpace(bytes[pos]!) && pos - start < 32) pos++;
    const text = String.fromCharCode(...bytes.subarray(start, pos));
    if (text === '') throw fail(`truncated header (no ${what})`);
    if (!pattern.test(text)) throw fail(`corrupt header: ${what} ${JSON.stringify(text)}`);
    return text;
  };
  const width = Number(token('width', /^\d{1,9}$/));
  const height = Number(token('height', /^\d{1,9}$/));
  const scale = Number(token('scale', /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/));
  if (pos >= bytes.length) throw fail('truncated: no pixel data after the header');
  pos++; // the single whitespace byte that ends the header
  if (width < 1 || height < 1) throw fail(`invalid size ${width}x${height}`);
  if (!Number.isFinite(scale) || scale === 0)
    throw fail(`invalid scale ${scale} (its sign gives the byte order)`);
  const n = width * height * channels;
  if (n * 4 > MAX_DECODED_BYTES) throw fail(`size ${width}x${height}x${channels} is too large`);
  if (bytes.length - pos < n * 4) {
    throw fail(
      `truncated: header claims ${width}x${height}x${channels} floats (${n * 4} bytes), the file has ${bytes.length - pos}`,
    );
  }

  const littleEndian = scale < 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos, n * 4);
  const data = new Float32Array(n);
  const rowLen = width * channels;
  for (let fileRow = 0; fileRow < height; fileRow++) {
    const outBase = (height - 1 - fileRow) * rowLen;
    const inBase = fileRow * rowLen * 4;
    for (let i = 0; i < rowLen; i++) data[outBase + i] = view.getFloat32(inBase + 4 * i, littleEndian);
  }
  return {
    shape: channels === 3 ? [height, width, 3] : [height, width],
    dtype: 'float32',
    data,
    scale: Math.abs(scale),
  };
}

/**
 * Encodes `[H, W]` or `[H, W, 3]` rows (top-down) as a little-endian PFM; float64 input is narrowed to float32.
 * `scale` is the magnitude written in the header.
 */
export function encodePfm(arr: NdArray, name = 'PFM image', scale = 1): Uint8Array {
  checkNdArray(arr, name);
  const fail = (msg: string) => new ApertureDepthError(msg, { file: name, key: 'array' });
  const [height, width, c] = arr.shape;
  const okShape =
    (arr.shape.length === 2 || (arr.shape.length === 3 && c === 3)) && height! > 0 && width! > 0;
  if (!okShape) throw fail(`PFM needs shape [H, W] or [H, W, 3], got [${arr.shape.join(', ')}]`);
  if (arr.dtype !== 'float32' && arr.dtype !== 'float64' && arr.dtype !== 'float16') {
    throw fail(`PFM stores floats, got dtype ${arr.dtype}`);
  }
  if (!(scale > 0 && Number.isFinite(scale))) throw fail(`scale must be a positive number, got ${scale}`);
  const channels = arr.shape.length === 3 ? 3 : 1;
  const header = new TextEncoder().encode(`${channels === 3 ? 'PF' : 'Pf'}\n${width} ${height}\n${-scale}\n`);
  const rowLen = width! * channels;
  const out = new Uint8Array(header.length + arr.data.length * 4);
  out.set(header);
  const view = new DataView(out.buffer, header.length);
  const src = arr.data as Float32Array | Float64Array;
  for (let fileRow = 0; fileRow < height!; fileRow++) {
    const inBase = (height! - 1 - fileRow) * rowLen;
    for (let i = 0; i < rowLen; i++) view.setFloat32((fileRow * rowLen + i) * 4, src[inBase + i]!, true);
  }
  return out;
}

/** Writes a PFM file atomically. */
export function writePfm(path: string, arr: NdArray, scale = 1): void {
  writeFileAtomic(path, encodePfm(arr, path, scale));
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}
