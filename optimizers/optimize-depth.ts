import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError, check } from '../core/errors.ts';
import { InterruptedError } from '../core/interrupt.ts';
import { alignToGroundTruth } from '../core/metrics/align.ts';
import { Rng } from '../core/tensor/rng.ts';
import { cocScalePx, circleOfConfusionPxScalar } from '../physics/circle-of-confusion.ts';
import { getRenderer, type Renderer } from '../physics/renderers/index.ts';
import { ThinLensCamera } from '../physics/thin-lens-camera.ts';
import { Adam, type ParamGroupSpec } from './adam.ts';
import { tryBasins, type BasinTrial } from './basin-trials.ts';
import { readCheckpoint, writeCheckpoint, type OptimizerState } from './checkpoint.ts';
import {
  configToJson,
  resolveOptimizerConfig,
  type OptimizerConfig,
  type OptimizerConfigInput,
} from './config.ts';
import { PlateauStopper } from './early-stopping.ts';
import {
  borderMask,
  combineMasks,
  composeLoss,
  depthEdgeMask,
  resolveLoss,
  saturationMask,
  tvRegularizer,
  type LossContext,
  type LossFn,
} from './losses/index.ts';
import {
  candidateDepths,
  createMapping,
  gridSearchScaleShift,
  type MetricMapping,
} from './mappings/index.ts';
import type { DepthPrior } from './priors/depth-prior.ts';
import { localSearchLogits } from './pixel-init.ts';
import { ProgressBar } from './progress.ts';
import { createSchedule } from './schedules.ts';

/** Parameter group names (also the keys of checkpoints and Adam state). */
export const LATENT_GROUP = 'latent';
export const SCALE_SHIFT_GROUP = 'scale_shift';

/**
 * One aperture pair, ready for the optimizer: linear images with equal energy (radiometry done), the
 * optics, and the prior that proposes relative depth. The caller keeps ownership of every tensor.
 */
export interface DepthProblem {
  /** Small-aperture (all-in-focus) image, linear, `[H, W, C]`. */
  aif: tf.Tensor3D;
  /** Large-aperture image, linear, exposure-equalized to `aif`, `[H, W, C]`. */
  observed: tf.Tensor3D;
  camera: ThinLensCamera;
  fNumberAif: number;
  fNumberBlurred: number;
  /** Proposes relative depth `[H, W]`; its `outputShape` must be `[H, W]`. */
  prior: DepthPrior;
  /** Ground truth, metres `[H, W]` (NaN or <= 0 = invalid); needed by the `oracle` variant only. */
  depthGt?: tf.Tensor2D;
}

/** What a hook sees after an iteration. */
export interface IterationInfo {
  /** Completed iterations (1-based after the first step). */
  iteration: number;
  total: number;
  /** Loss before this step. */
  loss: number;
  /** Metric mapping after this step: `depth = scale * relative + shift`. */
  scale: number;
  shift: number;
  lrFactor: number;
  elapsedMs: number;
  /**
   * Current metric depth `[H * W]` row-major (computed on demand: one prior forward). A prior on an
   * asynchronous engine (ONNX) cannot answer synchronously: use `depthAsync` (works with every prior).
   */
  depth(): Float32Array;
  depthAsync(): Promise<Float32Array>;
}

/** A callback run every `every` iterations (and after the last one). */
export interface IterationHook {
  every: number;
  fn: (info: IterationInfo) => void | Promise<void>;
}

/** How to run (not what to optimize): checkpoints, progress, hooks. */
export interface RunOptions {
  /** Checkpoint file (JSON, written atomically); none when absent. */
  checkpointPath?: string;
  /** Write a checkpoint every this many iterations (and at the end). @default 10 */
  checkpointEvery?: number;
  /** Continue from `checkpointPath` when it exists (a fresh start when it does not). @default false */
  resume?: boolean;
  /** Progress bar on stderr: `'auto'` = only on a TTY. @default 'auto' */
  progress?: boolean | 'auto';
  hooks?: IterationHook[];
  /** Informational messages (search result, resume point). @default none */
  log?: (message: string) => void;
  /**
   * When aborted (the CLI does on SIGINT), the loop writes a checkpoint at the end of the current iteration
   * and throws an `InterruptedError`; `resume` continues from there as if nothing happened.
   */
  signal?: AbortSignal;
}

