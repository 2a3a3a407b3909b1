import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';
import {
  antialiasBilinearMatrix,
  bilinearMatrix,
  cropInputEnd,
  reflectPadBoth,
  replicatePadEnd,
  resampleNHWC,
  type ResampleMatrix,
} from './resample.ts';

/**
 * The sizes of Marigold's processing path for one input size, as diffusers' `MarigoldImageProcessor`
 * computes them: resize the long side to `processingResolution` (`new = size * res // max(h, w)`; 0 keeps
 * the input size), replicate-pad right and bottom to a multiple of the VAE's downscale factor, and the
 * latent size that follows. A `margin` > 0 (not in diffusers) first reflect-pads every side of the resized
 * image by that many pixels and crops them off the prediction again, so that the border rows the decoder
 * gets wrong fall outside the image; 0 is diffusers' path exactly.
 *
 * @example marigoldGeometry(64, 48, 40, 8) // { resized: [40, 30], padded: [40, 32], padding: [0, 2], latent: [5, 4], ... }
 */
export interface MarigoldGeometry {
  /** Input image [H, W]. */
  input: [number, number];
  /** After the antialiased resize [PH, PW]. */
  resized: [number, number];
  /** Reflect padding on every side of the resized image, in processing pixels (0: none). */
  margin: number;
  /** Replicate padding at the bottom and right [ph, pw], after the margin. */
  padding: [number, number];
  /** What the VAE sees [PPH, PPW]. */
  padded: [number, number];
  /** Latent [h, w] = padded / vaeScaleFactor. */
  latent: [number, number];
  processingResolution: number;
  vaeScaleFactor: number;
}

export function marigoldGeometry(
  height: number,
  width: number,
  processingResolution: number,
  vaeScaleFactor: number,
  margin = 0,
): MarigoldGeometry {
  check(
    Number.isInteger(height) && Number.isInteger(width) && height >= 1 && width >= 1,
    () => `image size must be positive integers, got ${height}x${width}`,
    { key: 'image' },
  );
  check(
    Number.isInteger(processingResolution) && processingResolution >= 0,
    () => `expected an integer >= 0 (0 keeps the input size), got ${processingResolution}`,
    { key: 'processingResolution' },
  );
  check(Number.isInteger(vaeScaleFactor) && vaeScaleFactor >= 1, () => `expected a positive integer`, {
    key: 'vaeScaleFactor',
  });
  let resized: [number, number] = [height, width];
  if (processingResolution > 0) {
    const longSide = Math.max(height, width);
    resized = [
      Math.floor((height * processingResolution) / longSide),
      Math.floor((width * processingResolution) / longSide),
    ];
    check(
      resized[0] > 0 && resized[1] > 0,
      () => `extreme aspect ratio of the input image: ${width} x ${height}`,
      {
        key: 'image',
      },
    );
  }
  check(
    Number.isInteger(margin) && margin >= 0 && (margin === 0 || margin < Math.min(...resized)),
    () =>
      `expected an integer >= 0 and below the processed image's short side (${Math.min(...resized)} px), got ${margin}`,
    { key: 'margin' },
  );
  const framed = [resized[0] + 2 * margin, resized[1] + 2 * margin];
  const padding: [number, number] = [
    (vaeScaleFactor - (framed[0]! % vaeScaleFactor)) % vaeScaleFactor,
    (vaeScaleFactor - (framed[1]! % vaeScaleFactor)) % vaeScaleFactor,
  ];
  const padded: [number, number] = [framed[0]! + padding[0], framed[1]! + padding[1]];
  return {
    input: [height, width],
    resized,
    margin,
    padding,
    padded,
    latent: [padded[0] / vaeScaleFactor, padded[1] / vaeScaleFactor],
    processingResolution,
    vaeScaleFactor,
  };
}

/** The two one-axis matrices of the input path: antialiased resize, the reflected margin, replicate padding. */
export function inputResampling(g: MarigoldGeometry): { rows: ResampleMatrix; cols: ResampleMatrix } {
  const axis = (k: 0 | 1) =>
    replicatePadEnd(
      reflectPadBoth(antialiasBilinearMatrix(g.input[k], g.resized[k]), g.margin),
      g.padding[k],
    );
  return { rows: axis(0), cols: axis(1) };
}

/**
 * The two one-axis matrices of the output path: drop the margin and the padding, bilinear (no antialias)
 * back to the input.
 */
export function outputResampling(g: MarigoldGeometry): { rows: ResampleMatrix; cols: ResampleMatrix } {
  const axis = (k: 0 | 1) => cropInputEnd(bilinearMatrix(g.resized[k], g.input[k]), g.padded[k], g.margin);
  return { rows: axis(0), cols: axis(1) };
}

/**
 * RGB in [0, 1] → the VAE input: `2x - 1`, antialiased bilinear resize (applied even at the same size, as
 * diffusers does), replicate pad. `rgb01` is [H, W, 3] or [1, H, W, 3]; returns [1, PPH, PPW, 3].
 */
export function preprocessImage(rgb01: tf.Tensor, g: MarigoldGeometry): tf.Tensor4D {
  const image = asImageNHWC(rgb01);
  check(
    image.shape[1] === g.input[0] && image.shape[2] === g.input[1],
    () => `image is ${image.shape[1]}x${image.shape[2]}, geometry expects ${g.input[0]}x${g.input[1]}`,
    { key: 'image' },
  );
  const { rows, cols } = inputResampling(g);
  return tf.tidy(() => resampleNHWC(tf.sub(tf.mul(image, 2), 1) as tf.Tensor4D, rows, cols));
}

/**
 * A padded prediction [1, PPH, PPW, C] (or [PPH, PPW]) back at the input resolution: un-pad, bilinear
 * upsample without antialias. Returns [1, H, W, C] (or [H, W] for a 2-D input). Differentiable.
 */
export function restoreInputResolution(padded: tf.Tensor, g: MarigoldGeometry): tf.Tensor {
  const is2d = padded.rank === 2;
  const shape = is2d ? [1, ...padded.shape, 1] : padded.shape;
  check(
    shape.length === 4 && shape[1] === g.padded[0] && shape[2] === g.padded[1],
    () => `prediction is [${padded.shape}], expected ${g.padded[0]}x${g.padded[1]} (padded processing size)`,
    { key: 'prediction' },
  );
  const { rows, cols } = outputResampling(g);
  return tf.tidy(() => {
    const out = resampleNHWC(tf.reshape(padded, shape as [number, number, number, number]), rows, cols); // [1, H, W, C]
    return is2d ? tf.reshape(out, [...g.input]) : out;
  });
}

/** [H, W, 3] or [1, H, W, 3] float RGB → [1, H, W, 3] (a new tensor or the same one). */
export function asImageNHWC(rgb01: tf.Tensor): tf.Tensor4D {
  check(
    (rgb01.rank === 3 && rgb01.shape[2] === 3) ||
      (rgb01.rank === 4 && rgb01.shape[0] === 1 && rgb01.shape[3] === 3),
    () => `expected an RGB image [H, W, 3] or [1, H, W, 3], got [${rgb01.shape}]`,
    { key: 'image' },
  );
  return (rgb01.rank === 3 ? tf.expandDims(rgb01, 0) : rgb01) as tf.Tensor4D;
}
