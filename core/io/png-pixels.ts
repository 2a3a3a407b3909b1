/**
 * PNG pixel reconstruction after inflation: undo the per-row filters, unpack 1/2/4/8/16-bit samples,
 * undo Adam7 interlacing and expand palettes. Kept apart from `png.ts` (chunks, checks, API).
 */

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

export const SAMPLES_BY_COLOR_TYPE: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: [x0, y0, dx, dy]. */
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  w: number;
  h: number;
}

export function passesOf(h: PngHeader): Pass[] {
  if (!h.interlace) return [{ x0: 0, y0: 0, dx: 1, dy: 1, w: h.width, h: h.height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    w: Math.max(0, Math.ceil((h.width - x0) / dx)),
    h: Math.max(0, Math.ceil((h.height - y0) / dy)),
  }));
}

/** Bytes of one filtered row (without its filter-type byte). */
export function rowBytesOf(h: PngHeader, width: number): number {
  return Math.ceil((width * SAMPLES_BY_COLOR_TYPE[h.colorType]! * h.depth) / 8);
}

/** The exact inflated size the header implies. */
export function inflatedSizeOf(h: PngHeader): number {
  let total = 0;
  for (const p of passesOf(h)) if (p.w > 0 && p.h > 0) total += p.h * (1 + rowBytesOf(h, p.w));
  return total;
}

/**
 * Reconstructs the image from inflated scanlines into `samples` (one number per PNG sample, row-major,
 * `SAMPLES_BY_COLOR_TYPE` per pixel). Throws a plain Error with a reason on a bad filter type.
 */
export function unfilterAndUnpack(h: PngHeader, inflated: Uint8Array): Uint8Array | Uint16Array {
  const spp = SAMPLES_BY_COLOR_TYPE[h.colorType]!;
  const out =
    h.depth === 16 ? new Uint16Array(h.width * h.height * spp) : new Uint8Array(h.width * h.height * spp);
  const bpp = Math.max(1, (spp * h.depth) >> 3); // filter distance in bytes
  let pos = 0;
  for (const p of passesOf(h)) {
    if (p.w === 0 || p.h === 0) continue;
    const rowBytes = rowBytesOf(h, p.w);
    let prev = new Uint8Array(rowBytes);
    let cur = new Uint8Array(rowBytes);
    for (let y = 0; y < p.h; y++) {
      const filter = inflated[pos]!;
      const src = inflated.subarray(pos + 1, pos + 1 + rowBytes);
      pos += 1 + rowBytes;
      unfilterRow(filter, src, prev, cur, bpp, y);
      // Unpack the row's samples into their place in the full image.
      const outY = p.y0 + y * p.dy;
      for (let x = 0; x < p.w; x++) {
        const base = (outY * h.width + p.x0 + x * p.dx) * spp;
        for (let s = 0; s < spp; s++) out[base + s] = sampleAt(cur, x * spp + s, h.depth);
      }
      [prev, cur] = [cur, prev];
    }
  }
  return out;
}

function sampleAt(row: Uint8Array, i: number, depth: number): number {
  if (depth === 8) return row[i]!;
  if (depth === 16) return (row[2 * i]! << 8) | row[2 * i + 1]!;
  const bit = i * depth;
  const shift = 8 - depth - (bit & 7);
  return (row[bit >> 3]! >> shift) & ((1 << depth) - 1);
}

function unfilterRow(
  filter: number,
  src: Uint8Array,
  prev: Uint8Array,
  cur: Uint8Array,
  bpp: number,
  y: number,
): void {
  const n = src.length;
  switch (filter) {
    case 0:
      cur.set(src);
      return;
    case 1:
      for (let i = 0; i < n; i++) cur[i] = (src[i]! + (i >= bpp ? cur[i - bpp]! : 0)) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) cur[i] = (src[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++)
        cur[i] = (src[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? cur[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        cur[i] = (src[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return;
    default:
      throw new Error(`invalid filter type ${filter} in row ${y}`);
  }
}