/** The outcome of {@link optimizeDepth}. The caller disposes it (`result.dispose()`). */
export interface OptimizeResult {
  /** Metric depth, metres, `[H, W]`. */
  depth: tf.Tensor2D;
  /** The prior's relative depth at the end, `[H, W]` in [0, 1]. */
  relativeDepth: tf.Tensor2D;
  /** The forward model at the final depth, `[H, W, C]`. */
  rendered: tf.Tensor3D;
  /** The weights the data term used, `[H, W]` (1 everywhere when no mask applied). */
  mask: tf.Tensor2D;
  initialLatent: tf.Tensor;
  finalLatent: tf.Tensor;
  scale: number;
  shift: number;
  mappingParams: Float32Array;
  /** Loss before each step; `finalLoss` is the loss at the returned depth. */
  lossHistory: number[];
  finalLoss: number;
  /** Completed Adam steps. */
  iterations: number;
  stoppedEarly: boolean;
  /** The iteration a resumed run continued from (undefined for a fresh run). */
  resumedFrom?: number;
  /** The coarse search's choice, when it ran. */
  gridInit: { scale: number; shift: number; loss: number } | null;
  borderPx: number;
  /** Radius of the depth-edge mask (pixels), null when unused. */
  edgeRadiusPx: number | null;
  /** The f-number the forward model used (differs from `fNumberBlurred` with `relativeBlur`). */
  modelFNumber: number;
  config: OptimizerConfig;
  timings: { initMs: number; loopMs: number; totalMs: number; msPerIteration: number };
  dispose(): void;
}

/**
 * The f-number whose blur equals the CoC difference `sqrt(c_b^2 - c_aif^2)`: CoCs scale as `1 / N`, so
 * `N_eff = 1 / sqrt(1/N_b^2 - 1/N_aif^2)`. With `relativeBlur` off, `N_b` itself.
 */
export function modelFNumber(fNumberAif: number, fNumberBlurred: number, relativeBlur: boolean): number {
  if (!relativeBlur) return fNumberBlurred;
  check(
    fNumberAif > fNumberBlurred,
    () => `relative blur needs f_number_aif (${fNumberAif}) > f_number_blurred (${fNumberBlurred})`,
    { key: 'relativeBlur' },
  );
  return 1 / Math.sqrt(1 / fNumberBlurred ** 2 - 1 / fNumberAif ** 2);
}

/** Projects onto the sphere of radius sqrt(M), M = number of entries (METHOD.md, objective). */
export function projectToSphere(latent: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const radius = Math.sqrt(latent.size);
    return tf.mul(latent, tf.div(radius, tf.maximum(tf.norm(latent), 1e-12)));
  });
}

/** Box-downsamples `[H, W, C]` by an integer factor (exact area average; edges that do not fill a box drop). */
function downsample(image: tf.Tensor3D, factor: number): tf.Tensor3D {
  if (factor <= 1) return image.clone();
  return tf.avgPool(image, factor, factor, 'valid') as tf.Tensor3D;
}

function checkProblem(problem: DepthProblem): [number, number, number] {
  const { aif, observed, prior } = problem;
  check(aif instanceof tf.Tensor && aif.rank === 3, () => `aif must be [H, W, C], got [${aif?.shape}]`, {
    key: 'problem.aif',
  });
  const [H, W, C] = aif.shape;
  check(
    observed instanceof tf.Tensor && observed.shape.join() === aif.shape.join(),
    () => `observed is [${observed?.shape}] but aif is [${aif.shape}]; they must match`,
    { key: 'problem.observed' },
  );
  check(
    prior.outputShape[0] === H && prior.outputShape[1] === W,
    () => `prior ${prior.name} predicts [${prior.outputShape}] but the images are [${H}, ${W}]`,
    { key: 'problem.prior' },
  );
  check(problem.camera instanceof ThinLensCamera, () => 'camera must be a ThinLensCamera', {
    key: 'problem.camera',
  });
  for (const k of ['fNumberAif', 'fNumberBlurred'] as const) {
    const v = problem[k];
    check(Number.isFinite(v) && v > 0, () => `must be a positive number, got ${v}`, { key: `problem.${k}` });
  }
  if (problem.depthGt) {
    check(
      problem.depthGt.shape[0] === H && problem.depthGt.shape[1] === W,
      () => `depthGt is [${problem.depthGt!.shape}] but the images are [${H}, ${W}]`,
      { key: 'problem.depthGt' },
    );
  }
  return [H, W, C];
}

/** The fingerprint a checkpoint must match to be resumed. */
function fingerprintOf(
  problem: DepthProblem,
  config: OptimizerConfig,
  trainLatent: boolean,
): Record<string, unknown> {
  return {
    variant: config.variant,
    seed: config.seed,
    mapping: config.mapping,
    prior: problem.prior.name,
    latent_shape: [...problem.prior.latentShape],
    image_shape: problem.aif.shape,
    renderer: config.renderer,
    relative_blur: config.relativeBlur,
    train_latent: trainLatent,
  };
}

/** The model and loss of one problem, as functions of the parameter groups (what the loop differentiates). */
export interface DefocusObjective {
  /**
   * Relative depth `[H, W]` -> metric depth `[H, W]` -> rendered `[H, W, C]`, for these parameters.
   * `relative`, when given, is the prior's output for the latent (computed outside, e.g. by an
   * asynchronous engine) and is used instead of calling the prior.
   */
  forward(
    params: Record<string, tf.Tensor>,
    relative?: tf.Tensor2D,
  ): {
    latent: tf.Tensor;
    relativeDepth: tf.Tensor2D;
    depth: tf.Tensor2D;
    rendered: tf.Tensor3D;
  };
  /** The scalar the optimizer minimizes (data term plus regularizers); `relative` as in `forward`. */
  loss(params: Record<string, tf.Tensor>, iteration: number, relative?: tf.Tensor2D): tf.Scalar;
}

