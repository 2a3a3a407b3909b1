/**
 * What the image latent tells the UNet about colour: a linear probe (least squares on the 3 x 3 latent
 * neighbourhood of each latent cell, plus a constant) of the cell's mean luminance and its two chroma
 * components (R - luminance, B - luminance). R^2 near 1 means the latent carries the quantity linearly
 * recoverably; near 0, not at all. The shipped tiny VAE's latent carries luminance (R^2 0.98) and no chroma
 * (0.04 / 0.08), i.e. the UNet sees a grey thumbnail; see experiments/training/README.md.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import type { EvalScene } from './eval-scenes.ts';
import { cropToMultiple } from './vae-ceiling.ts';

/**
 * R^2 of the least-squares fit of each target column from `features` (rows of equal length; add a constant
 * column yourself). Solved by the normal equations with a tiny ridge (1e-6 x the diagonal's mean).
 */
export function linearProbeR2(features: readonly (readonly number[])[], targets: readonly (readonly number[])[]): number[] {
  check(features.length === targets.length && features.length > 0, () => `linearProbeR2: ${features.length} feature rows for ${targets.length} target rows`, { key: 'features' });
  const d = features[0]!.length;
  const m = targets[0]!.length;
  const ata = Array.from({ length: d }, () => new Float64Array(d));
  const atb = Array.from({ length: m }, () => new Float64Array(d));
  features.forEach((x, n) => {
    check(x.length === d && targets[n]!.length === m, () => `linearProbeR2: row ${n} has the wrong length`, { key: 'features' });
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) ata[i]![j]! += x[i]! * x[j]!;
      for (let o = 0; o < m; o++) atb[o]![i]! += x[i]! * targets[n]![o]!;
    }
  });
  let diag = 0;
  for (let i = 0; i < d; i++) diag += ata[i]![i]! / d;
  for (let i = 0; i < d; i++) ata[i]![i]! += 1e-6 * diag + 1e-12;
  return Array.from({ length: m }, (_, o) => {
    const w = solveLinear(ata, atb[o]!);
    let mean = 0;
    for (const t of targets) mean += t[o]! / targets.length;
    let residual = 0;
    let total = 0;
    features.forEach((x, n) => {
      let p = 0;
      for (let i = 0; i < d; i++) p += w[i]! * x[i]!;
      residual += (p - targets[n]![o]!) ** 2;
      total += (targets[n]![o]! - mean) ** 2;
    });
    return total > 0 ? 1 - residual / total : 0;
  });
}

/** Gaussian elimination with partial pivoting on copies of `a` and `b`. */
function solveLinear(a: readonly Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  const m = a.map((row, i) => Float64Array.from([...row, b[i]!]));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c || m[c]![c] === 0) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return Float64Array.from({ length: n }, (_, i) => (m[i]![i] === 0 ? 0 : m[i]![n]! / m[i]![i]!));
}

export interface ColourProbe {
  /** Latent cells probed (interior cells of every scene). */
  cells: number;
  /** R^2 of the cell-mean luminance, (R + G + B) / 3 of the [-1, 1] image. */
  luminance: number;
  /** R^2 of the cell-mean R - luminance. */
  redChroma: number;
  /** R^2 of the cell-mean B - luminance. */
  blueChroma: number;
}

/**
 * Probes `encode` (an image `[1, H, W, 3]` in [-1, 1] -> latent `[1, H / down, W / down, C]`, e.g. the VAE
 * encoder's mean) on `scenes`, each cropped to a multiple of `down`.
 */
export function colourProbe(encode: (image: tf.Tensor4D) => tf.Tensor4D, scenes: readonly EvalScene[], down: number): ColourProbe {
  const features: number[][] = [];
  const targets: number[][] = [];
  for (const s of scenes) {
    const { values, width: w, height: h } = cropToMultiple(s.rgb, s.width, s.height, down, 3);
    const rgb = values.map((v) => v * 2 - 1);
    const latent = tf.tidy(() => encode(tf.tensor4d(rgb, [1, h, w, 3])));
    const [, lh, lw, lc] = latent.shape;
    check(lh === h / down && lw === w / down, () => `colourProbe: latent ${lw}x${lh} for a ${w}x${h} image at downsampling ${down}`, { key: 'encode' });
    const z = latent.dataSync();
    latent.dispose();
    for (let j = 1; j < lh - 1; j++) {
      for (let i = 1; i < lw - 1; i++) {
        const f = [1];
        for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) for (let c = 0; c < lc; c++) f.push(z[((j + dj) * lw + i + di) * lc + c]!);
        const mean = [0, 0, 0];
        for (let y = 0; y < down; y++) for (let x = 0; x < down; x++) for (let c = 0; c < 3; c++) mean[c]! += rgb[((down * j + y) * w + down * i + x) * 3 + c]! / (down * down);
        const lum = (mean[0]! + mean[1]! + mean[2]!) / 3;
        features.push(f);
        targets.push([lum, mean[0]! - lum, mean[2]! - lum]);
      }
    }
  }
  const [luminance, redChroma, blueChroma] = linearProbeR2(features, targets) as [number, number, number];
  return { cells: features.length, luminance, redChroma, blueChroma };
}
