import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { normalTensor } from '../../core/tensor/normal-tensor.ts';
import { openModelFolder, type ModelFolder } from '../checkpoint/model-folder.ts';
import { resolveModel, type KnownModel } from '../checkpoint/registry.ts';
import { loadTextEncoder, loadUNet, loadVae } from '../models/index.ts';
import { tfjsOps } from '../ops/tfjs-ops.ts';
import type { DiffusionScheduler } from '../schedulers/index.ts';
import { decodeDepth } from './depth-head.ts';
import type { EmptyPromptIds } from './empty-prompt.ts';
import {
  checkMarigoldChannels,
  checkNoiseLatent,
  imageGeometry,
  noiseLatentShape,
  resolvePriorSettings,
  stepNoiseRng,
  vaeScaleFactor,
  type MarigoldPriorOptions,
} from './pipeline-steps.ts';
import {
  marigoldGeometry,
  preprocessImage,
  restoreInputResolution,
  type MarigoldGeometry,
} from './preprocess.ts';

export {
  chooseScheduler,
  defaultSteps,
  type MarigoldPriorOptions,
  type SchedulerKind,
} from './pipeline-steps.ts';

type UNet = Awaited<ReturnType<typeof loadUNet>>;
type Vae = Awaited<ReturnType<typeof loadVae>>;
type TextEncoder = Awaited<ReturnType<typeof loadTextEncoder>>;

/** The encoded input image: its processing geometry and the RGB latent (no gradient). */
export interface EncodedImage {
  geometry: MarigoldGeometry;
  /** `vae.encode(image).mean * scaling_factor`, NHWC `[1, h, w, 4]`, kept until `dispose()`. */
  rgbLatent: tf.Tensor4D;
}

export interface PredictOptions {
  /** @default the prior's `steps` */
  steps?: number;
  /**
   * LCM multi-step only: the fresh noise mixed in after each non-final step, NCHW `[1, 4, h, w]`, one per
   * non-final step (or a function of the step index). @default seeded Gaussian noise from `noiseSeed`,
   * so a prediction is a deterministic function of the latent.
   */
  stepNoise?: readonly tf.Tensor[] | ((stepIndex: number) => tf.Tensor);
  /** @default 0 */
  noiseSeed?: number;
  /** @default the image of the last `encodeImage` call */
  image?: EncodedImage;
}

/** Everything one prediction computes, for parity checks and diagnostics (all tensors owned by the caller). */
export interface PredictionTrace {
  timesteps: number[];
  /** UNet output at each step, NCHW `[1, 4, h, w]`. */
  unetOutputs: tf.Tensor4D[];
  /** Final latent (the scheduler's last `prev_sample`), NCHW `[1, 4, h, w]`. */
  latent: tf.Tensor4D;
  /** Decoded depth at the padded processing size `[PPH, PPW]`, in [0, 1]. */
  depthPadded: tf.Tensor2D;
  /** Depth at the input resolution `[H, W]`, in [0, 1]. */
  depth: tf.Tensor2D;
}

const nchwToNhwc = (x: tf.Tensor) => tf.transpose(x, [0, 2, 3, 1]);
const nhwcToNchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);

/**
 * The Marigold depth prior: image in, relative depth out, differentiable with respect to the noise latent.
 *
 * @example
 * const prior = await MarigoldPrior.load('marigold-depth-lcm-v1-0');
 * prior.encodeImage(rgb);                           // [H, W, 3] in [0, 1], once
 * const z = prior.sampleLatent(42);                 // [1, 4, h, w]
 * const depth = prior.predictDepth(z);              // [H, W] in [0, 1], depth (far = 1)
 * const g = tf.grad((v) => tf.sum(prior.predictDepth(v)))(z);
 */
export class MarigoldPrior {
  /** The empty-prompt text embedding `[1, 2, D]`, computed once at load. */
  readonly textEmbedding: tf.Tensor3D;
  private current?: EncodedImage;

  private constructor(
    readonly folder: ModelFolder,
    readonly unet: UNet,
    readonly vae: Vae,
    readonly scheduler: DiffusionScheduler,
    readonly steps: number,
    readonly processingResolution: number,
    /** Reflected margin in processing pixels (`marigoldGeometry`). */
    readonly margin: number,
    readonly promptIds: EmptyPromptIds,
    /** Messages about choices made at load (fallbacks, derived configs), for logs and run records. */
    readonly notes: readonly string[],
    textEncoder: TextEncoder,
    readonly known?: Readonly<KnownModel>,
  ) {
    this.textEmbedding = tf.tidy(() => tf.keep(textEncoder.forward(tfjsOps, promptIds.ids) as tf.Tensor3D));
  }