/** The pieces of a {@link DefocusObjective}. */
export interface DefocusObjectiveParts {
  mapping: MetricMapping;
  renderer: Renderer;
  /** f-number of the forward model (see {@link modelFNumber}). */
  fNumber: number;
  lossFn: LossFn;
  mask?: tf.Tensor2D;
  /** PSF of the renderer. @default 'disc' */
  psf?: 'disc' | 'gaussian';
  /** When set, the latent is this constant (not a parameter). */
  fixedLatent?: tf.Tensor;
  /** When set, the relative depth is this constant (a frozen latent's prediction, computed once). */
  frozenRelative?: tf.Tensor2D;
}

/**
 * `loss(render(aif, mapping(prior(latent), scale_shift)), observed)` as a function of the parameter groups
 * `latent` (unless fixed) and `scale_shift`: the objective of METHOD.md, exposed so that its gradients can be
 * checked against finite differences and scripts can evaluate it.
 */
export function createDefocusObjective(
  problem: DepthProblem,
  parts: DefocusObjectiveParts,
): DefocusObjective {
  const { mapping, renderer, fNumber, lossFn, mask, fixedLatent, frozenRelative } = parts;
  const renderOptions = { psf: parts.psf ?? 'disc' };
  const forward: DefocusObjective['forward'] = (p, relative) => {
    const latent = fixedLatent ?? p[LATENT_GROUP];
    check(latent, () => `missing parameter group "${LATENT_GROUP}"`, { key: 'objective' });
    const relativeDepth = relative ?? frozenRelative ?? problem.prior.predict(latent); // [H, W]
    const depth = mapping.apply(relativeDepth, p[SCALE_SHIFT_GROUP] as tf.Tensor1D); // [H, W] metres
    const rendered = renderer.render(problem.aif, depth, problem.camera, fNumber, renderOptions); // [H, W, C]
    return { latent, relativeDepth, depth, rendered };
  };
  return {
    forward,
    loss: (p, iteration, relative) =>
      lossFn({ ...forward(p, relative), observed: problem.observed, iteration, mask }),
  };
}

/**
 * Coarse-to-fine search of the data loss over metric scale and shift with the initial relative depth, on
 * box-downsampled images (the camera's pixel pitch grows by the same factor, so CoCs stay consistent).
 * Candidates lie on both sides of the focus plane (see `candidateDepths`).
 */
export function searchScaleShift(
  problem: DepthProblem,
  relative: tf.Tensor2D,
  config: OptimizerConfig,
  renderer: Renderer,
  fNumber: number,
  dataLoss: LossFn,
): { scale: number; shift: number; loss: number; evaluated: number; trials: BasinTrial[] } {
  const [H, W] = relative.shape;
  const factor = Math.max(1, Math.ceil(Math.max(H, W) / config.grid.maxSide));
  const cam = problem.camera;
  const camS = new ThinLensCamera({
    focalLengthMm: cam.focalLengthMm,
    pixelPitchUm: cam.pixelPitchUm * factor,
    focusDistanceM: cam.focusDistanceM,
  });
  const aifS = tf.keep(downsample(problem.aif, factor)); // [h, w, C]
  const obsS = tf.keep(downsample(problem.observed, factor)); // [h, w, C]
  const relS = tf.keep(
    tf.tidy(() => tf.squeeze(downsample(tf.expandDims(relative, 2) as tf.Tensor3D, factor), [2])),
  ); // [h, w]
  // Saturation and (at this coarse scale, a 1-pixel radius) depth-edge masks.
  const maskS = tf.tidy(() => {
    const sat =
      config.masks.saturation === null ? undefined : saturationMask([aifS, obsS], config.masks.saturation);
    const edges = config.masks.depthEdges
      ? depthEdgeMask(relS as tf.Tensor2D, 1, config.masks.depthEdges.threshold)
      : undefined;
    const m = combineMasks(sat, edges);
    // A mask that leaves almost nothing is worse than none.
    return m && tf.mean(m).dataSync()[0] >= 0.1 ? m : sat;
  });
  if (maskS) tf.keep(maskS);
  try {
    const depths = candidateDepths({
      focusDistanceM: cam.focusDistanceM,
      focalLengthM: cam.focalLengthM,
      cocAtInfinityPx: cocScalePx(camS, fNumber),
      levelsPx: config.grid.levelsPx,
      side: config.sceneSide,
    });
    // The data loss of a metric depth [h, w] on the downsampled images: the search's and the basin trials'.
    const coarseLoss = (depth: tf.Tensor2D): tf.Scalar => {
      const rendered = renderer.render(aifS, depth, camS, fNumber, { psf: config.psf });
      const ctx: LossContext = {
        rendered,
        observed: obsS,
        depth,
        relativeDepth: relS as tf.Tensor2D,
        latent: tf.zeros([0]),
        iteration: -1,
        mask: maskS,
      };
      return dataLoss(ctx);
    };
    const evaluate = ({ scale, shift }: { scale: number; shift: number }): number =>
      tf.tidy(() => coarseLoss(tf.add(tf.mul(relS, scale), shift) as tf.Tensor2D).dataSync()[0]); // [h, w] metres
    const r = gridSearchScaleShift(evaluate, depths, {
      includeConstant: config.variant === 'pixel',
      refineRounds: config.grid.refineRounds,
      basins: config.variant === 'pixel' ? 1 : config.grid.basins,
    });
    if (r.basins.length < 2) return { scale: r.scale, shift: r.shift, loss: r.loss, evaluated: r.evaluated.length, trials: [] };
    // Several basins: a few Adam steps of scale and shift from each, on the same downsampled images and
    // masks (at full resolution, noise and the renderer's mismatch can make a flat depth score as well as
    // the scene's), and the lowest loss wins.
    const mapping = createMapping(config.mapping, config.bounds);
    const trials = tryBasins(r.basins, {
      mapping,
      iterations: config.grid.basinIterations,
      lr: config.lr.scaleShift,
      adam: config.adam,
      loss: (params) => tf.tidy(() => coarseLoss(mapping.apply(relS as tf.Tensor2D, params))),
    });
    const best = trials[0];
    return { scale: best.scale, shift: best.shift, loss: best.loss, evaluated: r.evaluated.length, trials };
  } finally {
    tf.dispose([aifS, obsS, relS, ...(maskS ? [maskS] : [])]);
  }
}

