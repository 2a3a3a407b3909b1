/**
 * Stage E: end-to-end fine-tuning of the UNet through the frozen VAE decoder with an affine-invariant depth
 * loss (Garcia Martin et al. 2024, "Fine-Tuning Image-Conditional Diffusion Models is Easier than You
 * Think"): the one-step inference path itself (noise latent at t = 999, x0 = -v under zero SNR, decode,
 * channel mean) is trained to give depth that is right after a least-squares scale and shift, which is
 * exactly how the prior is scored and used (the defocus optimization fits scale and shift too). Gradients
 * flow through the decoder into the UNet's weights; the VAE and the text embedding stay fixed. The noise
 * latent is drawn like at inference (standard normal), so the prior keeps reading its noise input, which
 * the defocus optimization's full variant optimizes.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import type { Rng } from '../../../core/tensor/rng.ts';
import type { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import type { UNet2DConditionModel } from '../../../diffusion/models/unet/unet.ts';
import { assembleBatch, type SceneDataset } from '../data/scene-dataset.ts';
import type { LossFn } from '../trainer/param-trainer.ts';
import { trainOps } from '../trainer/train-ops.ts';
import type { SizedStageSettings } from './sized-stage.ts';
import { vaeScaleFactor } from '../../../diffusion/marigold/pipeline-steps.ts';

/** Stage E's settings (`--e2e-*`); steps 0 = no stage E. */
export type E2EStageSettings = SizedStageSettings;

/** One batch item of stage E: a scene, whether it is mirrored, and its noise latent `[h, w, 4]`. */
export interface E2EItem {
  index: number;
  flip: boolean;
  noise: Float32Array;
}

/** Draws one step's items from `rng` (all the step's randomness). */
export function drawE2EItems(rng: Rng, scenes: number, latentSize: number, batch: number): E2EItem[] {
  return Array.from({ length: batch }, () => ({
    index: Math.floor(rng.uniform() * scenes),
    flip: rng.uniform() < 0.5,
    noise: rng.normalArray(latentSize),
  }));
}

/**
 * Mean absolute error of `pred` `[B, N]` after the least-squares scale and shift to `target` `[B, N]`, per
 * row (differentiable in `pred`, including through the fitted scale). An affine copy of the target scores 0.
 */
export function affineInvariantL1(pred: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const pc = tf.sub(pred, tf.mean(pred, 1, true));
    const tc = tf.sub(target, tf.mean(target, 1, true));
    const scale = tf.div(tf.sum(tf.mul(pc, tc), 1, true), tf.add(tf.sum(tf.square(pc), 1, true), 1e-6));
    return tf.mean(tf.abs(tf.sub(tf.mul(pc, scale), tc))) as tf.Scalar;
  });
}

/** The frozen parts of stage E's path: the VAE, its scaling factor and the empty-prompt embedding `[1, S, D]`. */
export interface E2EFrozen {
  vae: AutoencoderKL;
  scalingFactor: number;
  context: tf.Tensor3D;
}

/**
 * The loss over `items`: RGB latents from the frozen encoder (outside the gradient), the UNet at t = 999 on
 * `[rgb latent | noise]`, x0 = -v (zero terminal SNR), the decoder, the channel mean as depth, and the
 * affine-invariant L1 against the scene's normalized depth.
 */
export function e2eItemsLoss(unet: UNet2DConditionModel, frozen: E2EFrozen, ds: SceneDataset, items: readonly E2EItem[]): LossFn {
  const down = vaeScaleFactor(frozen.vae.config);
  const { width: w, height: h } = ds;
  check(w % down === 0 && h % down === 0, () => `scenes ${w}x${h} are not a multiple of ${down}`, { key: 'e2e' });
  const b = items.length;
  const batch = assembleBatch(
    ds,
    items.map((it) => it.index),
    items.map((it) => ({ x0: 0, y0: 0, flip: it.flip })),
  );
  const lat: [number, number, number, number] = [b, h / down, w / down, frozen.vae.config.latent_channels];
  const per = lat[1] * lat[2] * lat[3];
  const noise = new Float32Array(b * per);
  items.forEach((it, k) => {
    check(it.noise.length === per, () => `noise has ${it.noise.length} values, expected ${per}`, { key: 'e2e' });
    noise.set(it.noise, k * per);
  });
  const target = new Float32Array(b * h * w);
  for (let i = 0; i < target.length; i++) target[i] = batch.depth3[i * 3]!;
  return () => {
    const rgbLatent = tf.tidy(() =>
      tf.mul(frozen.vae.encode(trainOps, tf.tensor4d(batch.rgb, batch.shape)).mean, frozen.scalingFactor),
    );
    const sample = tf.concat([rgbLatent, tf.tensor4d(noise, lat)], 3); // [B, h, w, 8]: rgb first
    const ctx = tf.tile(frozen.context, [b, 1, 1]);
    const v = unet.forward(trainOps, sample, 999, ctx);
    const img = frozen.vae.decode(trainOps, tf.div(tf.neg(v), frozen.scalingFactor)); // [B, H, W, 3]
    const pred = tf.reshape(tf.mean(img, 3), [b, h * w]) as tf.Tensor2D;
    return { loss: affineInvariantL1(pred, tf.tensor2d(target, [b, h * w])) };
  };
}
