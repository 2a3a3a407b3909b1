import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { readImage, toFloat } from '../../../core/io/image.ts';
import { ThinLensCamera } from '../../../physics/thin-lens-camera.ts';
import { simulatePair } from '../../../physics/simulate-pair.ts';

export const MIDDLEBURY_DIR = fileURLToPath(new URL('../../data/middlebury2014-q/', import.meta.url));
export const ARTL_DIR = `${MIDDLEBURY_DIR}ArtL/`;

/**
 * The camera of the simulated ArtL pair at 64 x 48: f = 50 mm focused at 1.2 m, in front of the whole scene
 * (1.42 to 2.16 m), with 25 um "pixels" (a 320 x 240 crop box-averaged by 5), so the CoC at f/8 spans about
 * 1.7 to 4.8 px and at f/22 about 0.6 to 1.8 px.
 */
export const ARTL_CAMERA = { focalLengthMm: 50, pixelPitchUm: 25, focusDistanceM: 1.2 };

export interface ArtlScene {
  /** sRGB colour in [0, 1], `[48, 64, 3]`. */
  rgbSrgb: tf.Tensor3D;
  /** Ground truth, metres, NaN where invalid, `[48, 64]`. */
  depthGt: tf.Tensor2D;
  /** The depth the simulation rendered (invalid filled), `[48, 64]`. */
  depthFilled: tf.Tensor2D;
  /** Linear images from the layered renderer, f/22 and f/8, `[48, 64, 3]`. */
  aif: tf.Tensor3D;
  blurred: tf.Tensor3D;
  camera: ThinLensCamera;
  fNumberAif: number;
  fNumberBlurred: number;
}

/** Box-average a `[H, W, C]` float array over `k x k` blocks of the crop at (y0, x0) of size (h*k, w*k). */
function boxDown(
  data: ArrayLike<number>,
  W: number,
  C: number,
  y0: number,
  x0: number,
  h: number,
  w: number,
  k: number,
  valid?: (v: number) => boolean,
): Float32Array {
  const out = new Float32Array(h * w * C);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        let n = 0;
        for (let dy = 0; dy < k; dy++) {
          for (let dx = 0; dx < k; dx++) {
            const v = data[((y0 + y * k + dy) * W + (x0 + x * k + dx)) * C + c];
            if (!valid || valid(v)) {
              s += v;
              n += 1;
            }
          }
        }
        out[(y * w + x) * C + c] = n > 0 ? s / n : Number.NaN;
      }
    }
  }
  return out;
}

/**
 * ArtL (Middlebury 2014, quarter size) as a 64 x 48 simulated aperture pair: the central 320 x 240 crop,
 * box-averaged by 5, depth from `depth0_mm.png` (0 = invalid), both images rendered by the occlusion-aware
 * `layered` renderer (not the optimizer's `scatter`), no noise.
 */
export function loadArtlScene(
  options: {
    noiseSigma?: number;
    seed?: number;
    width?: number;
    height?: number;
    factor?: number;
    camera?: Partial<typeof ARTL_CAMERA>;
    scene?: string;
  } = {},
): ArtlScene {
  const dir = options.scene ? `${MIDDLEBURY_DIR}${options.scene}/` : ARTL_DIR;
  const rgb = toFloat(readImage(`${dir}im0.png`));
  const dmm = readImage(`${dir}depth0_mm.png`);
  const k = options.factor ?? 5;
  const h = options.height ?? 48;
  const w = options.width ?? 64;
  const y0 = Math.floor((rgb.height - h * k) / 2);
  const x0 = Math.floor((rgb.width - w * k) / 2);
  const rgbSmall = boxDown(rgb.data, rgb.width, 3, y0, x0, h, w, k);
  const depthSmall = boxDown(dmm.data, dmm.width, 1, y0, x0, h, w, k, (v) => v > 0).map((v) => v / 1000);
  const camera = new ThinLensCamera({ ...ARTL_CAMERA, ...options.camera });
  const rgbSrgb = tf.tensor3d(rgbSmall, [h, w, 3]);
  const depthGt = tf.tensor2d(depthSmall, [h, w]);
  const sim = simulatePair({
    rgbSrgb,
    depthM: depthGt,
    camera,
    fNumberAif: 22,
    fNumberBlurred: 8,
    renderer: 'layered',
    noiseSigma: options.noiseSigma ?? 0,
    seed: options.seed ?? 0,
  });
  return {
    rgbSrgb,
    depthGt,
    depthFilled: sim.depthFilledM,
    aif: sim.aif,
    blurred: sim.blurred,
    camera,
    fNumberAif: 22,
    fNumberBlurred: 8,
  };
}

/**
 * A mask of "textured" pixels: local RMS contrast of the AIF luminance (3 x 3) above `threshold` times its
 * median, `[H * W]` 0/1. Defocus is only observable where there is texture.
 */
export function texturedMask(aif: tf.Tensor3D, quantile = 0.5): Float32Array {
  return tf.tidy(() => {
    const lum = tf.mean(aif, 2, true) as tf.Tensor3D; // [H, W, 1]
    const mean = tf.avgPool(lum, 5, 1, 'same');
    const sq = tf.avgPool(tf.square(lum), 5, 1, 'same');
    const std = tf.sqrt(tf.relu(tf.sub(sq, tf.square(mean)))); // [H, W, 1]
    const v = std.dataSync() as Float32Array;
    const sorted = Float32Array.from(v).sort();
    const thr = sorted[Math.floor(quantile * (sorted.length - 1))];
    return Float32Array.from(v, (x) => (x > thr ? 1 : 0));
  });
}