/** The prior's relative depth `[H, W]` for a latent, through its asynchronous path when it has one. */
async function predictRelative(prior: DepthPrior, latent: tf.Tensor): Promise<tf.Tensor2D> {
  return prior.predictAsync ? await prior.predictAsync(latent) : prior.predict(latent);
}

/**
 * `tf.valueAndGrads` that tolerates inputs the value does not depend on (their gradient is zero), by
 * differentiating temporary variables: the objective may or may not read the latent directly.
 */
function valueAndGradsAllowingUnused(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  xs: tf.Tensor[],
): { value: tf.Scalar; grads: tf.Tensor[] } {
  const vars = xs.map((x) => tf.variable(x, true));
  try {
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => f(...vars), vars);
      return { value, grads: vars.map((v, i) => grads[v.name] ?? tf.zerosLike(xs[i])) };
    });
  } finally {
    tf.dispose(vars);
  }
}

/**
 * Loss and gradients of every group for a prior outside tfjs autograd (the ONNX engine): the prior's
 * forward pass gives the relative depth; tfjs autograd gives d loss / d relative depth and the gradients
 * of the groups with the depth held as an input; the prior's `backward` turns d loss / d depth into
 * d loss / d latent (chain rule), added to whatever the loss reads from the latent directly.
 */
async function explicitValueAndGrads(
  prior: DepthPrior,
  objective: DefocusObjective['loss'],
  names: readonly string[],
  params: Record<string, tf.Tensor>,
  iteration: number,
): Promise<{ value: tf.Scalar; grads: tf.Tensor[] }> {
  const pass = await prior.predictWithVjp!(params[LATENT_GROUP]);
  let direct: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    direct = valueAndGradsAllowingUnused(
      (relative, ...xs) =>
        objective(Object.fromEntries(names.map((n, i) => [n, xs[i]])), iteration, relative as tf.Tensor2D),
      [pass.depth, ...names.map((n) => params[n])],
    );
  } finally {
    pass.depth.dispose();
  }
  const [dRelative, ...grads] = direct.grads;
  try {
    const dLatent = await pass.backward(dRelative as tf.Tensor2D);
    const k = names.indexOf(LATENT_GROUP);
    const sum = tf.tidy(() => tf.add(grads[k], tf.reshape(dLatent, grads[k].shape)));
    tf.dispose([dLatent, grads[k]]);
    grads[k] = sum;
  } catch (err) {
    tf.dispose([direct.value, ...grads]);
    throw err;
  } finally {
    dRelative.dispose();
  }
  return { value: direct.value, grads };
}

/**
 * Optimizes depth for one aperture pair (METHOD.md, "Objective and optimizer"):
 * `min || x_b - render(x, scale * prior(z) + shift) ||` over the groups the variant trains, with Adam per
 * group, the latent re-projected onto its sphere after every step (spherical priors only), optional
 * schedule and plateau stop, checkpoints every N iterations, and NaN/Inf detection naming the iteration
 * and the parameter group.
 *
 * @example
 * const result = await optimizeDepth({ aif, observed, camera, fNumberAif: 22, fNumberBlurred: 8, prior },
 *   { variant: 'scale-shift', iterations: 100 });
 * result.depth; // [H, W] metres
 */
