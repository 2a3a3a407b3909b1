import * as tf from '@tensorflow/tfjs';
import {
  checkEnsembleSize,
  ensembleDepth,
  type EnsembleReduction,
} from '../../diffusion/marigold/ensemble-depth.ts';
import { MarigoldPrior, type SchedulerKind } from '../../diffusion/marigold/marigold-prior.ts';
import type { NetworkEngineRequest, ResolvedEngine } from '../engine/network-engine.ts';
import { ApertureDepthError, check, renamingKey } from '../errors.ts';
import { readImage, toFloat } from '../io/image.ts';
import { readNpy, writeNpy } from '../io/npy.ts';
import { rgbOf } from '../io/raster.ts';
import { DEFAULT_MODEL_DIR, defaultModelPath, requestedModel } from './default-model.ts';
import { loadPriorModel } from './load-prior-model.ts';

/** What `aperture-depth prior` does, as a function (the CLI file only parses arguments). */
export interface PriorCommandOptions {
  /**
   * Diffusers folder or known model name; absent (or `default`) is the embedded default model, as
   * `estimate` (`default-model.ts`).
   */
  model?: string;
  /**
   * Executor of the prior's networks (`--engine`): `tfjs`, `onnx` or `auto`, the faster one available
   * (`core/engine/network-engine.ts`). @default auto
   */
  engine?: NetworkEngineRequest;
  /** PNG / JPEG / PPM input (sRGB as stored; 1, 3 or 4 channels). */
  image: string;
  /** Output `.npy`: float32 [H, W] relative depth in [0, 1]. */
  out: string;
  /** `.npy` noise latent [1, 4, h, w] to use instead of a seeded one. */
  latents?: string;
  steps?: number;
  scheduler?: SchedulerKind;
  processingResolution?: number;
  /** Reflected margin in processing pixels, cropped off the prediction (`marigoldGeometry`). @default 0 */
  margin?: number;
  /** Seed of the noise latent (and of LCM's step noise). @default 0 */
  seed?: number;
  /**
   * Test-time ensemble (Marigold's `ensemble_size`): predictions from seeds `seed .. seed + ensemble - 1`,
   * aligned affinely to each other and reduced (`diffusion/marigold/ensemble-depth.ts`); the result is
   * normalized to [0, 1]. 1 = the single prediction, as it comes. @default 1
   */
  ensemble?: number;
  /** Reduction of the ensemble's aligned members. @default 'median' */
  reduction?: EnsembleReduction;
  /** Also write the ensemble's per-pixel spread here (float32 `.npy` [H, W]); needs `ensemble` > 1. */
  uncertaintyOut?: string;
  /** Progress lines (the engine choice, ONNX graph builds and cache hits). @default none */
  log?: (line: string) => void;
}

export interface PriorCommandResult {
  out: string;
  /** The model folder or name that ran (the default model's path when none was given). */
  model: string;
  /** The engine that ran the networks, and why. */
  engine: ResolvedEngine;
  shape: [number, number];
  latentShape: number[];
  latentSource: string;
  /** Members of the ensemble (1 without one). */
  ensemble: number;
  scheduler: SchedulerKind;
  timesteps: number[];
  processingResolution: number;
  notes: string[];
  depth: Float32Array;
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
 * The model the prior command runs: `requested` unless absent or `default`, else the embedded default
 * model (as `estimate`); an error naming `--model` while no default model is installed.
 */
export function priorModelPath(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const given = requestedModel(requested);
  if (given) return given;
  const path = defaultModelPath(env);
  if (!path) {
    throw new ApertureDepthError(
      `no --model was given and the default model (${DEFAULT_MODEL_DIR}) is not installed: pass --model DIR ` +
        '(a Marigold checkpoint folder) or a known model name',
      { key: '--model' },
    );
  }
  return path;
}

/**
 * Loads the prior on the chosen engine (tfjs or onnx), encodes the image, predicts relative depth at the
 * input resolution from the given or a seeded noise latent, and writes it (atomically) as float32 `.npy`
 * [H, W]. Both engines draw the same seeded latent and give the same depth up to float error.
 */
export async function runPriorCommand(options: PriorCommandOptions): Promise<PriorCommandResult> {
  const log = options.log ?? (() => {});
  const ensemble = options.ensemble ?? 1;
  checkEnsembleSize(ensemble, '--ensemble');
  check(
    !(options.latents && ensemble > 1),
    () => 'an ensemble draws its own latents (seed .. seed + N - 1): drop --latents or --ensemble',
    {
      key: '--ensemble',
    },
  );
  check(
    !(options.uncertaintyOut && ensemble < 2),
    () => 'the spread needs an ensemble: pass --ensemble N with N >= 2',
    {
      key: '--uncertainty',
    },
  );
  const model = priorModelPath(options.model);
  const defaultNotes = requestedModel(options.model)
    ? []
    : [`no --model: the default model (${DEFAULT_MODEL_DIR})`];
  const img = toFloat(readImage(options.image));
  const { engine, model: prior } = await loadPriorModel(
    model,
    options.engine,
    {
      scheduler: options.scheduler,
      steps: options.steps,
      processingResolution: options.processingResolution,
      margin: options.margin,
    },
    log,
  );
  const tensors: tf.Tensor[] = [];
  try {
    const rgb = tf.tensor3d(rgbOf(img).data, [img.height, img.width, 3]);
    tensors.push(rgb);
    await renamingKey('margin', '--margin', () => prior.encodeImage(rgb));
    const seed = options.seed ?? 0;
    const predict = async (latent: tf.Tensor4D, noiseSeed: number): Promise<Float32Array> => {
      const depthTensor =
        prior instanceof MarigoldPrior
          ? prior.predictDepth(latent, { noiseSeed })
          : await prior.predictDepthAsync(latent, { noiseSeed });
      try {
        return (await depthTensor.data()) as Float32Array;
      } finally {
        depthTensor.dispose();
      }
    };
    const members: Float32Array[] = [];
    for (let i = 0; i < ensemble; i++) {
      const latent = options.latents
        ? readLatentFile(options.latents, prior.latentShape)
        : prior.sampleLatent(seed + i);
      try {
        members.push(await predict(latent, seed + i));
      } finally {
        latent.dispose();
      }
      if (ensemble > 1) log(`ensemble member ${i + 1}/${ensemble} (seed ${seed + i})`);
    }
    const combined =
      ensemble > 1
        ? ensembleDepth(members, { reduction: options.reduction, uncertainty: !!options.uncertaintyOut })
        : undefined;
    const depth = combined ? combined.depth : members[0]!;
    const shape: [number, number] = [img.height, img.width];
    writeNpy(options.out, { shape, dtype: 'float32', data: depth });
    if (options.uncertaintyOut && combined?.uncertainty) {
      writeNpy(options.uncertaintyOut, { shape, dtype: 'float32', data: combined.uncertainty });
    }
    return {
      out: options.out,
      model,
      engine,
      shape,
      latentShape: prior.latentShape,
      latentSource:
        options.latents ?? (ensemble > 1 ? `seeds ${seed}..${seed + ensemble - 1}` : `seed ${seed}`),
      ensemble,
      scheduler: prior.scheduler.kind,
      timesteps: [...prior.scheduler.timesteps],
      processingResolution: prior.image.geometry.processingResolution,
      notes: [...defaultNotes, ...prior.notes],
      depth,
    };
  } finally {
    tf.dispose(tensors);
    await prior.dispose();
  }
}
