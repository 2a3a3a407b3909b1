import { extname } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { readImage } from '../io/image.ts';
import { readNpy } from '../io/npy.ts';
import { readPfm } from '../io/pfm.ts';
import { alignToGroundTruth, applyAlignment, type AlignmentKind } from '../metrics/align.ts';
import { computeDepthMetrics, type DepthMetrics } from '../metrics/depth-metrics.ts';
import type { DepthMap } from '../datasets/dataset.ts';

/**
 * Reads a depth map in metres: `.npy` (float: metres; uint16: millimetres), `.pfm` (metres), or a 16-bit
 * grey PNG (millimetres). Zero, negative and non-finite values become NaN (no depth).
 * `[H, W]`, or `[1, H, W]` / `[H, W, 1]` squeezed.
 */
export function readDepthFile(path: string, key = 'depth'): DepthMap {
  const ext = extname(path).toLowerCase();
  let width: number;
  let height: number;
  let values: ArrayLike<number | bigint>;
  let toMetres = 1;
  if (ext === '.npy') {
    const a = readNpy(path);
    const dims = a.shape.filter((d) => d !== 1);
    check(
      dims.length === 2 || (a.shape.length === 2 && dims.length < 2),
      () => `expected a depth map [H, W], got shape [${a.shape}]`,
      { file: path, key },
    );
    [height, width] = a.shape.length === 2 ? (a.shape as [number, number]) : (dims as [number, number]);
    check(
      a.dtype !== 'int64',
      () => 'int64 depth is not supported; use float32 metres or uint16 millimetres',
      { file: path, key },
    );
    if (a.dtype === 'uint16') toMetres = 1e-3;
    else
      check(
        a.dtype.startsWith('float'),
        () => `expected float (metres) or uint16 (mm) values, got ${a.dtype}`,
        { file: path, key },
      );
    values = a.data as ArrayLike<number>;
  } else if (ext === '.pfm') {
    const a = readPfm(path);
    check(a.shape.length === 2, () => `expected a grey (Pf) depth map, got shape [${a.shape}]`, {
      file: path,
      key,
    });
    [height, width] = a.shape as [number, number];
    values = a.data;
  } else if (ext === '.png') {
    const img = readImage(path);
    check(
      img.channels === 1 && img.bitDepth === 16,
      () =>
        `expected a 16-bit grey PNG in millimetres, got ${img.bitDepth}-bit with ${img.channels} channel(s)`,
      {
        file: path,
        key,
      },
    );
    [width, height] = [img.width, img.height];
    values = img.data;
    toMetres = 1e-3;
  } else {
    throw new ApertureDepthError(`unknown depth format "${ext}"; expected .npy, .pfm or a 16-bit .png (mm)`, {
      file: path,
      key,
    });
  }
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const v = Number(values[i]) * toMetres;
    data[i] = Number.isFinite(v) && v > 0 ? v : Number.NaN;
  }
  return { width, height, data };
}

/** Reads a mask image: non-zero = use the pixel. */
export function readMaskFile(path: string): { width: number; height: number; data: Uint8Array } {
  const img = readImage(path);
  const data = new Uint8Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) data[i] = img.data[i * img.channels] ? 1 : 0;
  return { width: img.width, height: img.height, data };
}

export interface EvalOptions {
  /** @default 'none' (metric depth as predicted) */
  align?: 'none' | AlignmentKind;
  /** Ground truth at or below this (metres) is ignored. @default 0 */
  minDepthM?: number;
  /** Ground truth beyond this (metres) is ignored. */
  maxDepthM?: number;
  mask?: ArrayLike<number>;
}

export interface EvalResult extends DepthMetrics {
  align: 'none' | AlignmentKind;
  /** `aligned = scale * pred + shift` (1 and 0 without alignment). */
  scale: number;
  shift: number;
}

/**
 * Metrics of a prediction against ground truth (both metres, same size), after an optional least-squares
 * alignment fitted on the same valid pixels.
 */
export function evaluateDepth(pred: DepthMap, gt: DepthMap, options: EvalOptions = {}): EvalResult {
  check(
    pred.width === gt.width && pred.height === gt.height,
    () => `prediction is ${pred.width}x${pred.height} but ground truth is ${gt.width}x${gt.height}`,
    { key: '--pred' },
  );
  const n = gt.data.length;
  check(
    !options.mask || options.mask.length === n,
    () => `mask has ${options.mask!.length} pixels, expected ${n}`,
    { key: '--mask' },
  );
  const lo = options.minDepthM ?? 0;
  const hi = options.maxDepthM ?? Infinity;
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const g = gt.data[i]!;
    valid[i] = g > lo && g <= hi && (!options.mask || options.mask[i]) ? 1 : 0;
  }
  const align = options.align ?? 'none';
  let p: ArrayLike<number> = pred.data;
  let scale = 1;
  let shift = 0;
  if (align !== 'none') {
    const a = alignToGroundTruth(pred.data, gt.data, align, valid);
    ({ scale, shift } = a);
    p = applyAlignment(pred.data, a);
  }
  return { ...computeDepthMetrics(p, gt.data, valid), align, scale, shift };
}
