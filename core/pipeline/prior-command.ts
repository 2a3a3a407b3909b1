import * as tf from '@tensorflow/tfjs';
import { MarigoldPrior, type SchedulerKind } from '../../diffusion/marigold/marigold-prior.ts';
import { check } from '../errors.ts';
import { readImage, toFloat } from '../io/image.ts';
import { readNpy, writeNpy } from '../io/npy.ts';
import type { FloatImage } from '../io/raster.ts';

/** What `aperture-depth prior` does, as a function (the CLI file only parses arguments). */
export interface PriorCommandOptions {
  /** Diffusers folder or known model name. */
  model: string;
  /** PNG / JPEG / PPM input (sRGB as stored; 1, 3 or 4 channels). */
  image: string;
  /** Output `.npy`: float32 [H, W] relative depth in [0, 1]. */
  out: string;
  /** `.npy` noise latent [1, 4, h, w] to use instead of a seeded one. */
  latents?: string;
  steps?: number;
  scheduler?: SchedulerKind;
  processingResolution?: number;
  /** Seed of the noise latent (and of LCM's step noise). @default 0 */
  seed?: number;
}

export interface PriorCommandResult {
  out: string;
  shape: [number, number];
  latentShape: number[];
  latentSource: string;
  scheduler: SchedulerKind;
  timesteps: number[];
  processingResolution: number;
  notes: string[];
  depth: Float32Array;
}

/** [H, W, C] floats in [0, 1] → [H, W, 3] RGB: grey is repeated, alpha dropped. */
export function rgbFromFloatImage(img: FloatImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = img.data[i * img.channels + (img.channels === 1 ? 0 : c)]!;
  }
  return out;
}

/** Reads a noise latent `.npy` and checks it has exactly the shape the prior expects. */
export function readLatentFile(path: string, expected: readonly number[]): tf.Tensor4D {
  const arr = readNpy(path);
  check(
    arr.dtype === 'float32' || arr.dtype === 'float64' || arr.dtype === 'float16',
    () => `latents must be floating point, got ${arr.dtype}`,
    { file: path, key: '--latents' },
  );
  check(
    arr.shape.length === expected.length && arr.shape.every((d, i) => d === expected[i]),
    () =>
      `latents have shape [${arr.shape.join(', ')}], expected [${expected.join(', ')}] (NCHW: 1 x latent channels x ` +
      'h x w for this image, processing resolution and VAE)',
    { file: path, key: '--latents' },
  );
  return tf.tensor4d(
    Float32Array.from(arr.data as Float32Array | Float64Array),
    expected as [number, number, number, number],
  );
}

/**
 * Loads the prior, encodes the image, predicts relative depth at the input resolution from the given or a
 * seeded noise latent, and writes it (atomically) as float32 `.npy` [H, W].
 */
export async function runPriorCommand(options: PriorCommandOptions): Promise<PriorCommandResult> {
  const img = toFloat(readImage(options.image));
  const prior = await MarigoldPrior.load(options.model, {
    scheduler: options.scheduler,
    steps: options.steps,
    processingResolution: options.processingResolution,
  });
  try {
    const rgb = tf.tensor3d(rgbFromFloatImage(img), [img.height, img.width, 3]);
    prior.encodeImage(rgb);
    rgb.dispose();
    const seed = options.seed ?? 0;
    const latent = options.latents
      ? readLatentFile(options.latents, prior.latentShape)
      : prior.sampleLatent(seed);
    const depthTensor = prior.predictDepth(latent, { noiseSeed: seed });
    const depth = (await depthTensor.data()) as Float32Array;
    tf.dispose([latent, depthTensor]);
    const shape: [number, number] = [img.height, img.width];
    writeNpy(options.out, { shape, dtype: 'float32', data: depth });
    return {
      out: options.out,
      shape,
      latentShape: prior.latentShape,
      latentSource: options.latents ?? `seed ${seed}`,
      scheduler: prior.scheduler.kind,
      timesteps: [...prior.scheduler.timesteps],
      processingResolution: prior.image.geometry.processingResolution,
      notes: [...prior.notes],
      depth,
    };
  } finally {
    prior.dispose();
  }
}
