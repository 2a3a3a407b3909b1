import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';

/** The point-spread functions a renderer can use. The paper uses `disc`; `gaussian` is its ablation (Table 2). */
export const PSF_KINDS = Object.freeze(['disc', 'gaussian'] as const);
export type PsfKind = (typeof PSF_KINDS)[number];

/**
 * Gaussian sigma per pixel of CoC diameter: `sigma = c / 4`. A uniform disc of diameter `c` has a per-axis
 * standard deviation of `c / 4` (variance `R^2 / 4`, `R = c / 2`), so this Gaussian carries the same second
 * moment (the same "amount" of blur) as the disc it replaces. (`c / 2.355` would match a FWHM instead.)
 */
export const GAUSSIAN_SIGMA_PER_COC = 0.25;

/**
 * Gaussian taps are kept out to this many sigmas (radially: 98.9 % of the 2-D mass), then renormalized; the
 * kept kernel's variance is about 5 % below `sigma^2`. (4 sigmas would cost 1.8 times the taps.)
 */
export const GAUSSIAN_TRUNCATION_SIGMAS = 3;

/** Below this sigma (pixels) the Gaussian is a delta: its neighbours would weigh less than exp(-50). */
const MIN_SIGMA_PX = 0.1;

/** Throws unless `kind` names a PSF. */
export function checkPsfKind(kind: unknown, key = 'psf'): asserts kind is PsfKind {
  check(
    typeof kind === 'string' && (PSF_KINDS as readonly string[]).includes(kind),
    () => `unknown psf ${JSON.stringify(kind)}; expected one of ${PSF_KINDS.join(', ')}`,
    { key },
  );
}

/**
 * Unnormalized disc weight of paper eqs. 3-5 at distance `m` (pixels) from the source, CoC diameter `c`:
 * 1 inside `(c - 1) / 2`, a one-pixel linear fall-off `(c + 1) / 2 - m`, 0 beyond `(c + 1) / 2`. The three
 * cases are one expression, `clamp((c + 1) / 2 - m, 0, 1)`, continuous in both `m` and `c`.
 */
export function discPsfWeight(m: number, c: number): number {
  return Math.min(Math.max((c + 1) / 2 - m, 0), 1);
}

/** Unnormalized Gaussian weight `exp(-m^2 / (2 sigma^2))`, `sigma = c / 4` (a delta when sigma is tiny). */
export function gaussianPsfWeight(m: number, c: number): number {
  const sigma = GAUSSIAN_SIGMA_PER_COC * c;
  if (sigma < MIN_SIGMA_PX) return m === 0 ? 1 : 0;
  if (m > GAUSSIAN_TRUNCATION_SIGMAS * sigma + 1e-9) return 0;
  return Math.exp((-m * m) / (2 * sigma * sigma));
}

/** The unnormalized weight of `kind` at distance `m` for CoC `c` (pixels). */
export function psfWeight(kind: PsfKind, m: number, c: number): number {
  return kind === 'disc' ? discPsfWeight(m, c) : gaussianPsfWeight(m, c);
}

/**
 * Half-size (pixels) of the square that holds every non-zero tap of the kernel for CoC `c`: taps at
 * `|dx|, |dy| <= radius`. Disc: the last integer offset with `m < (c + 1) / 2`. Gaussian: `ceil(3 sigma)`.
 */
export function psfRadiusPx(kind: PsfKind, c: number): number {
  check(Number.isFinite(c) && c >= 0, () => `CoC must be a finite non-negative number, got ${c}`, {
    key: 'cocPx',
  });
  if (kind === 'disc') return Math.max(0, Math.ceil((c + 1) / 2) - 1);
  const sigma = GAUSSIAN_SIGMA_PER_COC * c;
  return sigma < MIN_SIGMA_PX ? 0 : Math.ceil(GAUSSIAN_TRUNCATION_SIGMAS * sigma);
}

/** A square kernel, row-major `[size, size]` with `size = 2 radius + 1`, centred, summing to 1. */
export interface PsfKernel {
  kind: PsfKind;
  cocPx: number;
  radius: number;
  size: number;
  /** `[size, size]`, row `dy + radius`, column `dx + radius`. */
  data: Float32Array;
}

/**
 * The normalized kernel of `kind` for CoC diameter `c` pixels (`h = W / sum W`, eq. 5). Every kernel is
 * symmetric under `(dx, dy) -> (-dx, -dy)`, so convolution and correlation with it are the same.
 *
 * @example
 * psfKernel('disc', 2).data; // 3x3: centre 0.2991, edges 0.1496, corners 0.0257 (W = 1, 0.5, 0.0858; sum 3.343)
 */
export function psfKernel(kind: PsfKind, c: number): PsfKernel {
  checkPsfKind(kind);
  const radius = psfRadiusPx(kind, c);
  const size = 2 * radius + 1;
  const w = new Float64Array(size * size);
  let sum = 0;
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      const v = psfWeight(kind, Math.hypot(dx, dy), c);
      w[(dy + radius) * size + dx + radius] = v;
      sum += v;
    }
  }
  const data = new Float32Array(size * size);
  for (let i = 0; i < w.length; i++) data[i] = w[i] / sum;
  return { kind, cocPx: c, radius, size, data };
}

/** {@link psfKernel} as a `[size, size]` tensor. */
export function psfKernelTensor(kind: PsfKind, c: number): tf.Tensor2D {
  const k = psfKernel(kind, c);
  return tf.tensor2d(k.data, [k.size, k.size]);
}

/**
 * The disc weight `clamp((c + 1) / 2 - m, 0, 1)` as tensor ops (relu and minimum, both with gradients on
 * wasm), broadcasting `m` against `c`. Differentiable in `c` (slope 1/2 on the fall-off ring).
 */
export function discPsfWeightTensor(m: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.minimum(tf.relu(tf.sub(tf.mul(tf.add(c, 1), 0.5), m)), 1));
}

/**
 * The Gaussian weight `exp(-m^2 / (2 sigma^2))`, `sigma = max(c / 4, 0.1)`, as tensor ops, without the
 * truncation (a tensor caller chooses its own support). Differentiable in `c`.
 */
export function gaussianPsfWeightTensor(m: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const sigma = tf.maximum(tf.mul(c, GAUSSIAN_SIGMA_PER_COC), MIN_SIGMA_PX);
    return tf.exp(tf.neg(tf.div(tf.square(m), tf.mul(tf.square(sigma), 2))));
  });
}
