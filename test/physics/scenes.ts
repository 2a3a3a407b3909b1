import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/tensor/rng.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';

/** f = 50 mm, s = 5 um, F = 2 m: at N = 8 the CoC scale is K = f^2 / (N (F - f) s) = 32.05 px. */
export const testCamera = (): ThinLensCamera =>
  new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 2 });

export interface Scene {
  aifData: Float32Array;
  depthData: Float32Array;
  aif: tf.Tensor3D;
  depth: tf.Tensor2D;
}

/**
 * A textured RGB scene (sinusoids plus random specks, values in [0, 1.5]) over a depth ramp from `near`
 * to `far` metres (left to right) with a closer box in the middle, so it has depth edges (occlusions).
 */
export function texturedScene(
  H: number,
  W: number,
  { near = 1.5, far = 3, box = true, seed = 1, channels = 3 } = {},
): Scene {
  const rng = new Rng(seed);
  const aifData = new Float32Array(H * W * channels);
  const depthData = new Float32Array(H * W);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const p = i * W + j;
      depthData[p] = near + ((far - near) * (j + (0.5 * i) / H)) / W;
      if (box && i > H / 3 && i < (2 * H) / 3 && j > W / 3 && j < (2 * W) / 3) depthData[p] = near * 0.8;
      for (let c = 0; c < channels; c++) {
        const v =
          0.5 + 0.4 * Math.sin(0.7 * i + 0.3 * c) * Math.cos(0.45 * j - c) + (rng.uniform() < 0.1 ? 0.5 : 0);
        aifData[p * channels + c] = v;
      }
    }
  }
  return {
    aifData,
    depthData,
    aif: tf.tensor3d(aifData, [H, W, channels]),
    depth: tf.tensor2d(depthData, [H, W]),
  };
}

/** Relative L1 distance `sum |a - b| / sum |b|`, in float64. */
export function relativeL1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += Math.abs(a[i] - b[i]);
    den += Math.abs(b[i]);
  }
  return num / den;
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

type RenderFn = (aif: tf.Tensor3D, depth: tf.Tensor2D) => tf.Tensor3D;

/**
 * Central finite differences of `L(d) = sum R * render(aif, d)` (float64 sum of the float32 output) against
 * tf.grad, at `pixels`. Returns `[analytic, numeric]` pairs.
 */
export function depthGradientPairs(
  render: RenderFn,
  scene: Scene,
  H: number,
  W: number,
  pixels: number[],
  stepM: number,
): [number, number][] {
  const C = scene.aif.shape[2];
  const R = new Rng(7).normalArray(H * W * C);
  const loss = (d: Float32Array): number =>
    tf.tidy(() => {
      const out = render(scene.aif, tf.tensor2d(d, [H, W])).dataSync();
      let s = 0;
      for (let i = 0; i < out.length; i++) s += R[i] * out[i];
      return s;
    });
  const grad = tf.tidy(() => {
    const r = tf.tensor3d(R, [H, W, C]);
    return tf
      .grad((d: tf.Tensor) => tf.sum(tf.mul(render(scene.aif, d as tf.Tensor2D), r)))(scene.depth)
      .dataSync();
  });
  return pixels.map((p) => {
    const plus = Float32Array.from(scene.depthData);
    const minus = Float32Array.from(scene.depthData);
    plus[p] += stepM;
    minus[p] -= stepM;
    const h = plus[p] - minus[p]; // the float32 step actually taken
    return [grad[p], (loss(plus) - loss(minus)) / h];
  });
}

/**
 * Up to `count` pixels, spread over the image, whose CoC (`coc`, pixels) sits at least `marginPx` from every
 * multiple of each step in `steps`, so a small depth step stays on one linear piece of the hat weights (and
 * in one layer).
 */
export function pixelsAwayFromLevels(
  coc: ArrayLike<number>,
  steps: number[],
  marginPx: number,
  count: number,
): number[] {
  const ok = (p: number): boolean =>
    steps.every((s) => {
      const rem = coc[p] - s * Math.floor(coc[p] / s);
      return rem > marginPx && rem < s - marginPx;
    });
  const out: number[] = [];
  const stride = Math.max(1, Math.floor(coc.length / (count * 4)));
  for (let p = 0; p < coc.length && out.length < count; p += stride) if (ok(p)) out.push(p);
  for (let p = 0; p < coc.length && out.length < count; p++) if (ok(p) && !out.includes(p)) out.push(p);
  return out;
}