  /** Loads a Marigold checkpoint from a diffusers folder or a known model name (see `resolveModel`). */
  static async load(dirOrName: string, options: MarigoldPriorOptions = {}): Promise<MarigoldPrior> {
    const { path, known } = resolveModel(dirOrName);
    const folder = openModelFolder(path);
    const { scheduler, steps, processingResolution, margin, promptIds, notes } = resolvePriorSettings(
      folder,
      known,
      options,
    );
    const loaded: Array<{ dispose(): void }> = [];
    let textEncoder: TextEncoder | undefined;
    try {
      const unet = await loadUNet(folder.unet.dir);
      loaded.push(unet);
      const vae = await loadVae(folder.vae.dir);
      loaded.push(vae);
      textEncoder = await loadTextEncoder(folder.textEncoder.dir);
      checkMarigoldChannels(unet.config, vae.config.latent_channels, folder.unet.configFile);
      return new MarigoldPrior(
        folder,
        unet,
        vae,
        scheduler,
        steps,
        processingResolution,
        margin,
        promptIds,
        notes,
        textEncoder,
        known,
      );
    } catch (err) {
      for (const m of loaded) m.dispose();
      throw err;
    } finally {
      textEncoder?.dispose(); // only needed for the one embedding
    }
  }

  /** `vae.config.scaling_factor` (0.18215 for SD2). */
  get scalingFactor(): number {
    return this.vae.config.scaling_factor;
  }

  /** Image pixels per latent pixel: 2^(number of VAE blocks - 1). */
  get vaeScaleFactor(): number {
    return vaeScaleFactor(this.vae.config);
  }

  /** The processing geometry of an image size under this prior's resolution and VAE. */
  geometry(height: number, width: number): MarigoldGeometry {
    return marigoldGeometry(height, width, this.processingResolution, this.vaeScaleFactor, this.margin);
  }

  /**
   * Encodes an RGB image in [0, 1] (`[H, W, 3]` or `[1, H, W, 3]`) once: preprocessing, VAE encoder mean,
   * times `scaling_factor`. No gradient. Becomes the image later predictions use; disposes the previous one.
   * `processingResolution` and `margin` override the prior's for this image.
   */
  encodeImage(
    rgb01: tf.Tensor,
    options: { processingResolution?: number; margin?: number } = {},
  ): EncodedImage {
    const resolution = options.processingResolution ?? this.processingResolution;
    const geometry = imageGeometry(
      rgb01.shape,
      resolution,
      this.vaeScaleFactor,
      options.margin ?? this.margin,
    );
    const rgbLatent = tf.tidy(() => {
      const image = preprocessImage(rgb01, geometry); // [1, PPH, PPW, 3]
      const { mean } = this.vae.encode(tfjsOps, image); // [1, h, w, 4]
      return tf.keep(tf.mul(mean, this.scalingFactor) as tf.Tensor4D);
    });
    this.current?.rgbLatent.dispose();
    this.current = { geometry, rgbLatent };
    return this.current;
  }

  /** The encoded image in use (throws before `encodeImage`). */
  get image(): EncodedImage {
    check(this.current, () => 'call encodeImage(rgb) before predicting', { key: 'MarigoldPrior' });
    return this.current;
  }

  /** Shape of the noise latent for the current image, NCHW `[1, 4, h, w]`. */
  get latentShape(): [number, number, number, number] {
    return noiseLatentShape(this.image.geometry, this.vae.config.latent_channels);
  }

  /** A standard-normal latent of `latentShape` from a seeded generator (same seed, same latent). */
  sampleLatent(seed: number): tf.Tensor4D {
    return normalTensor(new Rng(seed), this.latentShape) as tf.Tensor4D;
  }

  /** Relative depth `[H, W]` in [0, 1] at the input resolution. Differentiable in `noiseLatent` (NCHW). */
  predictDepth(noiseLatent: tf.Tensor, stepsOrOptions?: number | PredictOptions): tf.Tensor2D {
    const options = typeof stepsOrOptions === 'number' ? { steps: stepsOrOptions } : (stepsOrOptions ?? {});
    const image = options.image ?? this.image;
    return tf.tidy(
      () =>
        restoreInputResolution(this.predictDepthPadded(noiseLatent, options), image.geometry) as tf.Tensor2D,
    );
  }