export async function optimizeDepth(
  problem: DepthProblem,
  configInput: OptimizerConfigInput = {},
  run: RunOptions = {},
): Promise<OptimizeResult> {
  const t0 = performance.now();
  const config = resolveOptimizerConfig(configInput);
  const [H, W] = checkProblem(problem);
  const renderer = getRenderer(config.renderer, 'renderer');
  const fModel = modelFNumber(problem.fNumberAif, problem.fNumberBlurred, config.relativeBlur);
  const { prior, camera } = problem;
  const log = run.log ?? (() => {});
  const dataLoss = resolveLoss(config.loss);
  const regularizers = [
    ...(config.tvWeight > 0 ? [tvRegularizer({ weight: config.tvWeight })] : []),
    ...config.regularizers,
  ];
  const lossFn = composeLoss(dataLoss, regularizers);

  // 1. Seeded initial latent; on a sphere when the prior says so. [latentShape]
  const rawLatent = prior.initialLatent(config.seed);
  const initialLatent = tf.keep(prior.sphericalLatent ? projectToSphere(rawLatent) : rawLatent.clone());
  rawLatent.dispose();

  if (config.variant === 'oracle')
    return await runOracle(problem, config, renderer, fModel, lossFn, initialLatent, t0);

  const trainLatent = (config.variant === 'full' || config.variant === 'pixel') && prior.trainable;
  const mapping: MetricMapping = createMapping(config.mapping, config.bounds);
  const fingerprint = fingerprintOf(problem, config, trainLatent);

  // 2. Resume point, if any.
  let state: OptimizerState | undefined;
  if (run.resume) {
    check(run.checkpointPath, () => 'resume needs a checkpoint path', { key: 'resume' });
    state = readCheckpoint(run.checkpointPath);
    if (state) {
      for (const [k, v] of Object.entries(fingerprint)) {
        check(
          JSON.stringify(state.fingerprint[k]) === JSON.stringify(v),
          () =>
            `checkpoint was made with ${k} = ${JSON.stringify(state!.fingerprint[k])}, this run has ${JSON.stringify(v)}`,
          { file: run.checkpointPath, key: k },
        );
      }
      log(`resuming from iteration ${state.iteration} (${run.checkpointPath})`);
    } else {
      log(`no checkpoint at ${run.checkpointPath}; starting from the beginning`);
    }
  }

  // 3. Relative depth at the start; frozen for the whole run when the latent is not trained. [H, W]
  const frozenRelative = trainLatent ? undefined : tf.keep(await predictRelative(prior, initialLatent));
  // The start's relative depth, computed once when the search or the depth-edge mask needs it.
  let initialRelative: tf.Tensor2D | undefined = frozenRelative;
  const relativeAtStart = async (): Promise<tf.Tensor2D> =>
    (initialRelative ??= tf.keep(await predictRelative(prior, initialLatent)));

  // 4. Mapping start: the coarse search (both sides of the focus plane) or the mapping's own default.
  let gridInit: OptimizeResult['gridInit'] = state?.gridInit ?? null;
  let mappingParams0 = mapping.initialParams();
  if (!state && config.mappingInit === 'grid') {
    if (config.variant === 'pixel' && config.sceneSide === 'both') {
      log(
        'note: a flat start cannot tell the two sides of the focus plane apart; set sceneSide if it is known',
      );
    }
    const rel0 = await relativeAtStart();
    const found = searchScaleShift(problem, rel0, config, renderer, fModel, dataLoss);
    let target = { scale: found.scale, shift: found.shift };
    if (config.variant === 'pixel') {
      // A flat start only fixes the middle depth D; give the logits room on both sides, [D/2, 3D/2], but
      // not across the focus plane when the scene's side is known.
      const mid = found.shift + 0.5 * found.scale;
      const F = camera.focusDistanceM;
      let near = mid / 2;
      let far = (3 * mid) / 2;
      if (config.sceneSide === 'behind') near = Math.max(near, F);
      if (config.sceneSide === 'front') far = Math.min(far, F);
      target = { scale: Math.max(far - near, 1e-3 * mid), shift: near };
    }
    mappingParams0 = mapping.paramsFor(target);
    gridInit = { scale: found.scale, shift: found.shift, loss: found.loss };
    log(
      `scale/shift search: ${found.evaluated} candidates, best scale ${found.scale.toFixed(4)} m, ` +
        `shift ${found.shift.toFixed(4)} m (loss ${found.loss.toExponential(3)})`,
    );
    found.trials.forEach((b, k) =>
      log(
        `  basin ${k + 1}: start scale ${b.start.scale.toFixed(4)} m, shift ${b.start.shift.toFixed(4)} m ` +
          `-> ${b.scale.toFixed(4)} m, ${b.shift.toFixed(4)} m after ${config.grid.basinIterations} steps ` +
          `(loss ${b.loss.toExponential(3)})${k === 0 ? ': chosen' : ''}`,
      ),
    );
  }

  // 5. Masks: saturated pixels, a border and depth edges, both of half the largest CoC at the start.
  let borderPx = state?.borderPx ?? 0;
  let edgeRadiusPx: number | null = state ? state.edgeRadiusPx : null;
  if (!state) {
    const ss = mapping.scaleShift(mappingParams0);
    const halfCoc = Math.ceil(
      Math.max(
        circleOfConfusionPxScalar(camera, Math.max(ss.shift, 1e-6), fModel),
        circleOfConfusionPxScalar(camera, ss.shift + ss.scale, fModel),
      ) / 2,
    );
    borderPx =
      config.masks.border === 'auto'
        ? Math.min(halfCoc, Math.floor((Math.min(H, W) - 1) / 4))
        : config.masks.border;
    const de = config.masks.depthEdges;
    if (de) edgeRadiusPx = de.radius === 'auto' ? Math.max(1, halfCoc) : de.radius;
  }
  const relForEdges = edgeRadiusPx === null ? undefined : await relativeAtStart();
  const mask = tf.keep(
    tf.tidy(() => {
      const sat =
        config.masks.saturation === null
          ? undefined
          : saturationMask([problem.aif, problem.observed], config.masks.saturation);
      const border = borderPx > 0 ? borderMask(H, W, borderPx) : undefined;
      const base = combineMasks(sat, border) ?? (tf.ones([H, W]) as tf.Tensor2D);
      if (edgeRadiusPx === null) return base;
      const withEdges = tf.mul(
        base,
        depthEdgeMask(relForEdges!, edgeRadiusPx, config.masks.depthEdges?.threshold),
      ) as tf.Tensor2D;
      const kept = tf.mean(withEdges).dataSync()[0];
      if (kept >= 0.1) return withEdges;
      log(`depth-edge mask would keep ${(kept * 100).toFixed(1)} % of the pixels; not using it`);
      edgeRadiusPx = null;
      return base;
    }),
  );
  if (initialRelative !== frozenRelative) initialRelative?.dispose();

  // 6. Parameters and the optimizer.
  const groups: ParamGroupSpec[] = [
    ...(trainLatent ? [{ name: LATENT_GROUP, lr: config.lr.latent }] : []),
    { name: SCALE_SHIFT_GROUP, lr: config.lr.scaleShift },
  ];
  const adam = new Adam(groups, config.adam);
  let params: Record<string, tf.Tensor> = {};
  const stopper = config.earlyStopping ? new PlateauStopper(config.earlyStopping) : undefined;
  const rng = state ? Rng.fromState(state.rng) : new Rng(config.seed);
  const lossHistory = state ? [...state.lossHistory] : [];
  let stoppedEarly = state?.stoppedEarly ?? false;
  if (state) {
    for (const g of groups) {
      const stored = state.params[g.name];
      check(stored, () => `checkpoint has no parameter group "${g.name}"`, {
        file: run.checkpointPath,
        key: 'params',
      });
      params[g.name] = tf.keep(tf.tensor(stored.data, stored.shape, 'float32'));
    }
    adam.setState(state.adam);
    if (stopper && state.stopper) stopper.setState(state.stopper);
  } else if (config.variant === 'pixel' && config.pixelInit === 'search' && trainLatent) {
    // Classical depth from defocus per pixel as the start (the seeded flat start is kept as `initialLatent`).
    params[LATENT_GROUP] = tf.keep(
      localSearchLogits(
        problem.aif,
        problem.observed,
        camera,
        fModel,
        renderer,
        mapping.scaleShift(mappingParams0),
        mask,
        {
          psf: config.psf,
        },
      ),
    );
    params[SCALE_SHIFT_GROUP] = tf.keep(tf.tensor1d(mappingParams0));
  } else {
    if (trainLatent) params[LATENT_GROUP] = tf.keep(initialLatent.clone());
    params[SCALE_SHIFT_GROUP] = tf.keep(tf.tensor1d(mappingParams0));
  }
  const startIteration = state?.iteration ?? 0;
  const schedule = createSchedule(config.schedule);
  const names = groups.map((g) => g.name);

  const { forward, loss: objective } = createDefocusObjective(problem, {
    mapping,
    renderer,
    fNumber: fModel,
    psf: config.psf,
    lossFn,
    mask,
    fixedLatent: trainLatent ? undefined : initialLatent,
    frozenRelative,
  });
  // A prior outside tfjs autograd (ONNX engine): its depth comes asynchronously and its latent gradient
  // through `predictWithVjp` (see `explicitValueAndGrads`).
  const asyncPrior = trainLatent && prior.predictAsync !== undefined;
  const explicitPrior = trainLatent && prior.predictWithVjp !== undefined ? prior : undefined;

  const snapshot = (iteration: number): OptimizerState => ({
    iteration,
    params: Object.fromEntries(
      names.map((n) => [
        n,
        { shape: params[n].shape.slice(), data: (params[n].dataSync() as Float32Array).slice() },
      ]),
    ),
    adam: adam.getState(),
    rng: rng.state(),
    lossHistory: [...lossHistory],
    stopper: stopper ? stopper.state() : null,
    stoppedEarly,
    borderPx,
    edgeRadiusPx,
    gridInit,
    fingerprint,
  });
  const checkpointEvery = run.checkpointEvery ?? 10;
  check(
    Number.isInteger(checkpointEvery) && checkpointEvery > 0,
    () => `must be a positive integer, got ${checkpointEvery}`,
    {
      key: 'checkpointEvery',
    },
  );
  if (run.checkpointPath && !state) writeCheckpoint(run.checkpointPath, snapshot(0));

  const tLoop = performance.now();
  const progress = new ProgressBar(config.iterations, { enabled: run.progress ?? 'auto', startIteration });
  let iteration = startIteration;
  try {
    // 7. The loop: loss and gradients, finiteness, Adam step per group, sphere projection, bookkeeping.
    while (iteration < config.iterations && !stoppedEarly) {
      // An iteration never yields on its own: give signal handlers (Ctrl-C) a turn of the event loop.
      if (run.signal) await new Promise((resolve) => setImmediate(resolve));
      if (run.signal?.aborted) {
        let saved = '';
        if (run.checkpointPath) {
          writeCheckpoint(run.checkpointPath, snapshot(iteration));
          saved = `; the state is saved in ${run.checkpointPath}: rerun with --resume to continue`;
        }
        throw new InterruptedError(
          `interrupted (${String(run.signal.reason ?? 'abort')}) at iteration ${iteration} of ${config.iterations}${saved}`,
          {
            key: 'optimizer',
          },
        );
      }
      const lrFactor = schedule(iteration, config.iterations);
      const paramList = names.map((n) => params[n]);
      const { value, grads } = explicitPrior
        ? await explicitValueAndGrads(explicitPrior, objective, names, params, iteration)
        : tf.tidy(() =>
            tf.valueAndGrads((...xs: tf.Tensor[]) =>
              objective(Object.fromEntries(names.map((n, i) => [n, xs[i]])), iteration),
            )(paramList),
          );
      const loss = value.dataSync()[0];
      const badGroups = names.filter(
        (_, i) => tf.tidy(() => tf.all(tf.isFinite(grads[i])).dataSync()[0]) !== 1,
      );
      if (!Number.isFinite(loss) || badGroups.length > 0) {
        tf.dispose([value, ...grads]);
        let saved = '';
        if (run.checkpointPath) {
          writeCheckpoint(run.checkpointPath, snapshot(iteration));
          saved = `; the last good state (iteration ${iteration}) is in ${run.checkpointPath}`;
        }
        const what = [
          ...(Number.isFinite(loss) ? [] : [`loss is ${loss}`]),
          ...(badGroups.length
            ? [`non-finite gradient in parameter group ${badGroups.map((g) => `"${g}"`).join(', ')}`]
            : []),
        ].join(' and ');
        throw new ApertureDepthError(`${what} at iteration ${iteration}${saved}`, {
          key: badGroups[0] ? `optimizer.${badGroups[0]}` : 'optimizer.loss',
        });
      }
      const next = adam.step(params, Object.fromEntries(names.map((n, i) => [n, grads[i]])), lrFactor);
      if (trainLatent && prior.sphericalLatent) {
        const projected = projectToSphere(next[LATENT_GROUP]);
        next[LATENT_GROUP].dispose();
        next[LATENT_GROUP] = projected;
      }
      tf.dispose([value, ...grads, ...Object.values(params)]);
      params = next;
      lossHistory.push(loss);
      iteration += 1;
      if (stopper?.update(loss)) {
        stoppedEarly = true;
        log(`loss plateau: stopping after ${iteration} iterations`);
      }
      const last = iteration === config.iterations || stoppedEarly;
      if (run.checkpointPath && (iteration % checkpointEvery === 0 || last)) {
        writeCheckpoint(run.checkpointPath, snapshot(iteration));
      }
      for (const hook of run.hooks ?? []) {
        if (iteration % hook.every === 0 || last) {
          const ss = mapping.scaleShift(params[SCALE_SHIFT_GROUP].dataSync());
          const current = params;
          const metricDepth = (relative?: tf.Tensor2D) =>
            tf.tidy(() => forward(current, relative).depth.dataSync() as Float32Array).slice();
          await hook.fn({
            iteration,
            total: config.iterations,
            loss,
            ...ss,
            lrFactor,
            elapsedMs: performance.now() - tLoop,
            depth: () => {
              check(!asyncPrior, () => 'this prior runs asynchronously: use depthAsync()', { key: 'hook' });
              return metricDepth();
            },
            depthAsync: async () => {
              const relative = asyncPrior ? await predictRelative(prior, current[LATENT_GROUP]) : undefined;
              try {
                return metricDepth(relative);
              } finally {
                relative?.dispose();
              }
            },
          });
        }
      }
      progress.update(iteration, loss);
    }
  } catch (err) {
    tf.dispose([...Object.values(params), initialLatent, mask, ...(frozenRelative ? [frozenRelative] : [])]);
    adam.dispose();
    throw err;
  } finally {
    progress.finish();
  }
  const tEnd = performance.now();

  // 8. The final state: depth, rendered image, loss at the returned depth.
  const finalRelative = asyncPrior ? await predictRelative(prior, params[LATENT_GROUP]) : undefined;
  const out = tf.tidy(() => {
    const f = forward(params, finalRelative);
    const finalLoss = lossFn({ ...f, observed: problem.observed, iteration, mask });
    return {
      depth: f.depth,
      relativeDepth: f.relativeDepth.clone(),
      rendered: f.rendered,
      finalLoss,
      finalLatent: f.latent.clone(),
    };
  });
  const finalLoss = out.finalLoss.dataSync()[0];
  out.finalLoss.dispose();
  finalRelative?.dispose();
  const mappingParams = (params[SCALE_SHIFT_GROUP].dataSync() as Float32Array).slice();
  const ss = mapping.scaleShift(mappingParams);
  tf.dispose(Object.values(params));
  frozenRelative?.dispose();
  adam.dispose();
  const loopMs = tEnd - tLoop;
  const done = iteration - startIteration;
  const result: OptimizeResult = {
    depth: out.depth,
    relativeDepth: out.relativeDepth,
    rendered: out.rendered,
    mask,
    initialLatent,
    finalLatent: out.finalLatent,
    scale: ss.scale,
    shift: ss.shift,
    mappingParams,
    lossHistory,
    finalLoss,
    iterations: iteration,
    stoppedEarly,
    resumedFrom: state ? state.iteration : undefined,
    gridInit,
    borderPx,
    edgeRadiusPx,
    modelFNumber: fModel,
    config,
    timings: {
      initMs: tLoop - t0,
      loopMs,
      totalMs: performance.now() - t0,
      msPerIteration: done > 0 ? loopMs / done : 0,
    },
    dispose: () =>
      tf.dispose([out.depth, out.relativeDepth, out.rendered, mask, initialLatent, out.finalLatent]),
  };
  return result;
}

