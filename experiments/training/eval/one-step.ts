/**
 * One-step prediction with in-memory networks (no folder), for validation while training: Marigold's
 * trailing DDIM step at t = 999, `x0 = sqrt(ab) x_t - sqrt(1 - ab) v` (x0 = -v under zero SNR), then the
 * depth head. Batched; images must be a multiple of the VAE's downsampling in each side.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import type { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import type { UNet2DConditionModel } from '../../../diffusion/models/unet/unet.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';
import { vaeScaleFactor } from '../../../diffusion/marigold/pipeline-steps.ts';

export interface OneStepNets {
  vae: AutoencoderKL;
  unet: UNet2DConditionModel;
  scalingFactor: number;
  /** Empty-prompt embedding `[1, S, D]`. */
  context: tf.Tensor3D;
  /** alphas_cumprod[999] of the training schedule (0 under zero SNR). */
  alphaBarT: number;
}

/**
 * rgb01 `[B, H, W, 3]` in [0, 1] and noise `[B, H/k, W/k, 4]` (NHWC, flat) -> relative depth `[B, H, W]` in
 * [0, 1] (far = 1).
 */
export function predictOneStep(nets: OneStepNets, rgb01: Float32Array, shape: readonly [number, number, number], noise: Float32Array): Float32Array {
  const [b, h, w] = shape;
  const k = vaeScaleFactor(nets.vae.config);
  check(h % k === 0 && w % k === 0, () => `image ${w}x${h} is not a multiple of ${k}`, { key: 'predictOneStep' });
  const lat: [number, number, number, number] = [b, h / k, w / k, nets.vae.config.latent_channels];
  check(noise.length === lat.reduce((a, c) => a * c, 1), () => `noise has ${noise.length} values, expected [${lat}]`, {
    key: 'predictOneStep(noise)',
  });
  return tf.tidy(() => {
    const x = tf.sub(tf.mul(tf.tensor4d(rgb01, [b, h, w, 3]), 2), 1);
    const rgbLatent = tf.mul(nets.vae.encode(tfjsOps, x).mean, nets.scalingFactor); // [B, h, w, 4]
    const xt = tf.tensor4d(noise, lat);
    const ctx = tf.tile(nets.context, [b, 1, 1]);
    const v = nets.unet.forward(tfjsOps, tf.concat([rgbLatent, xt], 3), 999, ctx); // [B, h, w, 4]
    const ab = nets.alphaBarT;
    const x0 = tf.sub(tf.mul(xt, Math.sqrt(ab)), tf.mul(v, Math.sqrt(1 - ab)));
    const img = nets.vae.decode(tfjsOps, tf.div(x0, nets.scalingFactor)); // [B, H, W, 3]
    const d = tf.div(tf.add(tf.clipByValue(tf.mean(img, 3), -1, 1), 1), 2); // [B, H, W]
    return d.dataSync() as Float32Array;
  });
}

/** The VAE's own depth reconstruction (encode mean, decode, channel mean), the prior's upper bound. */
export function reconstructDepth(vae: AutoencoderKL, depthNorm: Float32Array, shape: readonly [number, number, number]): Float32Array {
  const [b, h, w] = shape;
  return tf.tidy(() => {
    const d = tf.tensor4d(depthNorm, [b, h, w, 1]);
    const x = tf.tile(d, [1, 1, 1, 3]);
    const img = vae.decode(tfjsOps, vae.encode(tfjsOps, x).mean);
    return tf.div(tf.add(tf.clipByValue(tf.mean(img, 3), -1, 1), 1), 2).dataSync() as Float32Array;
  });
}