  /** Decoded depth `[PPH, PPW]` at the padded processing size (before un-padding and resizing). */
  predictDepthPadded(noiseLatent: tf.Tensor, stepsOrOptions?: number | PredictOptions): tf.Tensor2D {
    const options = typeof stepsOrOptions === 'number' ? { steps: stepsOrOptions } : (stepsOrOptions ?? {});
    const image = options.image ?? this.image;
    return tf.tidy(() => {
      const latent = this.denoise(noiseLatent, options);
      return tf.reshape(
        decodeDepth(this.vae, tfjsOps, latent, this.scalingFactor),
        image.geometry.padded,
      ) as tf.Tensor2D;
    });
  }

  /** Final latent after the denoising loop, NCHW `[1, 4, h, w]`. Differentiable. */
  predictLatent(noiseLatent: tf.Tensor, stepsOrOptions?: number | PredictOptions): tf.Tensor4D {
    const options = typeof stepsOrOptions === 'number' ? { steps: stepsOrOptions } : (stepsOrOptions ?? {});
    return tf.tidy(() => nhwcToNchw(this.denoise(noiseLatent, options)) as tf.Tensor4D);
  }

  /** Decodes a final latent (NCHW) to depth `[H, W]` at the input resolution. */
  decodeLatent(latent: tf.Tensor, image: EncodedImage = this.image): tf.Tensor2D {
    return tf.tidy(() => {
      const padded = decodeDepth(this.vae, tfjsOps, nchwToNhwc(latent), this.scalingFactor);
      return restoreInputResolution(tf.reshape(padded, image.geometry.padded), image.geometry) as tf.Tensor2D;
    });
  }

  /** One prediction with every intermediate kept (UNet outputs per step, final latent, padded depth). */
  trace(noiseLatent: tf.Tensor, stepsOrOptions?: number | PredictOptions): PredictionTrace {
    const options = typeof stepsOrOptions === 'number' ? { steps: stepsOrOptions } : (stepsOrOptions ?? {});
    const image = options.image ?? this.image;
    const unetOutputs: tf.Tensor4D[] = [];
    return tf.tidy(() => {
      const latent = this.denoise(noiseLatent, options, (v) =>
        unetOutputs.push(tf.keep(nhwcToNchw(v) as tf.Tensor4D)),
      );
      const depthPadded = tf.reshape(
        decodeDepth(this.vae, tfjsOps, latent, this.scalingFactor),
        image.geometry.padded,
      ) as tf.Tensor2D;
      const depth = restoreInputResolution(depthPadded, image.geometry) as tf.Tensor2D;
      return {
        timesteps: [...this.scheduler.timesteps],
        unetOutputs,
        latent: nhwcToNchw(latent) as tf.Tensor4D,
        depthPadded,
        depth,
      };
    });
  }

  /**
   * The sampling loop, NHWC inside: for each timestep, UNet(cat[rgb_latent, latent], t, empty text) then a
   * scheduler step. Returns the final latent NHWC `[1, h, w, 4]`.
   */
  private denoise(
    noiseLatent: tf.Tensor,
    options: PredictOptions,
    onUnetOutput?: (v: tf.Tensor) => void,
  ): tf.Tensor {
    const image = options.image ?? this.image;
    const expected = noiseLatentShape(image.geometry, this.vae.config.latent_channels);
    checkNoiseLatent(noiseLatent.shape, expected);
    const timesteps = this.scheduler.setTimesteps(options.steps ?? this.steps);
    const rng = stepNoiseRng(this.scheduler.kind, timesteps.length, options.noiseSeed);
    let latent: tf.Tensor = nchwToNhwc(noiseLatent); // [1, h, w, 4]
    timesteps.forEach((t, i) => {
      const sample = tf.concat([image.rgbLatent, latent], 3); // [1, h, w, 8]: rgb first
      const v = this.unet.forward(tfjsOps, sample, t, this.textEmbedding); // [1, h, w, 4]
      onUnetOutput?.(v);
      let noise: tf.Tensor | undefined;
      if (this.scheduler.injectsNoise(i)) {
        const given = typeof options.stepNoise === 'function' ? options.stepNoise(i) : options.stepNoise?.[i];
        if (given) {
          check(
            given.shape.every((d, k) => d === expected[k]) && given.rank === 4,
            () => `step noise ${i} is [${given.shape.join(', ')}], expected [${expected.join(', ')}] (NCHW)`,
            { key: 'stepNoise' },
          );
          noise = nchwToNhwc(given);
        } else {
          noise = normalTensor(rng!, latent.shape);
        }
      }
      const out = this.scheduler.step(v, t, latent, { noise, stepIndex: i });
      latent = out.prevSample;
    });
    return latent;
  }

  /** Releases the networks' weights, the text embedding and the encoded image. */
  dispose(): void {
    this.current?.rgbLatent.dispose();
    this.current = undefined;
    this.textEmbedding.dispose();
    this.unet.dispose();
    this.vae.dispose();
  }
}
