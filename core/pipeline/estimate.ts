import * as tf from '@tensorflow/tfjs';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApertureDepthError, check, renamingKey } from '../errors.ts';
import { removeStaleTempFiles, writeFileAtomic } from '../io/atomic.ts';
import { imageSize } from '../io/image-size.ts';
import { writeHdf5 } from '../io/hdf5.ts';
import type { NdArray } from '../io/ndarray.ts';
import { writeNpy } from '../io/npy.ts';
import { writePng } from '../io/png.ts';
import { computeDepthMetrics, type DepthMetrics } from '../metrics/depth-metrics.ts';
import { colorize, robustRange, turbo } from '../report/colormap.ts';
import { versions } from '../run-record/versions.ts';
import { retainSet } from '../engine/native-memory.ts';
import type { NetworkEngineRequest, ResolvedEngine } from '../engine/network-engine.ts';
import { MarigoldPrior, type SchedulerKind } from '../../diffusion/marigold/marigold-prior.ts';
import type { OnnxMarigoldPrior } from '../../diffusion/marigold/onnx-prior.ts';
import { resolveModel } from '../../diffusion/checkpoint/registry.ts';
import { exposureFactor, linearToSrgb } from '../../physics/radiometry.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';
import {
  configToJson,
  resolveOptimizerConfig,
  type OptimizerConfig,
  type OptimizerConfigInput,
  type Variant,
} from '../../optimizers/config.ts';
import { optimizeDepth, type IterationHook, type OptimizeResult } from '../../optimizers/optimize-depth.ts';
import type { DepthPrior } from '../../optimizers/priors/depth-prior.ts';
import { MarigoldDepthPrior } from '../../optimizers/priors/marigold-depth-prior.ts';
import { PixelPrior } from '../../optimizers/priors/pixel-prior.ts';
import { circleOfConfusionPx } from '../../physics/circle-of-confusion.ts';
import { defocusConfidence, OBSERVABLE_THRESHOLD, observableFraction, TEXTURE_FLOOR } from './confidence.ts';
import { DEFAULT_MODEL_DIR, defaultModelPath, requestedModel } from './default-model.ts';
import { readModelDefaults, withModelDefaults } from './model-defaults.ts';
import { loadPriorModel } from './load-prior-model.ts';
import { checkRunBytes, priorFootprint } from './memory-budget.ts';
import { loadPairSpec, readPairImages, type PairImages, type PairSpec } from './pair.ts';

/** What `aperture-depth estimate` does, as options (the CLI only parses arguments into this). */
export interface EstimateOptions {
  /** The pair description (`pair.json`). */
  pair: string;
  /** Output folder (created). */
  outDir: string;
  /** Diffusers folder or known model name. @default the embedded default model (`core/pipeline/default-model.ts`) */
  model?: string;
  /** Overrides `optimizer.variant`. */
  variant?: Variant;
  /** Overrides `optimizer.iterations`. */
  iterations?: number;
  /** Overrides `optimizer.seed`. */
  seed?: number;
  /** Optimizer settings (from `--config`), under the three overrides above. */
  optimizer?: OptimizerConfigInput;
  /** Prior settings. */
  prior?: { steps?: number; scheduler?: SchedulerKind; processingResolution?: number; margin?: number };
  /**
   * Executor of the prior's networks (`--engine`, config `prior.engine`): `tfjs`, `onnx` (onnxruntime
   * graphs, `diffusion/onnx`) or `auto`, the faster one available (`core/engine/network-engine.ts`).
   * @default 'auto'
   */
  engine?: NetworkEngineRequest;
  /**
   * Optimize at a box-downsampled size whose long side is at most this (the pixel pitch grows by the same
   * factor); depth is resized back to the input size. @default the input size
   */
  workingMaxSide?: number;
  /** Continue from `outDir/checkpoint.json` when it exists. @default false */
  resume?: boolean;
  /** Checkpoint every N iterations. @default 10 */
  checkpointEvery?: number;
  /** @default 'auto' (a bar on stderr only when it is a TTY) */
  progress?: boolean | 'auto';
  hooks?: IterationHook[];
  /** Informational lines (fallbacks, search result, resume). @default none */
  log?: (line: string) => void;
  /** Recorded in run.json. */
  configFile?: string;
  /**
   * Refuse up front (before reading pixels or loading the model) when the run's tensors would need more
   * bytes than this (`memory-budget.ts`), naming the working size that would fit. @default no limit
   */
  maxTensorBytes?: number;
  /** Aborting it (the CLI does on SIGINT) stops after the current iteration with a checkpoint written. */
  signal?: AbortSignal;
}

