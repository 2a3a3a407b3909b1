import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';

// IEC 61966-2-1 constants: the linear toe and the 2.4 power segment meet at these break points.
const SRGB_BREAK = 0.04045;
const LINEAR_BREAK = 0.0031308;

/** One sRGB-encoded value to linear (IEC 61966-2-1, exact piecewise). */
export function srgbToLinearScalar(v: number): number {
  return v <= SRGB_BREAK ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** One linear value to sRGB encoding (IEC 61966-2-1, exact piecewise). */
export function linearToSrgbScalar(v: number): number {
  return v <= LINEAR_BREAK ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055;
}

/**
 * sRGB-encoded values (any shape, nominally [0, 1]) to linear intensities, IEC 61966-2-1:
 * `v / 12.92` for `v <= 0.04045`, else `((v + 0.055) / 1.055)^2.4`. Values above 1 follow the power branch;
 * values below 0 the linear one. Differentiable.
 */
export function srgbToLinear(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const toe = tf.div(x, 12.92);
    // maximum() keeps the unused branch finite, so its gradient cannot poison the selected one with NaN.
    const power = tf.pow(tf.div(tf.add(tf.maximum(x, SRGB_BREAK), 0.055), 1.055), 2.4);
    // step() has a (zero) gradient on every backend; lessEqual has none, so tf.where would stop backprop.
    const above = tf.step(tf.sub(x, SRGB_BREAK)); // 1 where x > break
    return tf.add(toe, tf.mul(above, tf.sub(power, toe)));
  });
}

/** Linear intensities to sRGB encoding, the inverse of {@link srgbToLinear}. Differentiable. */
export function linearToSrgb(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const toe = tf.mul(x, 12.92);
    const power = tf.sub(tf.mul(tf.pow(tf.maximum(x, LINEAR_BREAK), 1 / 2.4), 1.055), 0.055);
    const above = tf.step(tf.sub(x, LINEAR_BREAK)); // 1 where x > break
    return tf.add(toe, tf.mul(above, tf.sub(power, toe)));
  });
}

/** Exposure settings of a pair: both captures share the focus; time and aperture differ. */
export interface PairExposure {
  /** Exposure time of the all-in-focus (small aperture) capture, seconds. */
  exposureTimeAifS: number;
  /** Exposure time of the defocused (large aperture) capture, seconds. */
  exposureTimeBlurredS: number;
  fNumberAif: number;
  fNumberBlurred: number;
}

/**
 * The factor that gives the blurred capture the AIF's energy: `(t_aif / t_b) (N_b^2 / N_aif^2)`. Light
 * collected scales with `t / N^2`; multiply the (linear) blurred image by this factor.
 *
 * @example
 * exposureFactor({ exposureTimeAifS: 1 / 4, exposureTimeBlurredS: 1 / 30, fNumberAif: 22, fNumberBlurred: 8 });
 * // (0.25 / 0.0333) * (64 / 484) = 0.9917
 */
export function exposureFactor(e: PairExposure): number {
  check(typeof e === 'object' && e !== null, () => 'exposure settings must be an object', {
    key: 'exposure',
  });
  for (const key of ['exposureTimeAifS', 'exposureTimeBlurredS', 'fNumberAif', 'fNumberBlurred'] as const) {
    const v = e[key];
    check(
      typeof v === 'number' && Number.isFinite(v) && v > 0,
      () => `must be a finite positive number, got ${v}`,
      { key },
    );
  }
  return (
    (e.exposureTimeAifS / e.exposureTimeBlurredS) *
    ((e.fNumberBlurred * e.fNumberBlurred) / (e.fNumberAif * e.fNumberAif))
  );
}

/** The blurred capture scaled to the AIF's energy: `blurred * exposureFactor(e)`. */
export function equalizeExposure(blurred: tf.Tensor, e: PairExposure): tf.Tensor {
  const k = exposureFactor(e);
  return tf.tidy(() => tf.mul(blurred, k));
}

/**
 * The least-squares global gain `g = argmin sum m (g r - o)^2 = sum m r o / sum m r^2` that maps `rendered`
 * onto `observed`, over the pixels where `mask` is non-zero (weights: any non-negative values; `[H, W]`
 * masks broadcast over channels). A real pair rarely matches in gain exactly (vignetting, ISO rounding).
 */
export function fitGlobalGain(rendered: tf.Tensor, observed: tf.Tensor, mask?: tf.Tensor): number {
  check(rendered instanceof tf.Tensor, () => 'rendered must be a tensor', { key: 'rendered' });
  check(observed instanceof tf.Tensor, () => 'observed must be a tensor', { key: 'observed' });
  check(
    rendered.shape.length === observed.shape.length &&
      rendered.shape.every((n, i) => n === observed.shape[i]),
    () => `rendered [${rendered.shape}] and observed [${observed.shape}] must have the same shape`,
    { key: 'observed' },
  );
  const [num, den] = tf.tidy(() => {
    let m: tf.Tensor = tf.onesLike(rendered);
    if (mask !== undefined) {
      check(mask instanceof tf.Tensor, () => 'mask must be a tensor', { key: 'mask' });
      const sameRank = mask.rank === rendered.rank;
      const hw = mask.rank === rendered.rank - 1 && mask.shape.every((n, i) => n === rendered.shape[i]);
      check(
        (sameRank && mask.shape.every((n, i) => n === rendered.shape[i])) || hw,
        () => `mask [${mask.shape}] must match rendered [${rendered.shape}] or its leading dimensions`,
        { key: 'mask' },
      );
      m = tf.mul(m, hw ? tf.expandDims(tf.cast(mask, 'float32'), -1) : tf.cast(mask, 'float32'));
    }
    const r = tf.mul(rendered, m);
    return [tf.sum(tf.mul(r, observed)).dataSync()[0], tf.sum(tf.mul(r, rendered)).dataSync()[0]];
  });
  check(den > 0, () => 'rendered is zero on every masked pixel; the gain is undetermined', {
    key: 'rendered',
  });
  return num / den;
}
