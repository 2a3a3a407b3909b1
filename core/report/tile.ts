import type { Rgb8 } from './colormap.ts';

/** Panels side by side with a `gap`-pixel white gutter, top-aligned on a white background. */
export function tileHorizontal(panels: readonly Rgb8[], gap = 4): Rgb8 {
  const height = Math.max(...panels.map((p) => p.height));
  const width = panels.reduce((s, p) => s + p.width, 0) + gap * Math.max(0, panels.length - 1);
  const data = new Uint8Array(width * height * 3).fill(255);
  let x0 = 0;
  for (const p of panels) {
    for (let y = 0; y < p.height; y++) {
      data.set(p.data.subarray(y * p.width * 3, (y + 1) * p.width * 3), (y * width + x0) * 3);
    }
    x0 += p.width + gap;
  }
  return { width, height, data };
}

/**
 * Nearest-neighbour resize so the long side is at most `maxSide` (figures stay small in a report); images
 * smaller than half of it are enlarged by an integer factor, so tiny test scenes stay visible.
 */
export function fitWithin(img: Rgb8, maxSide: number): Rgb8 {
  const long = Math.max(img.width, img.height);
  const s = long > maxSide ? maxSide / long : Math.max(1, Math.floor(maxSide / long));
  if (s === 1) return img;
  const width = Math.max(1, Math.round(img.width * s));
  const height = Math.max(1, Math.round(img.height * s));
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.floor((y + 0.5) / s));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.floor((x + 0.5) / s));
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c]!;
    }
  }
  return { width, height, data };
}
