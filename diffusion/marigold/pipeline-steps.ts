import { join } from 'node:path';
import { check } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import type { ModelFolder } from '../checkpoint/model-folder.ts';
import type { KnownModel } from '../checkpoint/registry.ts';
import { readSchedulerConfig, type SchedulerConfig } from '../schedulers/scheduler-config.ts';
import { schedulerFromConfig, type DiffusionScheduler } from '../schedulers/index.ts';
import { emptyPromptTokenIds, type EmptyPromptIds } from './empty-prompt.ts';
import { marigoldGeometry, type MarigoldGeometry } from './preprocess.ts';

/**
 * The engine-free steps of the Marigold pipeline, shared by `MarigoldPrior` (tfjs) and `OnnxMarigoldPrior`
 * (onnxruntime): the settings a load resolves, the geometry and latent shapes of an image, and the
 * generator of LCM's step noise. Plain numbers and configs in and out; each engine keeps its own tensors.
 */

export type SchedulerKind = 'ddim' | 'lcm';

export interface MarigoldPriorOptions {
  /** Sampler. @default the checkpoint's own (model_index.json `scheduler`) */
  scheduler?: SchedulerKind;
  /** A scheduler folder to use instead of searching the `scheduler*` folders for the requested kind. */
  schedulerDir?: string;
  /**
   * Long side the image is resized to before encoding; 0 keeps the input size.
   * @default model_index `default_processing_resolution`, else the registry's, else 768
   */
  processingResolution?: number;
  /**
   * Reflected margin around the resized image, in processing pixels, cropped off the prediction (see
   * `marigoldGeometry`; not in diffusers). @default 0
   */
  margin?: number;
  /**
   * Denoising steps. @default model_index `default_denoising_steps` (for the checkpoint's own scheduler),
   * else the registry's value for a known model, else 1 for LCM, 4 for trailing DDIM, 10 for other DDIM
   */
  steps?: number;
}

/** What a prior resolves at load, before it builds any network. */
export interface PriorSettings {
  /** Its timesteps set to `steps` (which validates them). */
  scheduler: DiffusionScheduler;
  steps: number;
  processingResolution: number;
  margin: number;
  promptIds: EmptyPromptIds;
  /** Messages about choices made (fallbacks, derived configs), for logs and run records. */
  notes: string[];
}

// 1. Settings at load

/** Picks the scheduler folder for `kind`, or derives the config from the checkpoint's own (diffusers `from_config`). */
export function chooseScheduler(
  folder: ModelFolder,
  kind: SchedulerKind | undefined,
  schedulerDir: string | undefined,
): { config: SchedulerConfig; dir?: string; note?: string } {
  const wanted = kind === 'lcm' ? 'LCMScheduler' : kind === 'ddim' ? 'DDIMScheduler' : undefined;
  if (schedulerDir) {
    const config = readSchedulerConfig(schedulerDir);
    check(
      !wanted || config.className === wanted,
      () => `holds a ${config.className}, not the requested ${kind} scheduler`,
      {
        file: join(schedulerDir, 'scheduler_config.json'),
        key: '_class_name',
      },
    );
    return { config, dir: schedulerDir };
  }
  const own = readSchedulerConfig(folder.scheduler.dir);
  if (!wanted || own.className === wanted) return { config: own, dir: folder.scheduler.dir };
  for (const dir of folder.schedulerDirs) {
    const config = readSchedulerConfig(dir);
    if (config.className === wanted) return { config, dir };
  }
  return {
    config: { ...own, className: wanted },
    note: `no ${wanted} folder in the checkpoint: built one from scheduler/scheduler_config.json (as diffusers' from_config)`,
  };
}

/** Steps when neither the caller, model_index.json nor the registry says: 1 for LCM, 4 trailing DDIM, else 10. */
export function defaultSteps(config: SchedulerConfig): number {
  if (config.className === 'LCMScheduler') return 1;
  return config.timestepSpacing === 'trailing' ? 4 : 10;
}

/**
 * The scheduler, steps, processing resolution and empty-prompt ids of a checkpoint under `options`. Steps
 * come from the first that says: the caller, model_index.json (own scheduler only), the registry (`known`,
 * same scheduler kind only), `defaultSteps`; the resolution from the caller, model_index.json, else 768.
 */
