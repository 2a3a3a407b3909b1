/**
 * One training replica of a stage, built from a plain (structured-cloneable) description: the network with
 * trainable weights, its Adam trainer, the training data (read from the work-folder cache) and the loss of a
 * list of batch items. The main thread builds one for single-threaded training; each worker thread builds an
 * identical one for data-parallel training.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import type { Param } from '../../../diffusion/checkpoint/param.ts';
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
import { e2eItemsLoss, type E2EItem, type E2EStageSettings } from './e2e-stage.ts';

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
  /** Name of the latents cache in `work` (stage B `latents`, stage C `ft-latents`). @default 'latents' */
  cache?: string;
  /** Key of that cache. */
  dataKey: unknown;
  count: number;
  /** Latent height and width (need not be equal). */
  h: number;
  w: number;
  /**
   * Start from these weights (by parameter name) instead of the seeded init: stage C starts from stage B's
   * exported weights. A Map of Float32Arrays is structured-cloneable, so it reaches worker replicas through
   * `workerData` unchanged. Set before the trainer exists, so the weight EMA starts from them too.
   */
  initWeights?: ReadonlyMap<string, Float32Array>;
}

export interface E2EReplicaInit {
  stage: 'e2e';
  unetConfig: JsonObject;
  vaeConfig: JsonObject;
  textEncoderConfig: JsonObject;
  /** Seeds of the model constructors (their values are replaced by the weights below). */
  seed: number;
  vaeSeed: number;
  textSeed: number;
  /** The frozen VAE (stage A's export) and the UNet to start from (stage B's or C's export), by name. */
  vaeWeights: ReadonlyMap<string, Float32Array>;
  initWeights: ReadonlyMap<string, Float32Array>;
  scalingFactor: number;
  settings: E2EStageSettings;
  /** Work folder holding the scenes cache, and its key. */
  work: string;
  /** Name of that cache (stage E `e2e-scenes`, stage E2 `e2e2-scenes`). @default 'e2e-scenes' */
  cache?: string;
  dataKey: unknown;
}

export type ReplicaInit = VaeReplicaInit | UNetReplicaInit | E2EReplicaInit;

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

/** Sets trainable Params (bound as tf.Variables) from a name -> values map; every Param must be there. */
export function assignWeights(params: readonly Param[], weights: ReadonlyMap<string, Float32Array>): void {
  for (const p of params) {
    const w = weights.get(p.name);
    check(w && w.length === p.size, () => `missing or mis-sized weight "${p.name}"`, { key: p.name });
    (tfjsOps.param(p) as tf.Variable).assign(tf.tensor(w, [...p.shape], 'float32'));
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
  if (init.stage === 'e2e') return buildE2EReplica(init, lr, emaDecay);
  const a = cacheOnly(init.work, init.cache ?? 'latents', init.dataKey);
  const latents: LatentSet = { count: init.count, h: init.h, w: init.w, c: 4, rgb: a.rgb as Float32Array, depth: a.depth as Float32Array };
  check(latents.rgb.length === init.count * init.h * init.w * 4, () => 'latent cache has the wrong size', { key: init.work });
  const unet = createUNet(init.unetConfig, init.seed, { trainable: true });
  if (init.initWeights) assignWeights(unet.parameters(), init.initWeights);
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

/** Stages E and E2: a trainable UNet from `initWeights`, the frozen VAE and text embedding, the scenes cache. */
function buildE2EReplica(init: E2EReplicaInit, lr: number, emaDecay: number): Replica {
  const { width, height } = init.settings;
  const scenes = init.settings.scenes + (init.settings.clutter ?? 0);
  const a = cacheOnly(init.work, init.cache ?? 'e2e-scenes', init.dataKey);
  const ds: SceneDataset = {
    width,
    height,
    seeds: Array.from({ length: scenes }, (_, i) => i),
    rgb: a.rgb as Uint8Array,
    depth: a.depth as Float32Array,
  };
  check(ds.depth.length === scenes * width * height, () => 'e2e scene cache has the wrong size', { key: init.work });
  const unet = createUNet(init.unetConfig, init.seed, { trainable: true });
  assignWeights(unet.parameters(), init.initWeights);
  const vae = createVae(init.vaeConfig, init.vaeSeed, { trainable: true });
  assignWeights(vae.parameters(), init.vaeWeights);
  // Only the UNet's weights are the trainer's: the VAE's get no gradient and no update.
  const trainer = new ParamTrainer(unet.parameters(), { lr, clipNorm: 1, emaDecay });
  const context = emptyPromptContext(init.textEncoderConfig, init.textSeed);
  const frozen = { vae, scalingFactor: init.scalingFactor, context };
  return {
    trainer,
    unet,
    vae,
    context,
    dataset: ds,
    loss: (items) => e2eItemsLoss(unet, frozen, ds, items as readonly E2EItem[], init.settings.gradWeight),
    dispose: () => {
      trainer.dispose();
      unet.dispose();
      vae.dispose();
      context.dispose();
    },
  };
}
