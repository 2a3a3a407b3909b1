import { createRequire } from 'node:module';

/** Escapes text for SVG/HTML. */
export function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

type ResvgCtor = new (
  svg: string,
  opts?: { font?: { loadSystemFonts?: boolean; defaultFontFamily?: string }; fitTo?: { mode: 'original' } },
) => { render(): { asPng(): Uint8Array } };

let resvg: ResvgCtor | null | undefined;

/** @resvg/resvg-js, or null where its native binary is not available (figures then fall back to plain tiles). */
function loadResvg(): ResvgCtor | null {
  if (resvg !== undefined) return resvg;
  try {
    const require = createRequire(import.meta.url);
    resvg = (require('@resvg/resvg-js') as { Resvg: ResvgCtor }).Resvg;
  } catch {
    resvg = null;
  }
  return resvg;
}

/**
 * Renders an SVG document to PNG bytes with resvg (no browser). Text uses the system's fonts; on a machine
 * without any, shapes and images still render and text is left out. Returns null when resvg cannot load.
 */
export function svgToPng(svg: string): Uint8Array | null {
  const R = loadResvg();
  if (!R) return null;
  return new R(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
