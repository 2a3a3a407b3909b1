import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { DepthPrior } from './depth-prior.ts';

/**
 * The part of a latent diffusion depth model this adapter uses: structurally what
 * `diffusion/marigold/marigold-prior.ts` (`MarigoldPrior`) offers, so `optimizers/` does not import the
 * networks (layering: only small interfaces cross from `diffusion/`).
 */
export interface LatentDepthModel<Image = unknown> {
  /** Encodes an sRGB image in [0, 1], `[H, W, 3]`, once; becomes the model's current image. */
  encodeImage(rgb01: tf.Tensor, options?: { processingResolution?: number }): Image;
  /** Noise latent shape for the current image, NCHW `[1, 4, h, w]`. */
  readonly latentShape: readonly number[];
  /** A seeded standard-normal latent of `latentShape`. */
  sampleLatent(seed: number): tf.Tensor;
  /** Relative depth `[H, W]` in [0, 1] at the input resolution, differentiable in the latent. */
  predictDepth(
    noiseLatent: tf.Tensor,
    options?: { steps?: number; noiseSeed?: number; image?: Image },
  ): tf.Tensor2D;
  dispose(): void;
}

/** Options of {@link MarigoldDepthPrior.create}. */
export interface MarigoldDepthPriorOptions {
  /** Denoising steps per prediction. @default the model's own */
  steps?: number;
  /** Long side the image is encoded at (0 = input size). @default the model's own */
  processingResolution?: number;
  /** Seed of the fresh noise multi-step LCM mixes in (kept fixed, so a prediction is a function of the latent). @default 0 */
  noiseSeed?: number;
  /** Dispose the model with this prior. @default false */
  ownsModel?: boolean;
}

/**
 * The diffusion prior of the method (METHOD.md, "Depth prior"): the latent is the noise `z_T`; the RGB
 * latent of the all-in-focus image is encoded once. The latent lives on the sphere of radius sqrt(M), so
 * the optimizer re-projects it after every step.
 *
 * @example
 * const model = await MarigoldPrior.load('test/data/diffusers-tiny/sd2-tiny/checkpoint');
 * const prior = MarigoldDepthPrior.create(model, aifSrgb); // [H, W, 3] in [0, 1]
 * prior.latentShape; // [1, 4, 8, 8]
 */
export class MarigoldDepthPrior<Image = unknown> implements DepthPrior {
  readonly name = 'marigold';
  readonly sphericalLatent = true;
  readonly trainable = true;
  readonly latentShape: readonly number[];
  readonly outputShape: readonly [number, number];

  private constructor(
    private readonly model: LatentDepthModel<Image>,
    private readonly image: Image,
    outputShape: [number, number],
    private readonly options: MarigoldDepthPriorOptions,
  ) {
    this.latentShape = [...model.latentShape];
    this.outputShape = outputShape;
  }

  /** Encodes `imageSrgb01` (`[H, W, 3]`, sRGB in [0, 1]) with `model` and wraps it as a {@link DepthPrior}. */
  static create<Image>(
    model: LatentDepthModel<Image>,
    imageSrgb01: tf.Tensor3D,
    options: MarigoldDepthPriorOptions = {},
  ): MarigoldDepthPrior<Image> {
    check(
      imageSrgb01.rank === 3 && imageSrgb01.shape[2] === 3,
      () => `image must be [H, W, 3], got [${imageSrgb01.shape}]`,
      { key: 'MarigoldDepthPrior.create(image)' },
    );
    const clipped = tf.clipByValue(imageSrgb01, 0, 1); // [H, W, 3]
    let image: Image;
    try {
      image = model.encodeImage(clipped, { processingResolution: options.processingResolution });
    } finally {
      clipped.dispose();
    }
    return new MarigoldDepthPrior(model, image, [imageSrgb01.shape[0], imageSrgb01.shape[1]], options);
  }

  initialLatent(seed: number): tf.Tensor {
    return this.model.sampleLatent(seed); // [1, 4, h, w]
  }

  predict(latent: tf.Tensor): tf.Tensor2D {
    return this.model.predictDepth(latent, {
      steps: this.options.steps,
      noiseSeed: this.options.noiseSeed ?? 0,
      image: this.image,
    }); // [H, W] in [0, 1]
  }

  dispose(): void {
    if (this.options.ownsModel) this.model.dispose();
  }
}
