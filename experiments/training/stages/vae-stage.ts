/**
 * Stage A: the AutoencoderKL, trained to reconstruct RGB images and 3-channel-replicated normalized depth
 * from random crops (L1 on a posterior sample plus a small KL term), so that Marigold's interface holds:
 * the encoder's mean is the latent, the decoder's channel mean is the depth.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../../core/tensor/rng.ts';
import type { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import { assembleBatch, type CropSpec, type SceneDataset } from '../data/scene-dataset.ts';
import type { LossFn } from '../trainer/param-trainer.ts';
import { trainOps } from '../trainer/train-ops.ts';
import { vaeScaleFactor } from '../../../diffusion/marigold/pipeline-steps.ts';

export interface VaeStageSettings {
  steps: number;
  /** Scenes per batch (each gives one RGB and one depth crop). */
  batch: number;
  /** Square crop side in pixels. */
  crop: number;
  lr: number;
  klWeight: number;
  depthWeight: number;
  /**
   * Weight of an extra L1 on the chroma of the RGB error pooled to the latent grid ({@link chromaL1}): meant to
   * pull colour into the latent, which the shipped encoder's lacks (linear-probe R^2 of R and B minus luminance
   * under 0.1). Measured, it does not within 2500 steps (experiments/training/README.md). Absent = 0 (the shipped
   * recipe).
   */
  chromaWeight?: number;
}

/** One batch item of stage A: a scene, where to crop it, and the posterior noise of its two images. */
export interface VaeItem {
  index: number;
  crop: CropSpec;
  /** Posterior noise of the RGB crop's latent, `[s, s, 4]`. */
  epsRgb: Float32Array;
  /** Posterior noise of the depth crop's latent. */
  epsDepth: Float32Array;
}

/** Draws one step's items from `rng` (all the step's randomness). */
export function drawVaeItems(rng: Rng, ds: SceneDataset, s: VaeStageSettings, latentChannels: number, down: number): VaeItem[] {
  const n = (s.crop / down) * (s.crop / down) * latentChannels;
  return Array.from({ length: s.batch }, () => {
    const index = Math.floor(rng.uniform() * ds.seeds.length);
    const crop = {
      x0: Math.floor(rng.uniform() * (ds.width - s.crop + 1)),
      y0: Math.floor(rng.uniform() * (ds.height - s.crop + 1)),
      flip: rng.uniform() < 0.5,
    };
    return { index, crop, epsRgb: rng.normalArray(n), epsDepth: rng.normalArray(n) };
  });
}

/**
 * Mean |error - its channel mean| of an RGB error `[B, H, W, 3]` averaged over `pool` x `pool` cells first:
 * 0 for a grey error, the colour part otherwise. Pooled to the latent grid because per pixel, in textured
 * cells whose colour alternates, grey is the L1 optimum and the term would not pull colour into the latent.
 */
export function chromaL1(diffRgb: tf.Tensor4D, pool = 1): tf.Scalar {
  return tf.tidy(() => {
    const cells = pool > 1 ? tf.avgPool(diffRgb, pool, pool, 'valid') : diffRgb;
    return tf.mean(tf.abs(tf.sub(cells, tf.mean(cells, -1, true)))) as tf.Scalar;
  });
}

/**
 * The loss over `items` (a whole batch or one replica's share of it): L1 of RGB and depth reconstructions
 * from a posterior sample, plus the KL term (and `chromaWeight` x {@link chromaL1} of the RGB error when set);
 * means over the items.
 */
export function vaeItemsLoss(vae: AutoencoderKL, ds: SceneDataset, s: VaeStageSettings, items: readonly VaeItem[]): LossFn {
  const batch = assembleBatch(
    ds,
    items.map((it) => it.index),
    items.map((it) => it.crop),
    [s.crop, s.crop],
  );
  const per = items[0]!.epsRgb.length;
  const eps = new Float32Array(2 * items.length * per);
  items.forEach((it, k) => {
    eps.set(it.epsRgb, k * per);
    eps.set(it.epsDepth, (items.length + k) * per);
  });
  return () => {
    const [b, h, w] = batch.shape;
    const x = tf.concat([tf.tensor4d(batch.rgb, [b, h, w, 3]), tf.tensor4d(batch.depth3, [b, h, w, 3])], 0); // [2B, S, S, 3]
    const { mean, logvar } = vae.encode(trainOps, x); // [2B, s, s, 4] each
    const z = tf.add(mean, tf.mul(tf.exp(tf.mul(logvar, 0.5)), tf.tensor(eps, mean.shape)));
    const rec = vae.decode(trainOps, z); // [2B, S, S, 3]
    const diff = tf.sub(rec, x);
    const [diffRgb, diffDepth] = tf.split(diff, 2, 0);
    const l1Rgb = tf.mean(tf.abs(diffRgb!)) as tf.Scalar;
    const l1Depth = tf.mean(tf.abs(diffDepth!)) as tf.Scalar;
    const kl = tf.mul(tf.mean(tf.sub(tf.add(tf.square(mean), tf.exp(logvar)), tf.add(logvar, 1))), 0.5) as tf.Scalar;
    const terms = [l1Rgb, tf.mul(l1Depth, s.depthWeight), tf.mul(kl, s.klWeight)];
    const parts: Record<string, tf.Scalar> = { l1_rgb: l1Rgb, l1_depth: l1Depth, kl };
    if (s.chromaWeight) {
      parts.l1_chroma = chromaL1(diffRgb as tf.Tensor4D, vaeScaleFactor(vae.config));
      terms.push(tf.mul(parts.l1_chroma, s.chromaWeight));
    }
    return { loss: tf.addN(terms) as tf.Scalar, parts };
  };
}

/**
 * The latent scaling factor, as for SD: 1 / std of the encoder means over `count` whole scenes (RGB and
 * depth pooled), so the UNet sees unit-variance latents.
 */
export function estimateScalingFactor(vae: AutoencoderKL, ds: SceneDataset, count: number, batch = 8): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let start = 0; start < Math.min(count, ds.seeds.length); start += batch) {
    const idx = Array.from({ length: Math.min(batch, count - start, ds.seeds.length - start) }, (_, k) => start + k);
    const b = assembleBatch(ds, idx);
    const values = tf.tidy(() => {
      const [bb, h, w] = b.shape;
      const x = tf.concat([tf.tensor4d(b.rgb, [bb, h, w, 3]), tf.tensor4d(b.depth3, [bb, h, w, 3])], 0);
      return vae.encode(trainOps, x).mean.dataSync() as Float32Array;
    });
    for (const v of values) {
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(1e-12, sumSq / n - mean * mean));
  return 1 / std;
}
