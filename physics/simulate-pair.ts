import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';
import { addPoissonGaussianNoise } from './noise.ts';
import { srgbToLinear } from './radiometry.ts';
import { getRenderer, type RendererName, type RenderOptions } from './renderers/index.ts';
import { checkFNumber, ThinLensCamera } from './thin-lens-camera.ts';

/** Inputs of {@link simulatePair}. */
export interface SimulatePairOptions {
  /** The scene's colour, sRGB-encoded, `[H, W, 3]` float32 in [0, 1] (linearized here). */
  rgbSrgb: tf.Tensor3D;
  /** Ground-truth depth, metres, `[H, W]` float32; NaN, infinite or non-positive values mark invalid pixels. */
  depthM: tf.Tensor2D;
  camera: ThinLensCamera;
  /** f-number of the all-in-focus capture (paper: 22). */
  fNumberAif: number;
  /** f-number of the defocused capture (paper: 8). */
  fNumberBlurred: number;
  /** @default 'layered' (occlusion-aware, so an optimizer on `scatter` does not fit its own model) */
  renderer?: RendererName;
  /** Passed to the renderer (psf, level step, layer step, max CoC). */
  renderOptions?: RenderOptions;
  /** Read-noise standard deviation added to both images, linear units. @default 0 (no noise) */
  noiseSigma?: number;
  /** Photons at unit intensity for shot noise (see `addPoissonGaussianNoise`). @default none */
  photonsPerUnit?: number;
  /** Noise seed: the AIF uses `2 seed`, the blurred image `2 seed + 1`. @default 0 */
  seed?: number;
}

/** A simulated pair, linear and exposure-equalized (both images carry the scene's energy). */
export interface SimulatedPair {
  /** The small-aperture capture, with its own (small) blur, `[H, W, 3]`. */
  aif: tf.Tensor3D;
  /** The large-aperture capture, `[H, W, 3]`. */
  blurred: tf.Tensor3D;
  /** The depth the renderer saw: invalid pixels filled from the nearest valid one, `[H, W]`. */
  depthFilledM: tf.Tensor2D;
  /** How many depth pixels were invalid (and filled). */
  invalidCount: number;
}

/**
 * Fills invalid depth (NaN, infinite, <= 0) with the value of the nearest valid pixel, nearest in the
 * breadth-first (4-neighbour) sense, ties to the earlier pixel in scan order. The renderer needs a depth
 * everywhere; the caller keeps the original map, NaN included, as ground truth.
 */
export function fillInvalidDepth(
  depth: Float32Array,
  H: number,
  W: number,
): { filled: Float32Array; invalid: number } {
  const filled = Float32Array.from(depth);
  const done = new Uint8Array(H * W);
  const queue = new Int32Array(H * W);
  let tail = 0;
  for (let p = 0; p < H * W; p++) {
    const d = depth[p];
    if (Number.isFinite(d) && d > 0) {
      done[p] = 1;
      queue[tail++] = p;
    }
  }
  const invalid = H * W - tail;
  check(tail > 0, () => 'depth has no valid pixel (all NaN, infinite or non-positive)', { key: 'depthM' });
  for (let head = 0; head < tail; head++) {
    const p = queue[head];
    const i = Math.floor(p / W);
    const j = p - i * W;
    const visit = (q: number): void => {
      if (!done[q]) {
        done[q] = 1;
        filled[q] = filled[p];
        queue[tail++] = q;
      }
    };
    if (i > 0) visit(p - W);
    if (i < H - 1) visit(p + W);
    if (j > 0) visit(p - 1);
    if (j < W - 1) visit(p + 1);
  }
  return { filled, invalid };
}

/**
 * Simulates an aperture pair from an RGB-D frame:
 * 1. linearize the sRGB colour (IEC 61966-2-1) -> scene radiance `x`, `[H, W, 3]`;
 * 2. fill invalid depth from the nearest valid pixel (`fillInvalidDepth`);
 * 3. render `x` at `fNumberAif` and at `fNumberBlurred` with the same camera and renderer, so the AIF
 *    carries its own small blur and both images carry equal energy (as after `equalizeExposure`);
 * 4. optionally add Poisson-Gaussian noise, seeded, independently to each image.
 * Values are not clipped (scatter halos may exceed 1).
 */
export function simulatePair(opts: SimulatePairOptions): SimulatedPair {
  const { rgbSrgb, depthM, camera } = opts;
  check(
    rgbSrgb instanceof tf.Tensor && rgbSrgb.rank === 3 && rgbSrgb.shape[2] === 3,
    () =>
      `rgbSrgb must be [H, W, 3], got ${rgbSrgb instanceof tf.Tensor ? `[${rgbSrgb.shape}]` : typeof rgbSrgb}`,
    { key: 'rgbSrgb' },
  );
  check(
    depthM instanceof tf.Tensor && depthM.rank === 2,
    () => `depthM must be [H, W], got ${depthM instanceof tf.Tensor ? `[${depthM.shape}]` : typeof depthM}`,
    { key: 'depthM' },
  );
  const [H, W] = depthM.shape;
  check(
    rgbSrgb.shape[0] === H && rgbSrgb.shape[1] === W,
    () => `depthM [${depthM.shape}] and rgbSrgb [${rgbSrgb.shape}] must share [H, W]`,
    { key: 'depthM' },
  );
  check(camera instanceof ThinLensCamera, () => 'camera must be a ThinLensCamera', { key: 'camera' });
  checkFNumber(opts.fNumberAif, 'fNumberAif');
  checkFNumber(opts.fNumberBlurred, 'fNumberBlurred');
  const noiseSigma = opts.noiseSigma ?? 0;
  check(
    typeof noiseSigma === 'number' && Number.isFinite(noiseSigma) && noiseSigma >= 0,
    () => `noiseSigma must be a finite non-negative number, got ${noiseSigma}`,
    { key: 'noiseSigma' },
  );
  const photons = opts.photonsPerUnit;
  check(
    photons === undefined || (typeof photons === 'number' && photons > 0),
    () => `photonsPerUnit must be a positive number, got ${photons}`,
    { key: 'photonsPerUnit' },
  );
  const seed = opts.seed ?? 0;
  check(Number.isInteger(seed), () => `seed must be an integer, got ${seed}`, { key: 'seed' });
  const renderer = getRenderer(opts.renderer ?? 'layered');
  const noisy = noiseSigma > 0 || photons !== undefined;

  const { filled, invalid } = fillInvalidDepth(depthM.dataSync() as Float32Array, H, W);
  const depthFilledM = tf.tensor2d(filled, [H, W]);
  const [aif, blurred] = tf.tidy(() => {
    const x = srgbToLinear(tf.cast(rgbSrgb, 'float32')) as tf.Tensor3D; // [H, W, 3]
    const out: tf.Tensor3D[] = [];
    for (const [k, n] of [opts.fNumberAif, opts.fNumberBlurred].entries()) {
      const img = renderer.render(x, depthFilledM, camera, n, opts.renderOptions); // [H, W, 3]
      out.push(
        noisy
          ? (addPoissonGaussianNoise(img, {
              gain: photons,
              readSigma: noiseSigma,
              seed: 2 * seed + k,
            }) as tf.Tensor3D)
          : img,
      );
    }
    return out;
  });
  return { aif, blurred, depthFilledM, invalidCount: invalid };
}
