import { escapeXml } from './svg.ts';

/** One curve of a loss plot. */
export interface LossSeries {
  name: string;
  values: readonly number[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Tick values for [lo, hi]: about `n` round numbers. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** Decades within [lo, hi], with 2x and 5x added when fewer than three decades show. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const few = Math.floor(Math.log10(hi)) - Math.ceil(Math.log10(lo)) < 2;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of few ? [1, 2, 5] : [1]) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/**
 * A loss-vs-iteration line plot as SVG: log-scale y when the losses are positive and span more than a decade.
 * Non-finite values are skipped.
 */
export function lossPlotSvg(
  series: readonly LossSeries[],
  title = 'loss',
  width = 480,
  height = 300,
): string {
  const m = { l: 62, r: 12, t: 28, b: 40 };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  const n = Math.max(2, ...series.map((s) => s.values.length));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  const logY = lo > 0 && hi / lo > 10;
  const f = (v: number) => (logY ? Math.log10(v) : v);
  if (hi === lo) [lo, hi] = [lo - 0.5 * Math.abs(lo || 1), hi + 0.5 * Math.abs(hi || 1)];
  const [ylo, yhi] = [f(lo), f(hi)];
  const X = (i: number) => m.l + (pw * i) / (n - 1);
  const Y = (v: number) => m.t + ph * (1 - (f(v) - ylo) / (yhi - ylo || 1));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="17" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
  ];
  const yTicks = logY ? logTicks(lo, hi) : niceTicks(lo, hi, 5);
  for (const v of yTicks) {
    const y = Y(v);
    if (y < m.t - 0.5 || y > m.t + ph + 0.5) continue;
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 5}" y="${y + 4}" text-anchor="end">${label(v)}</text>`);
  }
  for (const v of niceTicks(0, n - 1, 5)) {
    const x = X(v);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle">${label(v)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${height - 6}" text-anchor="middle">iteration</text>`);
  parts.push(
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${logY ? 'loss (log scale)' : 'loss'}</text>`,
  );
  series.forEach((s, k) => {
    const pts: string[] = [];
    s.values.forEach((v, i) => {
      if (Number.isFinite(v) && (!logY || v > 0)) pts.push(`${X(i).toFixed(2)},${Y(v).toFixed(2)}`);
    });
    const color = COLORS[k % COLORS.length]!;
    if (pts.length)
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${pts.join(' ')}"/>`);
    if (series.length > 1) {
      const ly = m.t + 14 + 14 * k;
      parts.push(
        `<line x1="${m.l + pw - 110}" x2="${m.l + pw - 92}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      );
      parts.push(`<text x="${m.l + pw - 88}" y="${ly}">${escapeXml(s.name)}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}
