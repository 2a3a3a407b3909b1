/** An 8-bit RGB image, row-major HWC. */
export interface Rgb8 {
  width: number;
  height: number;
  data: Uint8Array;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Turbo colour map (Google's, 2019) by its published polynomial fit: 0 = dark blue (near), 1 = dark red (far).
 * Returns [r, g, b] in 0..255.
 */
export function turbo(t: number): [number, number, number] {
  const x = clamp01(t);
  const r =
    0.13572138 +
    x * (4.6153926 + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943))));
  const g =
    0.09140261 + x * (2.19418839 + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604))));
  const b =
    0.1066733 +
    x * (12.64194608 + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973))));
  return [Math.round(clamp01(r) * 255), Math.round(clamp01(g) * 255), Math.round(clamp01(b) * 255)];
}

/** A black-red-yellow-white ramp for errors (0 = black). */
export function hot(t: number): [number, number, number] {
  const x = clamp01(t);
  return [
    Math.round(clamp01(3 * x) * 255),
    Math.round(clamp01(3 * x - 1) * 255),
    Math.round(clamp01(3 * x - 2) * 255),
  ];
}

/** Colour of pixels without a value (no ground truth, NaN). */
export const INVALID_RGB: readonly [number, number, number] = [128, 128, 128];

/**
 * Colours a scalar map: `(v - lo) / (hi - lo)` through `map`; non-finite values (and 0 in `mask`) grey.
 */
export function colorize(
  values: ArrayLike<number>,
  width: number,
  height: number,
  lo: number,
  hi: number,
  map: (t: number) => [number, number, number] = turbo,
  mask?: ArrayLike<number>,
): Rgb8 {
  const data = new Uint8Array(width * height * 3);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < width * height; i++) {
    const v = values[i]!;
    const c = Number.isFinite(v) && (!mask || mask[i]) ? map((v - lo) / span) : INVALID_RGB;
    data[i * 3] = c[0];
    data[i * 3 + 1] = c[1];
    data[i * 3 + 2] = c[2];
  }
  return { width, height, data };
}

/** A linear-light RGB image (floats, any scale) to 8-bit sRGB for display, after dividing by `white`. */
export function linearToDisplay(
  data: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  white = 1,
): Rgb8 {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = clamp01(data[i * channels + (channels === 1 ? 0 : c)]! / white);
      const s = v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055;
      out[i * 3 + c] = Math.round(clamp01(s) * 255);
    }
  }
  return { width, height, data: out };
}

/** Robust display range of a map: the `pLo` and `pHi` quantiles of its finite values. */
export function robustRange(
  values: ArrayLike<number>,
  pLo = 0.02,
  pHi = 0.98,
  mask?: ArrayLike<number>,
): [number, number] {
  const v: number[] = [];
  for (let i = 0; i < values.length; i++)
    if (Number.isFinite(values[i]!) && (!mask || mask[i])) v.push(values[i]!);
  if (v.length === 0) return [0, 1];
  v.sort((a, b) => a - b);
  const at = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.round(p * (v.length - 1))))]!;
  const lo = at(pLo);
  const hi = at(pHi);
  return hi > lo ? [lo, hi] : [lo, lo + 1e-6];
}