/** The `oracle` variant: least-squares alignment of the initial relative depth to ground truth. */
async function runOracle(
  problem: DepthProblem,
  config: OptimizerConfig,
  renderer: Renderer,
  fModel: number,
  lossFn: LossFn,
  initialLatent: tf.Tensor,
  t0: number,
): Promise<OptimizeResult> {
  const { prior, camera } = problem;
  if (!problem.depthGt) {
    initialLatent.dispose();
    throw new ApertureDepthError('the oracle variant aligns to ground truth: the pair names no depth_gt', {
      key: 'variant',
    });
  }
  const relativeDepth = await predictRelative(prior, initialLatent); // [H, W]
  const a = alignToGroundTruth(relativeDepth, problem.depthGt, config.oracleAlignment);
  // An affine fit may dip below zero where the relative depth is small; depth must stay positive.
  const minDepth = 1.01 * camera.focalLengthM;
  const depth = tf.tidy(() =>
    tf.maximum(tf.add(tf.mul(relativeDepth, a.scale), a.shift), minDepth),
  ) as tf.Tensor2D;
  const rendered = renderer.render(problem.aif, depth, camera, fModel, { psf: config.psf });
  const [H, W] = depth.shape;
  const mask = tf.keep(
    config.masks.saturation === null
      ? (tf.ones([H, W]) as tf.Tensor2D)
      : saturationMask([problem.aif, problem.observed], config.masks.saturation),
  );
  const finalLoss = tf.tidy(
    () =>
      lossFn({
        rendered,
        observed: problem.observed,
        depth,
        relativeDepth,
        latent: initialLatent,
        iteration: 0,
        mask,
      }).dataSync()[0],
  );
  const totalMs = performance.now() - t0;
  const finalLatent = initialLatent.clone();
  return {
    depth,
    relativeDepth,
    rendered,
    mask,
    initialLatent,
    finalLatent,
    scale: a.scale,
    shift: a.shift,
    mappingParams: new Float32Array([a.scale, a.shift]),
    lossHistory: [],
    finalLoss,
    iterations: 0,
    stoppedEarly: false,
    gridInit: null,
    borderPx: 0,
    edgeRadiusPx: null,
    modelFNumber: fModel,
    config,
    timings: { initMs: totalMs, loopMs: 0, totalMs, msPerIteration: 0 },
    dispose: () => tf.dispose([depth, relativeDepth, rendered, mask, initialLatent, finalLatent]),
  };
}

export { configToJson };
