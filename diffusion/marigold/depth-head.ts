import * as tf from '@tensorflow/tfjs';
import type { Ops } from '../ops/ops.ts';

/** The one VAE call the depth head needs. */
export interface LatentDecoder {
  decode<T>(ops: Ops<T>, z: T): T;
}

/**
 * Marigold's depth head: `z / scaling_factor` through the VAE decoder, mean over the 3 output channels,
 * clip to [-1, 1], then `(d + 1) / 2`. latent NHWC `[1, h, w, 4]` (scaled, as the UNet sees it) ->
 * depth `[1, h·k, w·k, 1]` in [0, 1]. Differentiable (the clip passes gradient only inside (-1, 1)).
 */
export function decodeDepth(
  vae: LatentDecoder,
  ops: Ops<tf.Tensor>,
  latent: tf.Tensor,
  scalingFactor: number,
): tf.Tensor4D {
  return tf.tidy(() => depthFromDecoded(vae.decode(ops, tf.div(latent, scalingFactor)))); // decoded [1, H, W, 3]
}

/**
 * The host part of the depth head, after the decoder: decoded image `[1, H, W, 3]` -> depth `[1, H, W, 1]`
 * in [0, 1] (channel mean, clip to [-1, 1], `(d + 1) / 2`). Differentiable; the ONNX engine runs the
 * decoder natively and only this in tfjs.
 */
export function depthFromDecoded(image: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const mean = tf.mean(image, 3, true); // [1, H, W, 1]
    return tf.div(tf.add(tf.clipByValue(mean, -1, 1), 1), 2) as tf.Tensor4D;
  });
}
