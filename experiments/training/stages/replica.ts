/**
 * One training replica of a stage, built from a plain (structured-cloneable) description: the network with
 * trainable weights, its Adam trainer, the training data (read from the work-folder cache) and the loss of a
 * list of batch items. The main thread builds one for single-threaded training; each worker thread builds an
 * identical one for data-parallel training.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import type { AutoencoderKL } from '../../../diffusion/models/vae/autoencoder-kl.ts';
import type { UNet2DConditionModel } from '../../../diffusion/models/unet/unet.ts';
import { createTextEncoder, createUNet, createVae } from '../../../diffusion/models/load.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';
import { noiseSchedule } from '../../../diffusion/schedulers/noise-schedule.ts';
import { parseSchedulerConfig } from '../../../diffusion/schedulers/scheduler-config.ts';
import { readCachedArrays } from '../data/dataset-cache.ts';
import type { SceneDataset } from '../data/scene-dataset.ts';
import { BOS_ID, EOS_ID, type JsonObject } from '../model-configs.ts';
import { ParamTrainer, type LossFn } from '../trainer/param-trainer.ts';
import { unetItemsLoss, type LatentSet, type UNetItem, type UNetStageSettings } from './unet-stage.ts';
import { vaeItemsLoss, type VaeItem, type VaeStageSettings } from './vae-stage.ts';

export interface VaeReplicaInit {
  stage: 'vae';
  vaeConfig: JsonObject;
  /** Weight-init seed. */
  seed: number;
  settings: VaeStageSettings;
  /** Work folder holding the `scenes` cache, and its key. */
  work: string;
  dataKey: unknown;
  scenes: number;
  size: number;
}

export interface UNetReplicaInit {
  stage: 'unet';
  unetConfig: JsonObject;
  textEncoderConfig: JsonObject;
  schedulerConfig: JsonObject;
  seed: number;
  textSeed: number;
  settings: UNetStageSettings;
  work: string;
  /** Key of the `latents` cache. */
  dataKey: unknown;
  count: number;
  h: number;
  w: number;
}

export type ReplicaInit = VaeReplicaInit | UNetReplicaInit;

export interface Replica {
  readonly trainer: ParamTrainer;
  /** The loss of a share of a batch. */
  loss(items: readonly unknown[]): LossFn;
  readonly vae?: AutoencoderKL;
  readonly unet?: UNet2DConditionModel;
  /** The empty-prompt embedding `[1, 2, D]` (stage B). */
  readonly context?: tf.Tensor3D;
  readonly alphasCumprod?: Float32Array;
  readonly dataset?: SceneDataset;
  readonly latents?: LatentSet;
  dispose(): void;
}

function cacheOnly(work: string, name: string, key: unknown): Record<string, Float32Array | Uint8Array> {
  const a = readCachedArrays(work, name, key);
  check(a, () => `${name} cache missing: the main process builds it before starting replicas`, { file: work });
  return a;
}

/** The empty-prompt embedding of a seeded text encoder (computed identically in every replica). */
export function emptyPromptContext(textEncoderConfig: JsonObject, seed: number): tf.Tensor3D {
  const te = createTextEncoder(textEncoderConfig, seed);
  try {
    return tf.tidy(() => tf.keep(te.forward(tfjsOps, [BOS_ID, EOS_ID]) as tf.Tensor3D));
  } finally {
    te.dispose();
  }
}

export function buildReplica(init: ReplicaInit, lr: number, emaDecay = 0): Replica {
  if (init.stage === 'vae') {
    const a = cacheOnly(init.work, 'scenes', init.dataKey);
    const ds: SceneDataset = {
      width: init.size,
      height: init.size,
      seeds: Array.from({ length: init.scenes }, (_, i) => i),
      rgb: a.rgb as Uint8Array,
      depth: a.depth as Float32Array,
    };
    check(ds.rgb.length === init.scenes * init.size * init.size * 3, () => 'scene cache has the wrong size', { key: init.work });
    const vae = createVae(init.vaeConfig, init.seed, { trainable: true });
    const trainer = new ParamTrainer(vae.parameters(), { lr, clipNorm: 1, emaDecay });
    return {
      trainer,
      vae,
      dataset: ds,
      loss: (items) => vaeItemsLoss(vae, ds, init.settings, items as readonly VaeItem[]),
      dispose: () => {
        trainer.dispose();
        vae.dispose();
      },
    };
  }
  const a = cacheOnly(init.work, 'latents', init.dataKey);
  const latents: LatentSet = { count: init.count, h: init.h, w: init.w, c: 4, rgb: a.rgb as Float32Array, depth: a.depth as Float32Array };
  check(latents.rgb.length === init.count * init.h * init.w * 4, () => 'latent cache has the wrong size', { key: init.work });
  const unet = createUNet(init.unetConfig, init.seed, { trainable: true });
  const trainer = new ParamTrainer(unet.parameters(), { lr, clipNorm: 1, emaDecay });
  const context = emptyPromptContext(init.textEncoderConfig, init.textSeed);
  const alphasCumprod = noiseSchedule(parseSchedulerConfig(init.schedulerConfig, '<scheduler config>')).alphasCumprod;
  return {
    trainer,
    unet,
    context,
    alphasCumprod,
    latents,
    loss: (items) => unetItemsLoss(unet, latents, alphasCumprod, context, items as readonly UNetItem[], init.settings.poolWeight),
    dispose: () => {
      trainer.dispose();
      unet.dispose();
      context.dispose();
    },
  };
}
