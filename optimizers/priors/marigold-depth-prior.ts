import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import type { DepthPrior, PriorVjp } from './depth-prior.ts';

/**
 * The part of a latent diffusion depth model this adapter uses: structurally what
 * `diffusion/marigold/marigold-prior.ts` (`MarigoldPrior`) offers, so `optimizers/` does not import the
 * networks (layering: only small interfaces cross from `diffusion/`).
 */
export interface LatentDepthModel<Image = unknown> {
  /**
   * Encodes an sRGB image in [0, 1], `[H, W, 3]`, once; becomes the model's current image. An engine
   * outside tfjs (ONNX) encodes asynchronously: use {@link MarigoldDepthPrior.createAsync} with it.
   */
  encodeImage(rgb01: tf.Tensor, options?: { processingResolution?: number }): Image | Promise<Image>;
  /** Noise latent shape for the current image, NCHW `[1, 4, h, w]`. */
  readonly latentShape: readonly number[];
  /** A seeded standard-normal latent of `latentShape`. */
  sampleLatent(seed: number): tf.Tensor;
  /** Relative depth `[H, W]` in [0, 1] at the input resolution, differentiable in the latent. */
  predictDepth(
    noiseLatent: tf.Tensor,
    options?: { steps?: number; noiseSeed?: number; image?: Image },
  ): tf.Tensor2D;
  /** Engines outside tfjs autograd: the depth without gradient (see `DepthPrior.predictAsync`). */
  predictDepthAsync?(
    noiseLatent: tf.Tensor,
    options?: { steps?: number; noiseSeed?: number; image?: Image },
  ): Promise<tf.Tensor2D>;
  /** Engines outside tfjs autograd: the depth and its vector-Jacobian product (see `DepthPrior.predictWithVjp`). */
  predictWithVjp?(
    noiseLatent: tf.Tensor,
    options?: { steps?: number; noiseSeed?: number; image?: Image },
  ): Promise<PriorVjp>;
  dispose(): void | Promise<void>;
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
  /** Present when the model runs outside tfjs autograd (ONNX engine); see {@link DepthPrior}. */
  readonly predictAsync?: (latent: tf.Tensor) => Promise<tf.Tensor2D>;
  readonly predictWithVjp?: (latent: tf.Tensor) => Promise<PriorVjp>;

  private constructor(
    private readonly model: LatentDepthModel<Image>,
    private readonly image: Image,
    outputShape: [number, number],
    private readonly options: MarigoldDepthPriorOptions,
  ) {
    this.latentShape = [...model.latentShape];
    this.outputShape = outputShape;
    if (model.predictDepthAsync) {
      this.predictAsync = (latent) => model.predictDepthAsync!(latent, this.predictOptions());
    }
    if (model.predictWithVjp) {
      this.predictWithVjp = (latent) => model.predictWithVjp!(latent, this.predictOptions());
    }
  }

  private predictOptions() {
    return { steps: this.options.steps, noiseSeed: this.options.noiseSeed ?? 0, image: this.image };
  }

  /** Encodes `imageSrgb01` (`[H, W, 3]`, sRGB in [0, 1]) with `model` and wraps it as a {@link DepthPrior}. */
  static create<Image>(
    model: LatentDepthModel<Image>,
    imageSrgb01: tf.Tensor3D,
    options: MarigoldDepthPriorOptions = {},
  ): MarigoldDepthPrior<Image> {
    const clipped = clippedImage(imageSrgb01);
    let image: Image | Promise<Image>;
    try {
      image = model.encodeImage(clipped, { processingResolution: options.processingResolution });
    } finally {
      clipped.dispose();
    }
    check(!(image instanceof Promise), () => 'this model encodes asynchronously: use MarigoldDepthPrior.createAsync', {
      key: 'MarigoldDepthPrior.create(model)',
    });
    return new MarigoldDepthPrior(model, image, [imageSrgb01.shape[0], imageSrgb01.shape[1]], options);
  }

  /** {@link MarigoldDepthPrior.create} for models of any engine (the ONNX engine encodes asynchronously). */
  static async createAsync<Image>(
    model: LatentDepthModel<Image>,
    imageSrgb01: tf.Tensor3D,
    options: MarigoldDepthPriorOptions = {},
  ): Promise<MarigoldDepthPrior<Image>> {
    const clipped = clippedImage(imageSrgb01);
    let image: Image;
    try {
      image = await model.encodeImage(clipped, { processingResolution: options.processingResolution });
    } finally {
      clipped.dispose();
    }
    return new MarigoldDepthPrior(model, image, [imageSrgb01.shape[0], imageSrgb01.shape[1]], options);
  }

  initialLatent(seed: number): tf.Tensor {
    return this.model.sampleLatent(seed); // [1, 4, h, w]
  }

  predict(latent: tf.Tensor): tf.Tensor2D {
    return this.model.predictDepth(latent, this.predictOptions()); // [H, W] in [0, 1]
  }

  dispose(): void {
    if (this.options.ownsModel) void this.model.dispose();
  }
}

/** The image checked (`[H, W, 3]`) and clipped to [0, 1]. */
function clippedImage(imageSrgb01: tf.Tensor3D): tf.Tensor3D {
  check(
    imageSrgb01.rank === 3 && imageSrgb01.shape[2] === 3,
    () => `image must be [H, W, 3], got [${imageSrgb01.shape}]`,
    { key: 'MarigoldDepthPrior.create(image)' },
  );
  return tf.clipByValue(imageSrgb01, 0, 1); // [H, W, 3]
}
