import * as tf from '@tensorflow/tfjs';
import type { Renderer } from '../physics/renderers/index.ts';
import type { ThinLensCamera } from '../physics/thin-lens-camera.ts';
import type { ScaleShift } from './mappings/index.ts';

/** Options of {@link localSearchLogits}. */
export interface LocalSearchOptions {
  /** Relative-depth levels tried per pixel. @default 16 */
  levels?: number;
  /** Half-width (pixels) of the window the residual is summed over. @default 3 */
  windowRadius?: number;
  /** PSF of the renderer. @default 'disc' */
  psf?: 'disc' | 'gaussian';
}

/**
 * Classical depth from defocus as a start for the pixel prior: render the all-in-focus image at each of
 * `levels` constant depths spanning the mapping's range, sum the squared residual over a small window
 * around each pixel, and take the best level per pixel. Returns per-pixel logits `[H, W]` (relative
 * depths clamped to [0.02, 0.98] so the sigmoid keeps a gradient).
 */
export function localSearchLogits(
  aif: tf.Tensor3D,
  observed: tf.Tensor3D,
  camera: ThinLensCamera,
  fNumber: number,
  renderer: Renderer,
  range: ScaleShift,
  mask: tf.Tensor2D | undefined,
  options: LocalSearchOptions = {},
): tf.Tensor2D {
  const K = Math.max(2, options.levels ?? 16);
  const r = Math.max(0, Math.round(options.windowRadius ?? 3));
  const [H, W] = aif.shape;
  const best = new Float32Array(H * W).fill(Infinity);
  const arg = new Float32Array(H * W).fill(0.5);
  for (let k = 0; k < K; k++) {
    const rel = k / (K - 1);
    const cost = tf.tidy(() => {
      const depth = tf.fill([H, W], range.shift + rel * range.scale) as tf.Tensor2D;
      const rendered = renderer.render(aif, depth, camera, fNumber, { psf: options.psf ?? 'disc' });
      let e = tf.sum(tf.square(tf.sub(rendered, observed)), 2, true) as tf.Tensor3D; // [H, W, 1]
      if (mask) e = tf.mul(e, tf.expandDims(mask, 2)) as tf.Tensor3D;
      return r > 0 ? tf.avgPool(e, 2 * r + 1, 1, 'same') : e;
    });
    const c = cost.dataSync();
    cost.dispose();
    for (let p = 0; p < c.length; p++) {
      if (c[p] < best[p]) {
        best[p] = c[p];
        arg[p] = rel;
      }
    }
  }
  const logits = Float32Array.from(arg, (p) => {
    const q = Math.min(0.98, Math.max(0.02, p));
    return Math.log(q / (1 - q));
  });
  return tf.tensor2d(logits, [H, W]);
}