/** The files an estimate writes. */
export interface EstimateFiles {
  depthNpy: string;
  depthMmPng: string;
  depthPng: string;
  resultH5: string;
  runJson: string;
  /** Confidence `[H, W]` in [0, 1]: where depth is observable from defocus (`confidence.ts`). */
  confidenceNpy: string;
  metricsJson?: string;
  checkpoint: string;
}

export interface EstimateResult {
  outDir: string;
  files: EstimateFiles;
  /** Metric depth, metres, `[height * width]` row-major at the input size. */
  depth: Float32Array;
  width: number;
  height: number;
  variant: Variant;
  /** The prior used (`marigold`, `pixel`, `fixed`), and why it differs from the request, if it does. */
  prior: { name: string; model: string | null; fallback: string | null };
  scale: number;
  shift: number;
  lossHistory: number[];
  finalLoss: number;
  iterations: number;
  metrics: DepthMetrics | null;
  /** The run record as written to run.json. */
  record: Record<string, unknown>;
}

/** Box-downsamples `[H, W, C]` by an integer factor. */
function downsample(x: tf.Tensor3D, k: number): tf.Tensor3D {
  return k > 1 ? (tf.avgPool(x, k, k, 'valid') as tf.Tensor3D) : x.clone();
}

/**
 * The gain that equalizes the blurred image's energy to the AIF's when the exposure times are unknown: blur
 * only moves light around, so the ratio of sums over pixels unsaturated in both images (and away from the
 * border, where light leaves the frame) estimates it without knowing depth.
 */
export function fitEnergyGain(aif: tf.Tensor3D, blurred: tf.Tensor3D, saturation = 0.99): number {
  return tf.tidy(() => {
    const [H, W] = aif.shape;
    const b = Math.min(Math.floor(Math.min(H, W) / 8), 16);
    const crop = (x: tf.Tensor3D) => tf.slice(x, [b, b, 0], [H - 2 * b, W - 2 * b, -1]);
    const a = crop(aif);
    const o = crop(blurred);
    const ok = tf.cast(
      tf.logicalAnd(tf.less(tf.max(a, 2, true), saturation), tf.less(tf.max(o, 2, true), saturation)),
      'float32',
    );
    const num = tf.sum(tf.mul(a, ok)).dataSync()[0];
    const den = tf.sum(tf.mul(o, ok)).dataSync()[0];
    return den > 0 && num > 0 ? num / den : 1;
  });
}

/** Darker than this everywhere (linear, ~6 16-bit steps) is a black image. */
const BLACK_LEVEL = 1e-4;
/** Fewer usable (unsaturated) pixels than this fraction: nothing to compare the blur on. */
const MIN_USABLE_FRACTION = 0.01;

/**
 * Refuses pairs that carry no depth signal at all, before any work: a black image (no light), or images
 * saturated (at or above the loss's saturation level, 1.0 when that mask is off) almost everywhere.
 * A merely flat image is not refused here; the confidence map marks it unobservable.
 */
