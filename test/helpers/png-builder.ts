/**
 * Builds PNG files chunk by chunk, for the cases pngjs cannot write (palette, 1/2/4-bit, grey+alpha,
 * interlaced, tRNS) and for making corrupt files with valid CRCs.
 */
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../core/io/crc32.ts';

/** One chunk: length, type, data, CRC over type + data. */
export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function ihdr(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  interlace = 0,
): Uint8Array {
  const d = new Uint8Array(13);
  const view = new DataView(d.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  d.set([depth, colorType, 0, 0, interlace], 8);
  return chunk('IHDR', d);
}

export interface PngSpec {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** Samples per pixel in the PNG (1 grey/palette, 2 grey+alpha, 3 RGB, 4 RGBA). */
  samples: number;
  /** Sample values, row-major, one number per sample (before bit packing). */
  values: number[];
  interlace?: boolean;
  palette?: [number, number, number][];
  trns?: Uint8Array;
}

/** Packs one row of samples at `depth` bits with filter type 0. */
function packRow(values: number[], depth: number): number[] {
  const bytes: number[] = [0];
  if (depth === 16) for (const v of values) bytes.push(v >> 8, v & 0xff);
  else if (depth === 8) bytes.push(...values);
  else {
    let acc = 0;
    let bits = 0;
    for (const v of values) {
      acc = (acc << depth) | v;
      bits += depth;
      if (bits === 8) {
        bytes.push(acc);
        acc = 0;
        bits = 0;
      }
    }
    if (bits > 0) bytes.push(acc << (8 - bits));
  }
  return bytes;
}

const ADAM7: [number, number, number, number][] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

export function buildPng(spec: PngSpec): Uint8Array {
  const { width, height, depth, samples, values } = spec;
  const sample = (x: number, y: number) =>
    values.slice((y * width + x) * samples, (y * width + x + 1) * samples);
  const raw: number[] = [];
  if (!spec.interlace) {
    for (let y = 0; y < height; y++)
      raw.push(...packRow(values.slice(y * width * samples, (y + 1) * width * samples), depth));
  } else {
    for (const [x0, y0, dx, dy] of ADAM7) {
      for (let y = y0; y < height; y += dy) {
        const row: number[] = [];
        for (let x = x0; x < width; x += dx) row.push(...sample(x, y));
        if (row.length > 0) raw.push(...packRow(row, depth));
      }
    }
  }
  const parts = [PNG_SIGNATURE, ihdr(width, height, depth, spec.colorType, spec.interlace ? 1 : 0)];
  if (spec.palette) parts.push(chunk('PLTE', new Uint8Array(spec.palette.flat())));
  if (spec.trns) parts.push(chunk('tRNS', spec.trns));
  parts.push(
    chunk('IDAT', new Uint8Array(deflateSync(new Uint8Array(raw)))),
    chunk('IEND', new Uint8Array(0)),
  );
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Recomputes every chunk CRC it can reach, so mutations get past the CRC check to the decoder. */
export function fixPngCrcs(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  let pos = 8;
  while (pos + 12 <= out.length) {
    const len = view.getUint32(pos);
    if (pos + 12 + len > out.length) break;
    view.setUint32(pos + 8 + len, crc32(out.subarray(pos + 4, pos + 8 + len)));
    pos += 12 + len;
  }
  return out;
}
