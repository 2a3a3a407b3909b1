import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';
import { Rng } from '../core/tensor/rng.ts';

/** Options of {@link addPoissonGaussianNoise}. */
export interface PoissonGaussianNoiseOptions {
  /**
   * Photons collected at unit intensity (full scale): shot noise is `Poisson(x gain) / gain`, so its
   * standard deviation is `sqrt(x / gain)`. Omit (or `Infinity`) for no shot noise.
   */
  gain?: number;
  /** Standard deviation of the additive Gaussian read noise, in intensity units. @default 0 */
  readSigma?: number;
  /** Seed: the same seed gives the same noise, bit for bit. */
  seed: number;
}

/** Above this mean the Poisson draw uses the normal approximation (its skewness 1/sqrt(30) is small). */
export const POISSON_NORMAL_APPROX_MEAN = 30;

/** One Poisson draw: inversion by sequential search below 30, normal approximation (rounded) above. */
export function samplePoisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean >= POISSON_NORMAL_APPROX_MEAN)
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * rng.normal()));
  const u = rng.uniform();
  let k = 0;
  let p = Math.exp(-mean);
  let cdf = p;
  while (u > cdf && k < 1000) {
    k++;
    p *= mean / k;
    cdf += p;
  }
  return k;
}

/**
 * Poisson-Gaussian sensor noise on a linear image (any shape): `y = Poisson(max(x, 0) gain) / gain +
 * readSigma n`, `n ~ N(0, 1)`, drawn in row-major order from one seeded stream. No clipping. Not
 * differentiable (noise is for simulating data).
 */
export function addPoissonGaussianNoise(img: tf.Tensor, opts: PoissonGaussianNoiseOptions): tf.Tensor {
  check(img instanceof tf.Tensor, () => 'img must be a tensor', { key: 'img' });
  check(typeof opts === 'object' && opts !== null, () => 'noise options are required (at least a seed)', {
    key: 'noise',
  });
  const gain = opts.gain ?? Infinity;
  const readSigma = opts.readSigma ?? 0;
  check(!Number.isNaN(gain) && gain > 0, () => `gain must be positive (photons per unit), got ${gain}`, {
    key: 'gain',
  });
  check(
    Number.isFinite(readSigma) && readSigma >= 0,
    () => `readSigma must be a finite non-negative number, got ${readSigma}`,
    { key: 'readSigma' },
  );
  check(Number.isInteger(opts.seed), () => `seed must be an integer, got ${opts.seed}`, { key: 'seed' });
  const rng = new Rng(opts.seed);
  const x = img.dataSync();
  const y = new Float32Array(x.length);
  const shot = Number.isFinite(gain);
  for (let i = 0; i < x.length; i++) {
    let v = x[i];
    if (shot) v = samplePoisson(rng, Math.max(v, 0) * gain) / gain;
    if (readSigma > 0) v += readSigma * rng.normal();
    y[i] = v;
  }
  return tf.tensor(y, img.shape, 'float32');
}
