import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import type { DepthPrior } from './depth-prior.ts';

/** Options of {@link PixelPrior}. */
export interface PixelPriorOptions {
  /** Relative depth every pixel starts at. @default 0.5 */
  init?: number;
  /** Standard deviation of the seeded noise added to the starting logits (breaks exact ties). @default 0.01 */
  initNoise?: number;
}

const logit = (p: number): number => Math.log(p / (1 - p));

/**
 * The prior-free baseline: the latent is one logit per pixel and relative depth is its sigmoid. With a
 * smoothness regularizer (TV) this is classical depth from defocus.
 *
 * @example
 * const prior = new PixelPrior(48, 64);
 * const d = prior.predict(prior.initialLatent(0)); // [48, 64], ~0.5 everywhere
 */
export class PixelPrior implements DepthPrior {
  readonly name = 'pixel';
  readonly latentShape: readonly number[];
  readonly outputShape: readonly [number, number];
  readonly sphericalLatent = false;
  readonly trainable = true;
  private readonly init: number;
  private readonly initNoise: number;

  constructor(height: number, width: number, options: PixelPriorOptions = {}) {
    check(Number.isInteger(height) && height > 0, () => `height must be a positive integer, got ${height}`, {
      key: 'PixelPrior.height',
    });
    check(Number.isInteger(width) && width > 0, () => `width must be a positive integer, got ${width}`, {
      key: 'PixelPrior.width',
    });
    this.init = options.init ?? 0.5;
    this.initNoise = options.initNoise ?? 0.01;
    check(this.init > 0 && this.init < 1, () => `init must lie in (0, 1), got ${this.init}`, {
      key: 'PixelPrior.init',
    });
    check(this.initNoise >= 0, () => `initNoise must be >= 0, got ${this.initNoise}`, {
      key: 'PixelPrior.initNoise',
    });
    this.latentShape = [height, width];
    this.outputShape = [height, width];
  }

  initialLatent(seed: number): tf.Tensor2D {
    const [h, w] = this.outputShape;
    const values = new Rng(seed).normalArray(h * w);
    const l0 = logit(this.init);
    for (let i = 0; i < values.length; i++) values[i] = l0 + this.initNoise * values[i];
    return tf.tensor2d(values, [h, w]); // [H, W] logits
  }

  predict(latent: tf.Tensor): tf.Tensor2D {
    check(
      latent.rank === 2 && latent.shape[0] === this.outputShape[0] && latent.shape[1] === this.outputShape[1],
      () => `latent must have shape [${this.outputShape}], got [${latent.shape}]`,
      { key: 'PixelPrior.predict(latent)' },
    );
    return tf.sigmoid(latent) as tf.Tensor2D; // [H, W] in (0, 1)
  }

  dispose(): void {}
}
