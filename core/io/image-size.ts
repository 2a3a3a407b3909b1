import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ApertureDepthError } from '../errors.ts';
import { fsReason } from './file-bytes.ts';

/**
 * The width and height of a PNG, JPEG or binary PPM/PGM file read from its header alone (a few positioned
 * reads, never the pixels), so a run can check its memory budget before decoding anything.
 *
 * @example imageSize('test/data/middlebury2014-q/ArtL/im0.png') // { width: 347, height: 277 }
 */
export function imageSize(path: string): { width: number; height: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ApertureDepthError(`image ${fsReason(err)}`, { file: path, cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new ApertureDepthError('is not a regular file, expected an image', { file: path });
    const read = (position: number, length: number): Uint8Array => {
      const buf = new Uint8Array(Math.max(0, Math.min(length, st.size - position)));
      if (buf.length > 0) readSync(fd, buf, 0, buf.length, position);
      return buf;
    };
    const head = read(0, 32);
    const fail = (why: string) =>
      new ApertureDepthError(`cannot read the image size: ${why}`, { file: path });
    if (head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) {
      // 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
      if (head.length < 24 || String.fromCharCode(...head.subarray(12, 16)) !== 'IHDR')
        throw fail('PNG without IHDR');
      const view = new DataView(head.buffer);
      return checked(view.getUint32(16), view.getUint32(20), path);
    }
    if (head[0] === 0xff && head[1] === 0xd8) return jpegSize(read, st.size, fail, path);
    if (head[0] === 0x50 && (head[1] === 0x35 || head[1] === 0x36)) {
      const text = Buffer.from(read(0, 1024))
        .toString('latin1')
        .replace(/#[^\n\r]*/g, ' ');
      const m = /^P[56]\s+(\d{1,9})\s+(\d{1,9})\s/.exec(text);
      if (!m) throw fail('PPM/PGM header without width and height');
      return checked(Number(m[1]), Number(m[2]), path);
    }
    throw fail('not a PNG, JPEG or binary PPM/PGM file (unknown magic bytes)');
  } finally {
    closeSync(fd);
  }
}

function checked(width: number, height: number, file: string): { width: number; height: number } {
  if (!(width >= 1 && height >= 1))
    throw new ApertureDepthError(`invalid image size ${width}x${height}`, { file });
  return { width, height };
}

/** Walks the JPEG segments (each has a 2-byte length) to the first SOFn marker, which holds the size. */
function jpegSize(
  read: (position: number, length: number) => Uint8Array,
  fileSize: number,
  fail: (why: string) => ApertureDepthError,
  file: string,
): { width: number; height: number } {
  let pos = 2;
  for (let segments = 0; segments < 10000 && pos + 4 <= fileSize; segments++) {
    const m = read(pos, 9);
    if (m[0] !== 0xff) throw fail(`JPEG marker expected at byte ${pos}`);
    const marker = m[1]!;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): [len:2][precision:1][height:2][width:2]
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (m.length < 9) throw fail('truncated SOF segment');
      return checked((m[7]! << 8) | m[8]!, (m[5]! << 8) | m[6]!, file);
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image, or scan data before any SOF
    const length = (m[2]! << 8) | m[3]!;
    if (length < 2) throw fail(`JPEG segment of length ${length} at byte ${pos}`);
    pos += 2 + length;
  }
  throw fail('JPEG without a frame header (SOF)');
}