function checkSignal(images: PairImages, spec: PairSpec, saturation: number | null): void {
  const level = saturation ?? 1;
  const stats = tf.tidy(() => {
    const peakA = tf.max(images.aif, 2); // [H, W]
    const peakB = tf.max(images.blurred, 2); // [H, W]
    const satA = tf.mean(tf.cast(tf.greaterEqual(peakA, level), 'float32'));
    const satB = tf.mean(tf.cast(tf.greaterEqual(peakB, level), 'float32'));
    const usable = tf.mean(tf.cast(tf.logicalAnd(tf.less(peakA, level), tf.less(peakB, level)), 'float32'));
    return tf.stack([tf.max(peakA), tf.max(peakB), satA, satB, usable]).dataSync();
  });
  const [maxA, maxB, satA, satB, usable] = Array.from(stats);
  for (const [max, file, key] of [
    [maxA, spec.aif, 'aif'],
    [maxB, spec.blurred, 'blurred'],
  ] as const) {
    check(
      max >= BLACK_LEVEL,
      () => `the ${key} image ${file} is black (brightest value ${max}): no light to estimate depth from`,
      {
        file: spec.file,
        key,
      },
    );
  }
  check(
    usable >= MIN_USABLE_FRACTION,
    () =>
      `only ${(100 * usable).toFixed(2)} % of the pixels are below the saturation level ${level} in both images ` +
      `(aif ${(100 * satA).toFixed(1)} % saturated, blurred ${(100 * satB).toFixed(1)} %): too few to compare the blur ` +
      'on; expose shorter, or set optimizer.loss.saturation',
    { file: spec.file, key: satB > satA ? 'blurred' : 'aif' },
  );
}

/** `limits.max_tensor_bytes` / `--max-tensor-bytes`: the budget of `memory-budget.ts`, from headers only. */
function checkBudget(
  spec: PairSpec,
  options: EstimateOptions,
  variantConfig: (variant: Variant) => OptimizerConfig,
  requested: OptimizerConfig,
  modelPath: string | undefined,
): void {
  const { width, height } = imageSize(spec.aif);
  const variant = modelPath ? requested.variant : 'pixel';
  const prior = modelPath
    ? priorFootprint(modelPath, {
        steps: options.prior?.steps,
        processingResolution: options.prior?.processingResolution,
        margin: options.prior?.margin,
      })
    : undefined;
  const renderer = variantConfig(variant).renderer;
  checkRunBytes(
    { width, height, workingMaxSide: options.workingMaxSide, variant, renderer, ...(prior ? { prior } : {}) },
    options.maxTensorBytes!,
    spec.file,
  );
}

/** The median CoC (pixels) of a depth map under the forward model's f-number. */
function medianCocPx(depth: tf.Tensor2D, camera: ThinLensCamera, fNumber: number): number {
  const c = tf
    .tidy(() => circleOfConfusionPx(camera, depth, fNumber).dataSync() as Float32Array)
    .slice()
    .sort();
  const m = c[Math.floor(c.length / 2)] ?? 0;
  return Number.isFinite(m) ? m : 0;
}

function ndarray(t: tf.Tensor): NdArray {
  return { shape: t.shape.slice(), dtype: 'float32', data: (t.dataSync() as Float32Array).slice() };
}

/**
 * The estimate pipeline: pair -> radiometry -> prior -> optimization -> files.
 * 1. Load and validate pair.json; linearize; equalize exposure (times given) or fit a gain (not given).
 * 2. Optionally downsample to a working size (the camera's pixel pitch grows with it).
 * 3. Build the prior: the Marigold model (or the embedded default) for full / scale-shift / oracle, the
 *    pixel prior for pixel (and as the fallback, with a message, while no default model exists).
 * 4. Optimize (checkpoints in `outDir/checkpoint.json`, resumable).
 * 5. Write depth.npy, depth_mm.png, depth.png, result.h5, run.json and (with ground truth) metrics.json,
 *    each atomically.
 */
