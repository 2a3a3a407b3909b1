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
export interface E2EStageSettings extends SizedStageSettings {
  /**
   * Weight of the L1 on the x/y differences of the aligned error (`--e2e-grad-weight`, 0 = the affine-invariant
   * L1 alone): penalizes depth edges that are missing or misplaced, which the per-pixel L1 weighs by their area.
   */
  gradWeight: number;
  /** Clutter scenes added to the `scenes` drawn-kind ones (`--e2e-clutter-scenes`). @default 0 */
  clutter?: number;
}

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
  return tf.tidy(() => tf.mean(tf.abs(alignedError(pred, target))) as tf.Scalar);
}

/** `pred` `[B, N]` after its per-row least-squares scale and shift to `target`, minus `target`. */
function alignedError(pred: tf.Tensor2D, target: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const pc = tf.sub(pred, tf.mean(pred, 1, true));
    const tc = tf.sub(target, tf.mean(target, 1, true));
    const scale = tf.div(tf.sum(tf.mul(pc, tc), 1, true), tf.add(tf.sum(tf.square(pc), 1, true), 1e-6));
    return tf.sub(tf.mul(pc, scale), tc) as tf.Tensor2D;
  });
}

/**
 * Stage E's loss on `pred` and `target` `[B, H * W]` (row-major `height` x `width` maps): the affine-invariant
 * L1 plus `gradWeight` times the mean absolute x and y differences of the aligned error (a gradient-matching
 * term: zero for an affine copy of the target, large where an edge of the target is missing). Differentiable
 * in `pred`.
 */
export function e2eDepthLoss(pred: tf.Tensor2D, target: tf.Tensor2D, height: number, width: number, gradWeight: number): tf.Scalar {
  check(gradWeight >= 0 && Number.isFinite(gradWeight), () => `gradWeight must be >= 0, got ${gradWeight}`, { key: '--e2e-grad-weight' });
  check(pred.shape[1] === height * width, () => `maps of ${pred.shape[1]} values are not ${height}x${width}`, { key: 'e2e' });
  return tf.tidy(() => {
    const e = alignedError(pred, target);
    const l1 = tf.mean(tf.abs(e));
    if (gradWeight === 0) return l1 as tf.Scalar;
    const b = pred.shape[0];
    const m = tf.reshape(e, [b, height, width]);
    const dx = tf.sub(tf.slice(m, [0, 0, 1], [b, height, width - 1]), tf.slice(m, [0, 0, 0], [b, height, width - 1]));
    const dy = tf.sub(tf.slice(m, [0, 1, 0], [b, height - 1, width]), tf.slice(m, [0, 0, 0], [b, height - 1, width]));
    return tf.add(l1, tf.mul(gradWeight, tf.add(tf.mean(tf.abs(dx)), tf.mean(tf.abs(dy))))) as tf.Scalar;
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
 * affine-invariant L1 (+ `gradWeight` x the gradient-matching term, {@link e2eDepthLoss}) against the scene's
 * normalized depth.
 */
export function e2eItemsLoss(
  unet: UNet2DConditionModel,
  frozen: E2EFrozen,
  ds: SceneDataset,
  items: readonly E2EItem[],
  gradWeight = 0,
): LossFn {
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
    return { loss: e2eDepthLoss(pred, tf.tensor2d(target, [b, h * w]), h, w, gradWeight) };
  };
}
