import { encodePng } from '../io/png.ts';
import { colorize, hot, robustRange, turbo, type Rgb8 } from './colormap.ts';
import { escapeXml, svgToPng } from './svg.ts';
import { fitWithin, tileHorizontal } from './tile.ts';

/** What one scene figure shows. Maps are row-major `[H, W]`; the image is any display-ready RGB. */
export interface SceneFigureInput {
  image: Rgb8;
  /** Ground-truth depth, metres (NaN = none); absent for scenes without ground truth. */
  gt?: ArrayLike<number>;
  pred: ArrayLike<number>;
  width: number;
  height: number;
  /** Non-zero where metrics are taken. */
  evalMask?: ArrayLike<number>;
  /** Title line above the panels. */
  title?: string;
  /** Relative error at which the error map saturates. @default 0.25 */
  maxRelError?: number;
  /** Long side of each panel in the figure, pixels. @default 320 */
  panelSide?: number;
}

const pngBase64 = (img: Rgb8): string =>
  Buffer.from(
    encodePng({ width: img.width, height: img.height, channels: 3, bitDepth: 8, data: img.data }),
  ).toString('base64');

function colorbar(map: (t: number) => [number, number, number], w: number, h = 10): Rgb8 {
  const data = new Uint8Array(w * h * 3);
  for (let x = 0; x < w; x++) {
    const c = map(x / Math.max(1, w - 1));
    for (let y = 0; y < h; y++) data.set(c, (y * w + x) * 3);
  }
  return { width: w, height: h, data };
}

/**
 * The panels of a scene figure: image, ground truth, prediction (same depth colour range, turbo, near = blue)
 * and the relative error |p - g| / g (black = 0, white >= `maxRelError`); grey = no value.
 */
export function sceneFigurePanels(input: SceneFigureInput): {
  panels: Rgb8[];
  titles: string[];
  depthRange: [number, number];
} {
  const { width: W, height: H, gt, pred } = input;
  const side = input.panelSide ?? 320;
  const [lo, hi] = robustRange(gt ?? pred, 0.02, 0.98, gt ? input.evalMask : undefined);
  const panels: Rgb8[] = [fitWithin(input.image, side)];
  const titles = ['image'];
  if (gt) {
    panels.push(fitWithin(colorize(gt, W, H, lo, hi, turbo), side));
    titles.push('ground truth');
  }
  panels.push(fitWithin(colorize(pred, W, H, lo, hi, turbo), side));
  titles.push('prediction');
  if (gt) {
    const maxErr = input.maxRelError ?? 0.25;
    const err = new Float32Array(W * H);
    for (let i = 0; i < err.length; i++) {
      const g = gt[i]!;
      const p = pred[i]!;
      err[i] = Number.isFinite(g) && g > 0 && Number.isFinite(p) ? Math.abs(p - g) / g : Number.NaN;
    }
    panels.push(fitWithin(colorize(err, W, H, 0, maxErr, hot, input.evalMask), side));
    titles.push(`|p - g| / g (0-${maxErr})`);
  }
  return { panels, titles, depthRange: [lo, hi] };
}

/**
 * A scene figure as PNG bytes: the panels side by side with titles and colour bars, composed as SVG and
 * rendered by resvg; where resvg is unavailable, the bare panels tiled with pngjs.
 */
export function sceneFigurePng(input: SceneFigureInput): Uint8Array {
  const { panels, titles, depthRange } = sceneFigurePanels(input);
  const gap = 8;
  const top = input.title ? 40 : 22;
  const bottom = 34;
  const width = panels.reduce((s, p) => s + p.width, 0) + gap * (panels.length + 1);
  const height = top + Math.max(...panels.map((p) => p.height)) + bottom;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (input.title) parts.push(`<text x="${gap}" y="16" font-size="13">${escapeXml(input.title)}</text>`);
  let x = gap;
  panels.forEach((p, k) => {
    parts.push(
      `<text x="${x + p.width / 2}" y="${top - 6}" text-anchor="middle">${escapeXml(titles[k]!)}</text>`,
    );
    parts.push(
      `<image x="${x}" y="${top}" width="${p.width}" height="${p.height}" href="data:image/png;base64,${pngBase64(p)}"/>`,
    );
    const isDepth = titles[k] === 'ground truth' || titles[k] === 'prediction';
    const isErr = titles[k]!.startsWith('|p');
    if (isDepth || isErr) {
      const barW = Math.max(20, Math.min(140, p.width - 80));
      const bar = colorbar(isDepth ? turbo : hot, barW);
      const bx = x + (p.width - barW) / 2;
      const by = top + p.height + 8;
      parts.push(
        `<image x="${bx}" y="${by}" width="${barW}" height="10" href="data:image/png;base64,${pngBase64(bar)}"/>`,
      );
      const [a, b] = isDepth
        ? depthRange.map((v) => `${v.toFixed(2)} m`)
        : ['0', `${input.maxRelError ?? 0.25}`];
      parts.push(`<text x="${bx - 4}" y="${by + 9}" text-anchor="end" font-size="10">${a}</text>`);
      parts.push(`<text x="${bx + barW + 4}" y="${by + 9}" font-size="10">${b}</text>`);
    }
    x += p.width + gap;
  });
  parts.push('</svg>');
  const png = svgToPng(parts.join('\n'));
  if (png) return png;
  const tiled = tileHorizontal(panels, gap);
  return encodePng({ width: tiled.width, height: tiled.height, channels: 3, bitDepth: 8, data: tiled.data });
}