export async function estimate(options: EstimateOptions): Promise<EstimateResult> {
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });

  // 1. The pair, linear; blurred equalized to the AIF's energy. [H, W, 3]
  const spec: PairSpec = loadPairSpec(options.pair);
  if (options.resume) removeStaleTempFiles(outDir); // what a killed run left half-written
  const requestedInput: OptimizerConfigInput = {
    ...options.optimizer,
    ...(options.variant !== undefined ? { variant: options.variant } : {}),
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  };
  // The prior's folder (none for the pixel variant, or while no default model is installed), and its own rates
  // (defocus_defaults.json) where the caller leaves them unset; read before anything is allocated.
  const priorFolder =
    resolveOptimizerConfig(requestedInput).variant !== 'pixel'
      ? (requestedModel(options.model) ?? defaultModelPath())
      : undefined;
  const withDefaults = withModelDefaults(
    requestedInput,
    priorFolder ? readModelDefaults(resolveModel(priorFolder).path) : undefined,
  );
  const optimizerInput = withDefaults.input;
  // The resolved optimizer config as requested (with the model's rates), and as run by another variant (the
  // pixel fallback when no model is installed).
  const requested = resolveOptimizerConfig(optimizerInput);
  const variantConfig = (v: Variant): OptimizerConfig =>
    v === requested.variant ? requested : resolveOptimizerConfig({ ...optimizerInput, variant: v });
  if (options.maxTensorBytes !== undefined) checkBudget(spec, options, variantConfig, requested, priorFolder);
  const images = readPairImages(spec);
  const { width: W, height: H } = images;
  try {
    checkSignal(images, spec, requested.masks.saturation);
  } catch (err) {
    tf.dispose([images.aif, images.blurred, ...(images.depthGt ? [images.depthGt] : [])]);
    throw err;
  }
  const timed = spec.exposureTimeAifS !== null && spec.exposureTimeBlurredS !== null;
  const gain = timed
    ? exposureFactor({
        exposureTimeAifS: spec.exposureTimeAifS!,
        exposureTimeBlurredS: spec.exposureTimeBlurredS!,
        fNumberAif: spec.fNumberAif,
        fNumberBlurred: spec.fNumberBlurred,
      })
    : fitEnergyGain(images.aif, images.blurred);
  const observedFull = tf.tidy(() => tf.mul(images.blurred, gain) as tf.Tensor3D);
  images.blurred.dispose();

  // 2. Working size.
  const maxSide = options.workingMaxSide;
  check(
    maxSide === undefined || (Number.isInteger(maxSide) && maxSide >= 8),
    () => `must be an integer >= 8, got ${maxSide}`,
    {
      key: 'workingMaxSide',
    },
  );
  const k = maxSide ? Math.max(1, Math.ceil(Math.max(H, W) / maxSide)) : 1;
  const aif = downsample(images.aif, k); // [h, w, 3]
  const observed = downsample(observedFull, k); // [h, w, 3]
  tf.dispose([images.aif, observedFull]);
  const [h, w] = aif.shape;
  const camera =
    k > 1
      ? new ThinLensCamera({
          focalLengthMm: spec.camera.focalLengthMm,
          pixelPitchUm: spec.camera.pixelPitchUm * k,
          focusDistanceM: spec.camera.focusDistanceM,
        })
      : spec.camera;

  // 3. The prior.
  let variant = requested.variant;
  let fallback: string | null = null;
  let modelPath: string | null = null;
  let prior: DepthPrior;
  let model: MarigoldPrior | OnnxMarigoldPrior | undefined;
  let engine: ResolvedEngine | null = null;
  if (variant !== 'pixel') {
    modelPath = priorFolder ?? null;
    if (!modelPath) {
      fallback =
        `the default model (${DEFAULT_MODEL_DIR}) is not installed and no --model was given: running the ` +
        `prior-free pixel variant instead of "${variant}"; pass --model DIR (a Marigold checkpoint) for the diffusion prior`;
      log(fallback);
      variant = 'pixel';
    }
  }
  if (variant === 'pixel') {
    prior = new PixelPrior(h, w);
  } else {
    const loaded = await loadPriorModel(
      modelPath!,
      options.engine,
      {
        steps: options.prior?.steps,
        scheduler: options.prior?.scheduler,
        processingResolution: options.prior?.processingResolution,
        margin: options.prior?.margin,
      },
      log,
    );
    engine = loaded.engine;
    model = loaded.model;
    for (const note of model.notes) log(`prior: ${note}`);
    const srgb = tf.tidy(() => linearToSrgb(tf.clipByValue(aif, 0, 1)) as tf.Tensor3D); // [h, w, 3]
    try {
      const adapterOptions = { processingResolution: options.prior?.processingResolution };
      const m = model;
      prior = await renamingKey('margin', 'prior.margin', () =>
        m instanceof MarigoldPrior
          ? MarigoldDepthPrior.create(m, srgb, adapterOptions)
          : MarigoldDepthPrior.createAsync(m, srgb, adapterOptions),
      );
    } finally {
      srgb.dispose();
    }
  }
  const config = variantConfig(variant);
  if (withDefaults.source.lr_latent === 'model' && variant === 'full') {
    log(`optimizer: latent learning rate ${config.lr.latent} from ${withDefaults.source.file}`);
  }
  if (variant === 'oracle') {
    // The oracle aligns to ground truth: without a valid pixel of it there is nothing to align to.
    const valid = images.depthGt
      ? tf.tidy(() => tf.sum(tf.cast(tf.isFinite(images.depthGt!), 'int32')).dataSync()[0])
      : 0;
    if (valid === 0) {
      tf.dispose([aif, observed, ...(images.depthGt ? [images.depthGt] : [])]);
      prior.dispose();
      model?.dispose();
      throw new ApertureDepthError(
        images.depthGt
          ? `the oracle variant aligns to ground truth, but ${spec.depthGt} has no valid pixel (all NaN or zero)`
          : 'the oracle variant aligns to ground truth: pair.json needs depth_gt',
        { file: spec.file, key: 'depth_gt' },
      );
    }
  }
  const depthGtWork =
    images.depthGt && variant === 'oracle'
      ? tf.tidy(() => {
          // Ground truth at the working size: block means of the valid pixels.
          if (k === 1) return images.depthGt!.clone();
          const g = tf.expandDims(images.depthGt!, 2) as tf.Tensor3D;
          const valid = tf.cast(tf.logicalNot(tf.isNaN(g)), 'float32');
          const sum = tf.avgPool(tf.where(tf.isNaN(g), tf.zerosLike(g), g) as tf.Tensor3D, k, k, 'valid');
          const cnt = tf.avgPool(valid as tf.Tensor3D, k, k, 'valid');
          return tf.squeeze(
            tf.where(tf.greater(cnt, 0), tf.div(sum, tf.maximum(cnt, 1e-12)), tf.fill(cnt.shape, Number.NaN)),
            [2],
          ) as tf.Tensor2D;
        })
      : undefined;

  // 4. Optimize.
  const files: EstimateFiles = {
    depthNpy: join(outDir, 'depth.npy'),
    depthMmPng: join(outDir, 'depth_mm.png'),
    depthPng: join(outDir, 'depth.png'),
    resultH5: join(outDir, 'result.h5'),
    runJson: join(outDir, 'run.json'),
    confidenceNpy: join(outDir, 'confidence.npy'),
    checkpoint: join(outDir, 'checkpoint.json'),
  };
  let result: OptimizeResult;
  try {
    result = await optimizeDepth(
      {
        aif,
        observed,
        camera,
        fNumberAif: spec.fNumberAif,
        fNumberBlurred: spec.fNumberBlurred,
        prior,
        depthGt: depthGtWork,
      },
      config,
      {
        checkpointPath: files.checkpoint,
        checkpointEvery: options.checkpointEvery ?? 10,
        resume: options.resume ?? false,
        progress: options.progress ?? 'auto',
        hooks: options.hooks,
        log,
        signal: options.signal,
      },
    );
  } catch (err) {
    tf.dispose([
      aif,
      observed,
      ...(depthGtWork ? [depthGtWork] : []),
      ...(images.depthGt ? [images.depthGt] : []),
    ]);
    prior.dispose();
    await model?.dispose();
    throw err;
  }

  // 5. Outputs at the input size.
  const depthFull = tf.tidy(() =>
    k > 1 || h !== H || w !== W
      ? (tf.squeeze(
          tf.image.resizeBilinear(tf.expandDims(result.depth, 2) as tf.Tensor3D, [H, W]),
          [2],
        ) as tf.Tensor2D)
      : result.depth.clone(),
  );
  const depth = (depthFull.dataSync() as Float32Array).slice();
  depthFull.dispose();
  // Never write a depth map with holes nobody asked for: NaN, infinite or non-positive depth is an error.
  let bad = 0;
  for (let i = 0; i < depth.length; i++) if (!(Number.isFinite(depth[i]) && depth[i] > 0)) bad++;
  if (bad > 0) {
    result.dispose();
    tf.dispose([
      aif,
      observed,
      ...(depthGtWork ? [depthGtWork] : []),
      ...(images.depthGt ? [images.depthGt] : []),
    ]);
    prior.dispose();
    await model?.dispose();
    throw new ApertureDepthError(
      `the estimated depth has ${bad} NaN, infinite or non-positive value(s) of ${depth.length}; no output was ` +
        `written (the optimizer's state is in ${files.checkpoint})`,
      { file: spec.file, key: 'depth' },
    );
  }
  // Where the depth is a measurement and where only the prior's guess (flat or saturated regions).
  const blurRadiusPx = Math.max(1, medianCocPx(result.depth, camera, result.modelFNumber) / 2);
  const saturation = result.config.masks.saturation;
  const confidence = tf.tidy(() => {
    const c = defocusConfidence(aif, observed, { radiusPx: blurRadiusPx, saturation }); // [h, w]
    const full = h !== H || w !== W ? tf.image.resizeBilinear(tf.expandDims(c, 2) as tf.Tensor3D, [H, W]) : c;
    return (tf.reshape(full, [H, W]).dataSync() as Float32Array).slice(); // [H * W]
  });
  const observable = observableFraction(confidence);
  if (observable < 0.05) {
    log(
      `warning: depth is observable from defocus in only ${(100 * observable).toFixed(1)} % of the image (too ` +
        "little texture at the scale of the blur, or saturated); elsewhere depth.npy holds the prior's guess. " +
        `See ${files.confidenceNpy}.`,
    );
  }
  writeNpy(files.confidenceNpy, { shape: [H, W], dtype: 'float32', data: confidence });
  writeNpy(files.depthNpy, { shape: [H, W], dtype: 'float32', data: depth });
  const mm = new Uint16Array(depth.length);
  for (let i = 0; i < depth.length; i++) {
    const v = depth[i] * 1000;
    mm[i] = Number.isFinite(v) ? Math.min(65535, Math.max(1, Math.round(v))) : 0;
  }
  writePng(files.depthMmPng, { width: W, height: H, channels: 1, bitDepth: 16, data: mm });
  const [lo, hi] = robustRange(depth);
  const preview = colorize(depth, W, H, lo, hi, turbo);
  writePng(files.depthPng, { width: W, height: H, channels: 3, bitDepth: 8, data: preview.data });

  let metrics: DepthMetrics | null = null;
  if (images.depthGt) {
    metrics = computeDepthMetrics(depth, images.depthGt.dataSync(), images.evalMask);
    files.metricsJson = join(outDir, 'metrics.json');
    writeFileAtomic(files.metricsJson, `${JSON.stringify(metrics, null, 2)}\n`);
  }

  const seed = config.seed;
  const vers = versions();
  const configJson = configToJson(result.config);
  const residual = tf.tidy(() => tf.sub(result.rendered, observed));
  const datasets: Record<string, NdArray> = {
    depth: { shape: [H, W], dtype: 'float32', data: depth },
    confidence: { shape: [H, W], dtype: 'float32', data: confidence },
    depth_working: ndarray(result.depth),
    relative_depth: ndarray(result.relativeDepth),
    rendered: ndarray(result.rendered),
    observed: ndarray(observed),
    aif: ndarray(aif),
    residual: ndarray(residual),
    mask: ndarray(result.mask),
  };
  residual.dispose();
  if (result.lossHistory.length > 0) {
    datasets.loss_history = {
      shape: [result.lossHistory.length],
      dtype: 'float64',
      data: Float64Array.from(result.lossHistory),
    };
  }
  if (result.initialLatent.size > 0) {
    datasets.initial_latent = ndarray(result.initialLatent);
    datasets.final_latent = ndarray(result.finalLatent);
  }
  await writeHdf5(files.resultH5, {
    datasets,
    attrs: {
      scale: result.scale,
      shift: result.shift,
      final_loss: result.finalLoss,
      iterations: result.iterations,
      seed,
      variant,
      prior: prior.name,
      model: modelPath ?? '',
      gain,
      working_downscale: k,
      config: JSON.stringify(configJson),
      versions: JSON.stringify(vers),
    },
  });

  const timings = { ...result.timings, estimateMs: performance.now() - t0 };
  const record: Record<string, unknown> = {
    pair: spec.file,
    out: outDir,
    config_file: options.configFile ?? null,
    variant,
    requested_variant: requested.variant,
    prior: { name: prior.name, model: modelPath, fallback, latent_shape: [...prior.latentShape] },
    engine: engine
      ? {
          name: engine.engine,
          requested: engine.requested,
          reason: engine.reason,
          ...(engine.onnxruntime ? { onnxruntime: engine.onnxruntime } : {}),
          // Whether the C allocator kept onnxruntime's freed blocks (core/engine/native-memory.ts).
          ...(engine.engine === 'onnx' ? { native_memory: retainSet() ? 'retain' : 'system' } : {}),
        }
      : null,
    seed,
    optimizer: configJson,
    optimizer_source: withDefaults.source,
    radiometry: {
      encoding: spec.encoding,
      gain,
      gain_source: timed ? 'exposure times' : 'fitted (energy ratio)',
    },
    working: { downscale: k, width: w, height: h, pixel_pitch_um: camera.pixelPitchUm },
    camera: spec.camera.toJson(),
    f_number_aif: spec.fNumberAif,
    f_number_blurred: spec.fNumberBlurred,
    model_f_number: result.modelFNumber,
    scale: result.scale,
    shift: result.shift,
    grid_init: result.gridInit,
    border_px: result.borderPx,
    edge_radius_px: result.edgeRadiusPx,
    iterations: result.iterations,
    observability: {
      observable_fraction: observable,
      threshold: OBSERVABLE_THRESHOLD,
      texture_floor: TEXTURE_FLOOR,
      blur_radius_px: blurRadiusPx,
    },
    stopped_early: result.stoppedEarly,
    resumed_from: result.resumedFrom ?? null,
    initial_loss: result.lossHistory[0] ?? null,
    final_loss: result.finalLoss,
    metrics,
    timings_ms: timings,
    versions: vers,
    files: Object.fromEntries(Object.entries(files).map(([k2, v]) => [k2, v])),
  };
  writeFileAtomic(files.runJson, `${JSON.stringify(record, null, 2)}\n`);

  const out: EstimateResult = {
    outDir,
    files,
    depth,
    width: W,
    height: H,
    variant,
    prior: { name: prior.name, model: modelPath, fallback },
    scale: result.scale,
    shift: result.shift,
    lossHistory: result.lossHistory,
    finalLoss: result.finalLoss,
    iterations: result.iterations,
    metrics,
    record,
  };
  result.dispose();
  tf.dispose([
    aif,
    observed,
    ...(depthGtWork ? [depthGtWork] : []),
    ...(images.depthGt ? [images.depthGt] : []),
  ]);
  prior.dispose();
  await model?.dispose();
  return out;
}