export function resolvePriorSettings(
  folder: ModelFolder,
  known: Readonly<KnownModel> | undefined,
  options: MarigoldPriorOptions,
): PriorSettings {
  const notes: string[] = [];
  const chosen = chooseScheduler(folder, options.scheduler, options.schedulerDir);
  if (chosen.note) notes.push(chosen.note);
  const scheduler = schedulerFromConfig(chosen.config);
  const ownScheduler = chosen.dir === folder.scheduler.dir;
  const steps =
    options.steps ??
    (ownScheduler ? folder.index.defaultDenoisingSteps : undefined) ??
    (known?.scheduler === scheduler.kind ? known.defaultSteps : undefined) ??
    defaultSteps(scheduler.config);
  scheduler.setTimesteps(steps); // validates steps against the scheduler
  const processingResolution =
    options.processingResolution ?? folder.index.defaultProcessingResolution ?? 768;
  const promptIds = emptyPromptTokenIds(folder.tokenizer?.dir, folder.textEncoder.configFile!);
  if (promptIds.warning) notes.push(promptIds.warning);
  const margin = options.margin ?? 0;
  check(Number.isInteger(margin) && margin >= 0, () => `expected an integer >= 0, got ${margin}`, {
    key: 'margin',
  });
  return { scheduler, steps, processingResolution, margin, promptIds, notes };
}

/** Checks that the UNet takes the rgb and depth latents side by side and returns one latent. */
export function checkMarigoldChannels(
  unet: { in_channels: number; out_channels: number },
  latentChannels: number,
  unetConfigFile: string | undefined,
): void {
  check(
    unet.in_channels === 2 * latentChannels && unet.out_channels === latentChannels,
    () =>
      `UNet in/out channels ${unet.in_channels}/${unet.out_channels} do not fit Marigold ` +
      `(2 x ${latentChannels} in: rgb + depth latents; ${latentChannels} out)`,
    { file: unetConfigFile, key: 'in_channels' },
  );
}

// 2. Image geometry and latent shapes

/** Image pixels per latent pixel: 2^(number of VAE blocks - 1). */
export function vaeScaleFactor(vae: { block_out_channels: readonly number[] }): number {
  return 2 ** (vae.block_out_channels.length - 1);
}

/** The processing geometry of an RGB image of shape `[H, W, 3]` or `[1, H, W, 3]`. */
export function imageGeometry(
  rgbShape: readonly number[],
  processingResolution: number,
  scaleFactor: number,
  margin = 0,
): MarigoldGeometry {
  const [height, width] = rgbShape.length === 4 ? rgbShape.slice(1, 3) : rgbShape.slice(0, 2);
  return marigoldGeometry(height!, width!, processingResolution, scaleFactor, margin);
}

/**
 * The noise latent of a geometry, NCHW `[1, C, h, w]`.
 *
 * @example noiseLatentShape(marigoldGeometry(64, 48, 40, 8), 4) // [1, 4, 5, 4]
 */
export function noiseLatentShape(
  geometry: MarigoldGeometry,
  latentChannels: number,
): [number, number, number, number] {
  const [h, w] = geometry.latent;
  return [1, latentChannels, h, w];
}

/** Checks a noise latent's shape against `noiseLatentShape` of the image it is for. */
export function checkNoiseLatent(shape: readonly number[], expected: readonly number[]): void {
  check(
    shape.length === 4 && shape.every((d, i) => d === expected[i]),
    () => `noise latent is [${shape.join(', ')}], expected [${expected.join(', ')}] (NCHW) for this image`,
    { key: 'noiseLatent' },
  );
}

// 3. Denoising

/**
 * The generator of the fresh noise LCM mixes in between steps: one per prediction, seeded, so a
 * prediction is a deterministic function of the latent. None for DDIM or a single step.
 */
export function stepNoiseRng(
  kind: SchedulerKind,
  steps: number,
  noiseSeed: number | undefined,
): Rng | undefined {
  return kind === 'lcm' && steps > 1 ? new Rng(noiseSeed ?? 0) : undefined;
}
