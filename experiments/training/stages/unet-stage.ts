/**
 * Stage B: Marigold's recipe, scaled down. The VAE is frozen; every training scene (and its mirror image)
 * is encoded once to an RGB latent and a depth latent (`mean * scaling_factor`). Each step noises the depth
 * latents at per-sample timesteps, feeds `cat[rgb_latent, noisy_depth_latent]` and the empty-prompt
 * embedding to the UNet and regresses the v-target. A share of samples sits at t = 999, where the zero-SNR
 * schedule has alpha_bar = 0 and one-step DDIM inference reads x0 = -v straight off the UNet.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../../core/tensor/rng.ts';
import type { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import type { UNet2DConditionModel } from '../../../diffusion/models/unet/unet.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';
import { assembleBatch, type SceneDataset } from '../data/scene-dataset.ts';
import type { LossFn } from '../trainer/param-trainer.ts';
import { trainOps } from '../trainer/train-ops.ts';
import { unetForwardPerSample } from '../unet-timesteps.ts';
import { vaeScaleFactor } from '../../../diffusion/marigold/pipeline-steps.ts';

export interface UNetStageSettings {
  steps: number;
  batch: number;
  lr: number;
  /** Fraction of samples trained at t = 999 (the one-step inference timestep). */
  p999: number;
  /**
   * Weight of an extra MSE between 4x4 average-pooled prediction and target: the coarse layout decides the
   * aligned depth metrics, and the per-pixel latent MSE is dominated by detail that is learnt last. 0 = off.
   */
  poolWeight: number;
}

/** Encoded training set: item 2n is scene n, item 2n + 1 its mirror image. NHWC `[2N, h, w, 4]`. */
export interface LatentSet {
  readonly count: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly rgb: Float32Array;
  readonly depth: Float32Array;
}

/** Encodes every scene and its mirror with the frozen VAE (`mean * scalingFactor`). */
export function encodeLatentSet(
  vae: AutoencoderKL,
  ds: SceneDataset,
  scalingFactor: number,
  batch = 8,
  onProgress?: (done: number, total: number) => void,
): LatentSet {
  const down = vaeScaleFactor(vae.config);
  const h = Math.ceil(ds.height / down);
  const w = Math.ceil(ds.width / down);
  const c = vae.config.latent_channels;
  const per = h * w * c;
  const total = ds.seeds.length * 2;
  const rgb = new Float32Array(total * per);
  const depth = new Float32Array(total * per);
  for (let start = 0; start < ds.seeds.length; start += batch) {
    const idx = Array.from({ length: Math.min(batch, ds.seeds.length - start) }, (_, k) => start + k);
    for (const flip of [false, true]) {
      const b = assembleBatch(
        ds,
        idx,
        idx.map(() => ({ x0: 0, y0: 0, flip })),
      );
      const [bb, hh, ww] = b.shape;
      const [r, d] = tf.tidy(() => {
        const x = tf.concat([tf.tensor4d(b.rgb, [bb, hh, ww, 3]), tf.tensor4d(b.depth3, [bb, hh, ww, 3])], 0);
        const m = tf.mul(vae.encode(tfjsOps, x).mean, scalingFactor);
        const [mr, md] = tf.split(m, 2, 0);
        return [mr!.dataSync() as Float32Array, md!.dataSync() as Float32Array];
      });
      idx.forEach((n, k) => {
        const item = 2 * n + (flip ? 1 : 0);
        rgb.set(r.subarray(k * per, (k + 1) * per), item * per);
        depth.set(d.subarray(k * per, (k + 1) * per), item * per);
      });
    }
    onProgress?.(Math.min(ds.seeds.length, start + batch), ds.seeds.length);
  }
  return { count: total, h, w, c, rgb, depth };
}

/** One batch item of stage B: a latent pair, its timestep and its noise `[h, w, 4]`. */
export interface UNetItem {
  item: number;
  t: number;
  noise: Float32Array;
}

/** Draws one step's items from `rng` (all the step's randomness). */
export function drawUNetItems(rng: Rng, set: Pick<LatentSet, 'count' | 'h' | 'w' | 'c'>, s: UNetStageSettings): UNetItem[] {
  const per = set.h * set.w * set.c;
  return Array.from({ length: s.batch }, () => {
    const item = Math.floor(rng.uniform() * set.count);
    const t = rng.uniform() < s.p999 ? 999 : Math.floor(rng.uniform() * 1000);
    return { item, t, noise: rng.normalArray(per) };
  });
}

/**
 * The loss over `items`: `x_t = sqrt(ab) x0 + sqrt(1 - ab) eps`, `v = sqrt(ab) eps - sqrt(1 - ab) x0`, MSE
 * between the UNet output and v. `context` is the empty-prompt embedding `[1, S, D]`.
 */
export function unetItemsLoss(
  unet: UNet2DConditionModel,
  set: LatentSet,
  alphasCumprod: Float32Array,
  context: tf.Tensor3D,
  items: readonly UNetItem[],
  poolWeight = 0,
): LossFn {
  const per = set.h * set.w * set.c;
  const b = items.length;
  const rgb = new Float32Array(b * per);
  const xt = new Float32Array(b * per);
  const v = new Float32Array(b * per);
  items.forEach(({ item, t, noise }, k) => {
    const ab = alphasCumprod[t]!;
    const sa = Math.sqrt(ab);
    const sb = Math.sqrt(1 - ab);
    rgb.set(set.rgb.subarray(item * per, (item + 1) * per), k * per);
    for (let i = 0; i < per; i++) {
      const x0 = set.depth[item * per + i]!;
      const e = noise[i]!;
      xt[k * per + i] = sa * x0 + sb * e;
      v[k * per + i] = sa * e - sb * x0;
    }
  });
  const shape: [number, number, number, number] = [b, set.h, set.w, set.c];
  const timesteps = items.map((it) => it.t);
  return () => {
    const sample = tf.concat([tf.tensor4d(rgb, shape), tf.tensor4d(xt, shape)], 3); // [B, h, w, 8]: rgb first
    const ctx = tf.tile(context, [b, 1, 1]); // [B, S, D]
    const pred = unetForwardPerSample(unet, trainOps, sample, timesteps, ctx); // [B, h, w, 4]
    const err = tf.sub(pred, tf.tensor4d(v, shape));
    const mse = tf.mean(tf.square(err)) as tf.Scalar;
    if (!(poolWeight > 0)) return { loss: mse };
    // 'valid' pooling: a side that is not a multiple of 4 (stage C's latent height 18) leaves its last rows
    // (2 of 18) out of this coarse term; the per-pixel MSE above still covers them.
    const pool = Math.min(4, set.h, set.w);
    const coarse = tf.mean(tf.square(tf.avgPool(err as tf.Tensor4D, pool, pool, 'valid'))) as tf.Scalar; // [B, h/4, w/4, 4]
    return { loss: tf.add(mse, tf.mul(coarse, poolWeight)) as tf.Scalar, parts: { mse, coarse } };
  };
}
