/**
 * The depth VAE's ceiling: the ground truth itself, normalized the way training normalizes it (2 % / 98 %
 * quantiles of the valid pixels to [-1, 1]), encoded, decoded and read through Marigold's depth head. No
 * UNet can do better than what the decoder gives back for the perfect latent, so this separates "the
 * decoder loses the shape" from "the UNet does not find it".
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import { depthFromDecoded } from '../../../diffusion/marigold/depth-head.ts';
import type { AutoencoderKL } from '../../../diffusion/models/index.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';
import { normalizeDepth } from '../data/scene-dataset.ts';
import { vaeScaleFactor } from '../../../diffusion/marigold/pipeline-steps.ts';

/**
 * Relative depth `[H * W]` in [0, 1] after the VAE round trip of `depthM` (`[H, W]` metric, 0 = invalid;
 * invalid pixels enter the encoder at the middle of the range). `width` and `height` must be multiples of
 * the VAE's downsampling factor.
 */
export function vaeRoundTrip(vae: AutoencoderKL, depthM: Float32Array, width: number, height: number): Float32Array {
  const down = vaeScaleFactor(vae.config);
  check(width % down === 0 && height % down === 0, () => `${width}x${height} is not a multiple of ${down}`, { key: 'vaeRoundTrip' });
  check(depthM.length === width * height, () => `depth has ${depthM.length} values, expected ${width * height}`, { key: 'vaeRoundTrip' });
  const validIndex: number[] = [];
  depthM.forEach((d, i) => {
    if (Number.isFinite(d) && d > 0) validIndex.push(i);
  });
  check(validIndex.length > 0, () => 'depth has no valid pixel', { key: 'vaeRoundTrip' });
  const normalized = normalizeDepth(Float32Array.from(validIndex, (i) => depthM[i]!));
  const input = new Float32Array(width * height * 3); // invalid pixels stay at 0
  validIndex.forEach((i, k) => input.fill(normalized[k]!, 3 * i, 3 * i + 3));
  return tf.tidy(() => {
    const { mean } = vae.encode(tfjsOps, tf.tensor4d(input, [1, height, width, 3]));
    return depthFromDecoded(vae.decode(tfjsOps, mean)).dataSync() as Float32Array;
  });
}

/** The largest top-left crop of an `[H, W]` map (or `[H, W, channels]` image) whose sides are multiples of `down`. */
export function cropToMultiple(values: Float32Array, width: number, height: number, down: number, channels = 1): { values: Float32Array; width: number; height: number } {
  const w = width - (width % down);
  const h = height - (height % down);
  check(w > 0 && h > 0, () => `${width}x${height} is smaller than ${down}`, { key: 'cropToMultiple' });
  const out = new Float32Array(w * h * channels);
  for (let y = 0; y < h; y++) out.set(values.subarray(y * width * channels, (y * width + w) * channels), y * w * channels);
  return { values: out, width: w, height: h };
}
