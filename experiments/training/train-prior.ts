/**
 * Trains the embedded depth prior `aperture-depth-tiny` from scratch, reproducibly from one seed, and writes
 * it as a diffusers Marigold folder with a model card:
 *
 *   npm run train-prior -- --seed 0 --out models/aperture-depth-tiny
 *
 * 0. render the procedural training scenes (train seeds only; cached in the work folder)
 * 1. stage A: train the AutoencoderKL on RGB and normalized depth crops
 * 2. scaling factor = 1 / std of the encoder means; encode every scene and its mirror (cached)
 * 3. stage B: train the UNet (v-prediction, zero-SNR DDIM schedule, extra weight at t = 999)
 * 4. stage C (`--ft-steps N`, off by default): fine-tune stage B's UNet at the processing resolution and aspect ratio
 *    (`--ft-width` x `--ft-height`, default 96x72: what inference sees on 4:3 images) on scenes rendered at
 *    that size and encoded with the same frozen VAE; `--ft-steps 0` skips it and exports stage B
 * 5. stage E (`--e2e-steps N`, default 200): end-to-end fine-tuning of the UNet through the frozen decoder with the affine-invariant
 *    depth loss on the one-step inference path (`stages/e2e-stage.ts`), at `--e2e-width` x `--e2e-height` (96x72)
 *    5b. stage E2 (`--e2e2-steps N`, default 400): a second stage E at `--e2e2-width` x `--e2e2-height` (128x96), from
 *    stage E's weights as exported (float16), so that it equals `--e2e-from` on stage E's folder bit for bit
 * 6. export the folder, evaluate it (held-out procedural + Middlebury vs a fitted plane), write MODEL_CARD.md
 *
 * Each stage checkpoints (weights, Adam moments, step, RNG) every `--ckpt-every` steps in `--work`; the same
 * command continues an interrupted run.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initEngine, parseBackend, type BackendName } from '../../core/engine/backend.ts';
import { check } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';
import { float16ToNumber } from '../../core/io/ndarray.ts';
import { floatToHalf } from '../../core/io/safetensors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { createTextEncoder, createUNet, createVae, loadTextEncoder, loadUNet, loadVae } from '../../diffusion/models/load.ts';
import { noiseSchedule } from '../../diffusion/schedulers/noise-schedule.ts';
import { parseSchedulerConfig } from '../../diffusion/schedulers/scheduler-config.ts';
import { cosineSchedule } from '../../optimizers/schedules.ts';
import { realCrops } from './data/real-crops.ts';
import { cachedArrays } from './data/dataset-cache.ts';
import { encodeParallel, renderParallel } from './data/parallel-data.ts';
import { buildSceneDataset, type SceneDataset } from './data/scene-dataset.ts';
import { scorePriorAndPlane } from './eval/aligned-metrics.ts';
import { predictOneStep, type OneStepNets } from './eval/one-step.ts';
import { exportPriorFolder } from './export-model.ts';
import { MICRO, SMALL, TINY, TINY_GN, priorConfigs, type JsonObject, type SizeSpec } from './model-configs.ts';
import { CLUTTER_SEED_START, GENERATOR_VERSION, TRAIN_SEED_END, VALIDATION_SEED_START, generateScene, trainingSeeds } from './procedural-scenes.ts';
import { loadTextureImages } from './scene/texture-images.ts';
import { assignWeights, emptyPromptContext, type E2EReplicaInit, type UNetReplicaInit, type VaeReplicaInit } from './stages/replica.ts';
import { drawE2EItems, type E2EStageSettings } from './stages/e2e-stage.ts';
import { checkSizedStage, type SizedStageSettings } from './stages/sized-stage.ts';
import { drawUNetItems, encodeLatentSet, type UNetStageSettings } from './stages/unet-stage.ts';
import { drawVaeItems, estimateScalingFactor, type VaeStageSettings } from './stages/vae-stage.ts';
import { startEngine, type GradEngine } from './trainer/grad-engine.ts';
import { endToEndSeconds, readTrainingSummary, writeModelCard, type TrainingSummary } from './model-card.ts';
import type { Param } from '../../diffusion/checkpoint/param.ts';
import type { TextureImage } from './scene/textures.ts';
import { formatDuration } from './trainer/progress.ts';
import { runStage, type LossPoint } from './trainer/stage-loop.ts';

export const PRESETS = Object.freeze({ tiny: TINY, 'tiny-gn': TINY_GN, small: SMALL, micro: MICRO });

/**
 * Stage E's default length (`--e2e-steps`): 200 steps with the gradient-matching term, the shipped recipe since
 * session 15 (training README: it improves the monocular metrics; with the scale/shift search told which side of
 * the focus plane the scene lies, the defocus optimization keeps its gain).
 */
export const E2E_STEPS = 200;
/**
 * Stage E2's default length (`--e2e2-steps`): a second stage E at 128x96 from stage E's exported (float16)
 * weights, the shipped recipe since session 19 (training README, "Stage E length": the first model past the
 * plane on all four monocular numbers; its defocus tables keep the full variant's gain).
 */
export const E2E2_STEPS = 400;
export type PresetName = keyof typeof PRESETS;
/** The two end-to-end stages: E (`--e2e-*`) and E2 (`--e2e2-*`). */
type E2EPhase = 'e2e' | 'e2e2';

/** Stage C: fine-tuning stage B's UNet at the processing resolution and aspect ratio. */
export interface FinetuneSettings extends SizedStageSettings {
  /** Crops of the real Open3D RGB-D frames added to the scenes (`data/real-crops.ts`). @default 0 */
  real?: number;
}

export interface TrainPriorOptions {
  seed: number;
  out: string;
  /** Checkpoints and caches. @default `.cache/train-prior/<basename(out)>` */
  work?: string;
  preset: PresetName;
  /** Training scenes (seeds 0 .. scenes-1). */
  scenes: number;
  /** Clutter scenes added to them (seeds from CLUTTER_SEED_START on, `procedural-scenes.ts`). @default 0 */
  clutterScenes?: number;
  /** Scene render size (square). */
  size: number;
  naturalTextures: boolean;
  vae: VaeStageSettings;
  unet: UNetStageSettings;
  /** Stage C; p999 and poolWeight come from `unet`. */
  finetune: FinetuneSettings;
  /** Stage E (end to end through the decoder); steps 0 = off. */
  e2e: E2EStageSettings;
  /**
   * Stage E2 (`--e2e2-*`): a second stage E, at its own size, from stage E's weights as exported (rounded to
   * float16, the VAE too), with a fresh Adam state and EMA; steps 0 = off. Needs stage E. Not used by `--e2e-from`.
   */
  e2e2: E2EStageSettings;
  /**
   * `--e2e-from DIR`: stage E alone, from the VAE and UNet of a model folder this script wrote (stages A-C are
   * skipped; their settings here, and `naturalTextures`, are ignored: the folder's are used and recorded).
   */
  e2eFrom?: string;
  ckptEvery: number;
  logEvery: number;
  /** Held-out procedural scenes scored during stages B (at `size`) and C (at the stage's size); 0 = none. */
  valScenes: number;
  /** Run the final evaluation and write the model card. */
  evaluate: boolean;
  backend: BackendName;
  /** Data-parallel worker threads (1 = this thread only). */
  workers: number;
  /** Decay of the weight EMA that is exported (every stage); 0 = export the raw weights. */
  emaDecay: number;
  /** Tests: stop each stage after this many steps of this session, as if killed. */
  stopAfter?: number;
  write?: (line: string) => void;
}

export const DEFAULTS: Omit<TrainPriorOptions, 'out'> = Object.freeze({
  seed: 0,
  preset: 'tiny-gn',
  scenes: 6000,
  size: 64,
  naturalTextures: true,
  vae: { steps: 2500, batch: 8, crop: 32, lr: 1e-3, klWeight: 1e-4, depthWeight: 2, chromaWeight: 2 },
  unet: { steps: 7000, batch: 16, lr: 1e-3, p999: 0.75, poolWeight: 1 },
  // Stage C is off by default: it helps the monocular metrics but hurt the defocus optimization (README).
  finetune: { steps: 0, batch: 16, lr: 3e-4, width: 96, height: 72, scenes: 3000 },
  e2e: { steps: E2E_STEPS, batch: 8, lr: 1e-4, width: 96, height: 72, scenes: 3000, gradWeight: 1 },
  e2e2: { steps: E2E2_STEPS, batch: 8, lr: 1e-4, width: 128, height: 96, scenes: 3000, gradWeight: 1 },
  ckptEvery: 100,
  logEvery: 25,
  valScenes: 8,
  evaluate: true,
  backend: 'wasm',
  workers: 2,
  emaDecay: 0.999,
}) as Omit<TrainPriorOptions, 'out'>;

export interface TrainPriorResult {
  out: string;
  scalingFactor: number;
  vaeLosses: LossPoint[];
  unetLosses: LossPoint[];
  /** Stage C (empty / 0 when it did not run). */
  ftLosses: LossPoint[];
  /** Stage E (empty / 0 when it did not run). */
  e2eLosses: LossPoint[];
  e2eSeconds: number;
  /** Stage E2 (empty / 0 when it did not run). */
  e2e2Losses: LossPoint[];
  e2e2Seconds: number;
  vaeSeconds: number;
  unetSeconds: number;
  ftSeconds: number;
  dataSeconds: number;
  completed: boolean;
  /** Weights at the end (for tests), by network and name; `unet` is the last UNet stage's (C or E) when it ran. */
  weights: { vae: Map<string, Float32Array>; unet: Map<string, Float32Array> };
}

/** Held-out procedural scenes at one size (the first `count` test seeds), with the UNet latent shape there. */
interface ValidationSet {
  readonly scenes: readonly { rgb: Float32Array; depth: Float32Array }[];
  readonly width: number;
  readonly height: number;
  readonly latentShape: readonly number[];
}

function validationSet(
  count: number,
  width: number,
  height: number,
  textureImages: readonly TextureImage[],
  latentShape: readonly number[],
): ValidationSet {
  const scenes = Array.from({ length: count }, (_, k) => {
    const s = generateScene(VALIDATION_SEED_START + k, { width, height, textureImages });
    return { rgb: s.rgb, depth: s.depth };
  });
  return { scenes, width, height, latentShape };
}

/**
 * A UNet stage's `onLog`: at every 4th log line and at the last step, the engine's EMA weights (else its
 * current ones) scored on the validation set; '' otherwise.
 */
function validationHook(
  set: ValidationSet,
  nets: OneStepNets,
  engine: GradEngine,
  logEvery: number,
  totalSteps: number,
): (step: number) => Promise<string> {
  return async (step) => {
    if (set.scenes.length === 0 || (step % (logEvery * 4) !== 0 && step !== totalSteps)) return '';
    const snap = await engine.snapshot();
    withWeights(nets.unet, snap.ema ?? snap.weights);
    return validate(nets, set);
  };
}

/** Mean aligned abs_rel / d1 of the prior and of the fitted plane on a validation set. */
function validate(nets: OneStepNets, set: ValidationSet): string {
  const { scenes, width, height, latentShape } = set;
  if (scenes.length === 0) return '';
  const size = width * height;
  const rgb = new Float32Array(scenes.length * size * 3);
  scenes.forEach((s, k) => rgb.set(s.rgb, k * size * 3));
  const noise = new Rng(12345).normalArray(scenes.length * latentShape.reduce((a, b) => a * b, 1));
  const pred = predictOneStep(nets, rgb, [scenes.length, height, width], noise);
  let pa = 0;
  let pd = 0;
  let qa = 0;
  let qd = 0;
  scenes.forEach((s, k) => {
    const r = scorePriorAndPlane(pred.subarray(k * size, (k + 1) * size), s.depth, width, height);
    pa += r.prior.abs_rel;
    pd += r.prior.delta1;
    qa += r.plane.abs_rel;
    qd += r.plane.delta1;
  });
  const n = scenes.length;
  return `val abs_rel ${(pa / n).toFixed(3)} d1 ${(pd / n).toFixed(3)} (plane ${(qa / n).toFixed(3)} / ${(qd / n).toFixed(3)})`;
}

/** The `--<phase>-*` settings of stage E or E2 (when it runs), checked before any training. */
function checkE2ESettings(s: E2EStageSettings, phase: E2EPhase, down: number): void {
  check(Number.isInteger(s.steps) && s.steps >= 0, () => `--${phase}-steps must be a non-negative integer, got ${s.steps}`, { key: `--${phase}-steps` });
  if (s.steps === 0) return;
  checkSizedStage(s, phase, down, CLUTTER_SEED_START);
  trainingSeeds(s.scenes, s.clutter ?? 0, { count: `--${phase}-scenes`, clutter: `--${phase}-clutter-scenes` });
  check(s.lr > 0, () => `--${phase}-lr must be positive, got ${s.lr}`, { key: `--${phase}-lr` });
  check(Number.isFinite(s.gradWeight) && s.gradWeight >= 0, () => `--${phase}-grad-weight must be a number >= 0, got ${s.gradWeight}`, { key: `--${phase}-grad-weight` });
}

/** Copies of `weights` rounded to float16 and back: the values an exported folder holds (the `F16` writer's rounding). */
function roundedToFloat16(weights: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...weights].map(([name, w]) => [name, w.map((v) => float16ToNumber(floatToHalf(v)))]));
}

export async function trainPrior(opts: TrainPriorOptions): Promise<TrainPriorResult> {
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  await initEngine(opts.backend);
  const spec: SizeSpec = PRESETS[opts.preset];
  check(spec, () => `unknown preset "${opts.preset}"; expected ${Object.keys(PRESETS).join(', ')}`, { key: '--preset' });
  const work = resolve(opts.work ?? join('.cache', 'train-prior', basename(resolve(opts.out))));
  const down = 2 ** (spec.vaeChannels.length - 1);
  check(opts.size % (down * 2 ** (spec.unetChannels.length - 1)) === 0, () => `--size ${opts.size} must be a multiple of ${down * 2 ** (spec.unetChannels.length - 1)}`, { key: '--size' });
  check(opts.vae.crop % down === 0 && opts.vae.crop <= opts.size, () => `--vae-crop must be a multiple of ${down} and <= --size`, { key: '--vae-crop' });
  const chroma = opts.vae.chromaWeight ?? 0;
  check(Number.isFinite(chroma) && chroma >= 0, () => `--chroma-weight must be a number >= 0, got ${opts.vae.chromaWeight}`, { key: '--chroma-weight' });
  const ft = opts.finetune;
  if (ft.steps > 0) checkSizedStage(ft, 'ft', down, TRAIN_SEED_END);
  // Checked before any training, like the other stage C settings (an error after stages A and B would cost an hour).
  check(ft.real === undefined || (Number.isInteger(ft.real) && ft.real >= 0), () => `--ft-real must be a non-negative integer, got ${ft.real}`, { key: '--ft-real' });
  // Clutter seeds follow CLUTTER_SEED_START, so the drawn-kind scenes must stay below it (trainingSeeds checks both counts).
  check(Number.isInteger(opts.scenes) && opts.scenes >= 1 && opts.scenes <= CLUTTER_SEED_START, () => `--scenes must lie in [1, ${CLUTTER_SEED_START}], got ${opts.scenes}`, { key: '--scenes' });
  const clutter = opts.clutterScenes ?? 0;
  const seeds = trainingSeeds(opts.scenes, clutter, { count: '--scenes', clutter: '--clutter-scenes' });
  const e2e = opts.e2e;
  // With --e2e-from the sizes are checked against the source folder's preset (stageEFromFolder), not --preset's.
  checkE2ESettings(e2e, 'e2e', opts.e2eFrom === undefined ? down : 1);
  // Stage E2 continues stage E; `--e2e-from` runs one stage E alone and leaves it out.
  const e2e2 = opts.e2eFrom === undefined ? opts.e2e2 : { ...opts.e2e2, steps: 0 };
  checkE2ESettings(e2e2, 'e2e2', down);
  check(e2e2.steps === 0 || e2e.steps > 0, () => `stage E2 starts from stage E's weights: give --e2e-steps > 0 or --e2e2-steps 0`, { key: '--e2e2-steps' });
  // Each step splits its batch evenly over the workers: checked here, not when the stage reaches its first step.
  const batches: [string, number, boolean][] = [
    ['--vae-batch', opts.vae.batch, true],
    ['--unet-batch', opts.unet.batch, true],
    ['--ft-batch', ft.batch, ft.steps > 0],
    ['--e2e-batch', e2e.batch, e2e.steps > 0],
    ['--e2e2-batch', e2e2.batch, e2e2.steps > 0],
  ];
  for (const [flag, batch, used] of batches) {
    check(!used || batch % opts.workers === 0, () => `${flag} ${batch} does not split over ${opts.workers} workers (--workers)`, { key: flag });
  }
  if (opts.e2eFrom !== undefined) return stageEFromFolder(opts, work, write);
  const t0 = performance.now();

  // 0. Training scenes (train split only: seeds 0 .. scenes-1, then the clutter seeds).
  const textureImages = opts.naturalTextures ? loadTextureImages() : [];
  const dsKey = { v: GENERATOR_VERSION, scenes: opts.scenes, ...(clutter ? { clutter } : {}), size: opts.size, naturalTextures: opts.naturalTextures };
  const rendered = await cachedArrays(work, 'scenes', dsKey, () => renderScenes(seeds, opts.size, opts.size, opts, textureImages, write, 'data'));
  const ds: SceneDataset = { width: opts.size, height: opts.size, seeds, rgb: rendered.rgb as Uint8Array, depth: rendered.depth as Float32Array };
  const dataSeconds = (performance.now() - t0) / 1000;
  write(`[data] ${opts.scenes} scenes${clutter ? ` + ${clutter} clutter scenes` : ''} ${opts.size}x${opts.size} ready (${formatDuration(dataSeconds)})`);

  // 1. Stage A: the VAE.
  const configs0 = priorConfigs(spec, 1);
  const vaeInit: VaeReplicaInit = {
    stage: 'vae',
    vaeConfig: configs0.vae,
    seed: opts.seed * 7 + 1,
    settings: opts.vae,
    work,
    dataKey: dsKey,
    scenes: seeds.length,
    size: opts.size,
  };
  const vaeEngine = await startEngine(opts.workers, vaeInit, opts.vae.lr, opts.emaDecay);
  const vaeRun = await runStage({
    name: 'vae',
    dir: join(work, 'vae'),
    totalSteps: opts.vae.steps,
    ckptEvery: opts.ckptEvery,
    logEvery: opts.logEvery,
    engine: vaeEngine.engine,
    seed: opts.seed * 1000 + 11,
    settings: { stage: 'vae', seed: opts.seed, preset: opts.preset, dsKey, vae: opts.vae, ema: opts.emaDecay },
    schedule: cosineSchedule(0.1, Math.min(100, Math.floor(opts.vae.steps / 10))),
    draw: (rng) => drawVaeItems(rng, ds, opts.vae, 4, down),
    stopAfter: opts.stopAfter,
    write,
  });
  const vaeSnap = await vaeEngine.engine.snapshot();
  const vaeWeights = vaeSnap.ema ?? vaeSnap.weights;
  await vaeEngine.engine.close();
  vaeEngine.local?.dispose();
  // The exported weights (the EMA), in a main-thread model that encodes, validates and exports.
  const vae = withWeights(createVae(configs0.vae, vaeInit.seed, { trainable: true }), vaeWeights);
  write(`[vae] ${vae.parameterCount()} parameters, block_out_channels [${spec.vaeChannels}], ${opts.workers} worker(s)`);
  if (!vaeRun.completed) {
    return partialResult(opts, { vaeLosses: vaeRun.losses, vaeSeconds: vaeRun.seconds, dataSeconds, vae: vaeWeights });
  }

  // 2. Scaling factor and the frozen-VAE latents of every scene and its mirror.
  const scalingFactor = estimateScalingFactor(vae, ds, Math.min(256, ds.seeds.length));
  write(`[latents] scaling_factor ${scalingFactor.toFixed(5)}`);
  const latentKey = { v: 1, dsKey, vaeSeed: opts.seed, vae: opts.vae, ema: opts.emaDecay, scalingFactor };
  const lh = opts.size / down;
  const t1 = performance.now();
  await cachedArrays(work, 'latents', latentKey, () => encodeScenes(vae, configs0.vae, vaeWeights, scalingFactor, ds, opts.workers, write, 'latents'));
  const encodeSeconds = (performance.now() - t1) / 1000;

  // 3. Stage B: the UNet.
  const configs = priorConfigs(spec, scalingFactor);
  const unetInit: UNetReplicaInit = {
    stage: 'unet',
    unetConfig: configs.unet,
    textEncoderConfig: configs.textEncoder,
    schedulerConfig: configs.scheduler,
    seed: opts.seed * 7 + 2,
    textSeed: opts.seed * 7 + 3,
    settings: opts.unet,
    work,
    dataKey: latentKey,
    count: 2 * ds.seeds.length,
    h: lh,
    w: lh,
  };
  const unetEngine = await startEngine(opts.workers, unetInit, opts.unet.lr, opts.emaDecay);
  const mainUNet = createUNet(configs.unet, unetInit.seed, { trainable: true });
  write(`[unet] ${mainUNet.parameterCount()} parameters, block_out_channels [${spec.unetChannels}], latent ${lh}x${lh}, ${opts.workers} worker(s)`);
  const context = emptyPromptContext(configs.textEncoder, unetInit.textSeed);
  const schedule = noiseSchedule(parseSchedulerConfig(configs.scheduler, '<scheduler config>'));
  const valSet = validationSet(opts.valScenes, opts.size, opts.size, textureImages, [lh, lh, 4]);
  const nets: OneStepNets = { vae, unet: mainUNet, scalingFactor, context, alphaBarT: schedule.alphasCumprod[999]! };
  const latentShape = { count: 2 * ds.seeds.length, h: lh, w: lh, c: 4 };
  const unetRun = await runStage({
    name: 'unet',
    dir: join(work, 'unet'),
    totalSteps: opts.unet.steps,
    ckptEvery: opts.ckptEvery,
    logEvery: opts.logEvery,
    engine: unetEngine.engine,
    seed: opts.seed * 1000 + 22,
    settings: { stage: 'unet', seed: opts.seed, preset: opts.preset, latentKey, unet: opts.unet, ema: opts.emaDecay },
    schedule: cosineSchedule(0.05, Math.min(100, Math.floor(opts.unet.steps / 10))),
    draw: (rng) => drawUNetItems(rng, latentShape, opts.unet),
    onLog: validationHook(valSet, nets, unetEngine.engine, opts.logEvery, opts.unet.steps),
    stopAfter: opts.stopAfter,
    write,
  });
  const unetSnap = await unetEngine.engine.snapshot();
  const unetWeights = unetSnap.ema ?? unetSnap.weights;
  await unetEngine.engine.close();
  unetEngine.local?.dispose();
  const stagesAB = { vaeLosses: vaeRun.losses, unetLosses: unetRun.losses, vaeSeconds: vaeRun.seconds, unetSeconds: unetRun.seconds, dataSeconds };
  if (!unetRun.completed) {
    context.dispose();
    return partialResult(opts, { ...stagesAB, vae: vaeWeights, unet: unetWeights });
  }

  // 4. Stage C: fine-tune the UNet at the processing resolution and aspect ratio (from stage B's export).
  let ftRun: FinetuneRun | undefined;
  if (ft.steps > 0) {
    ftRun = await runFinetune({ opts, work, down, textureImages, vae, vaeConfig: configs0.vae, vaeWeights, scalingFactor, latentKey, unetInit, unetWeights, nets, write });
    if (!ftRun.completed) {
      context.dispose();
      return partialResult(opts, { ...stagesAB, ftLosses: ftRun.losses, ftSeconds: ftRun.seconds, vae: vaeWeights, unet: ftRun.weights });
    }
  }
  // 5. Stage E: end to end through the frozen decoder (from stage C's weights when it ran, else B's).
  let e2eRun: E2ERun | undefined;
  if (e2e.steps > 0) {
    e2eRun = await runE2E({ opts, work, down, textureImages, vaeConfig: configs0.vae, vaeWeights, scalingFactor, unetInit, startWeights: ftRun?.weights ?? unetWeights, nets, write });
    if (!e2eRun.completed) {
      context.dispose();
      return partialResult(opts, { ...stagesAB, ftLosses: ftRun?.losses, ftSeconds: ftRun?.seconds, e2eLosses: e2eRun.losses, e2eSeconds: e2eRun.seconds, vae: vaeWeights, unet: e2eRun.weights });
    }
  }
  // 5b. Stage E2: a second stage E at its own size, from stage E's weights as exported (float16 on disk).
  let e2e2Run: E2ERun | undefined;
  if (e2eRun && e2e2.steps > 0) {
    e2e2Run = await runE2E({
      opts,
      phase: 'e2e2',
      work,
      down,
      textureImages,
      vaeConfig: configs0.vae,
      vaeWeights: roundedToFloat16(vaeWeights),
      scalingFactor,
      unetInit,
      startWeights: roundedToFloat16(e2eRun.weights),
      nets,
      write,
    });
    if (!e2e2Run.completed) {
      context.dispose();
      const done = { ftLosses: ftRun?.losses, ftSeconds: ftRun?.seconds, e2eLosses: e2eRun.losses, e2eSeconds: e2eRun.seconds };
      return partialResult(opts, { ...stagesAB, ...done, e2e2Losses: e2e2Run.losses, e2e2Seconds: e2e2Run.seconds, vae: vaeWeights, unet: e2e2Run.weights });
    }
  }
  const finalUNet = e2e2Run?.weights ?? e2eRun?.weights ?? ftRun?.weights ?? unetWeights;

  // 6. Export.
  const out = resolve(opts.out);
  const textEncoder = createTextEncoder(configs.textEncoder, unetInit.textSeed);
  exportPriorFolder(out, configs, {
    unet: { params: mainUNet.parameters(), values: finalUNet },
    vae: { params: vae.parameters(), values: vaeWeights },
    textEncoder: { params: textEncoder.parameters() },
  });
  const summary: TrainingSummary = {
    seed: opts.seed,
    preset: opts.preset,
    scenes: opts.scenes,
    ...(clutter ? { clutterScenes: clutter } : {}),
    size: opts.size,
    naturalTextures: opts.naturalTextures,
    workers: opts.workers,
    emaDecay: opts.emaDecay,
    vae: opts.vae,
    unet: opts.unet,
    ...(ftRun ? { finetune: ft } : {}),
    ...(e2eRun ? { e2e } : {}),
    ...(e2e2Run ? { e2e2 } : {}),
    scalingFactor,
    parameters: { vae: vae.parameterCount(), unet: mainUNet.parameterCount(), textEncoder: textEncoder.parameterCount() },
    seconds: {
      data: dataSeconds,
      vae: vaeRun.seconds,
      encode: encodeSeconds,
      unet: unetRun.seconds,
      ...(ftRun ? { ftData: ftRun.dataSeconds, ftEncode: ftRun.encodeSeconds, finetune: ftRun.seconds } : {}),
      ...(e2eRun ? { e2eData: e2eRun.dataSeconds, e2e: e2eRun.seconds } : {}),
      ...(e2e2Run ? { e2e2Data: e2e2Run.dataSeconds, e2e2: e2e2Run.seconds } : {}),
    },
    losses: {
      vae: vaeRun.losses,
      unet: unetRun.losses,
      ...(ftRun ? { finetune: ftRun.losses } : {}),
      ...(e2eRun ? { e2e: e2eRun.losses } : {}),
      ...(e2e2Run ? { e2e2: e2e2Run.losses } : {}),
    },
  };
  const ftNote =
    (ftRun ? `, unet-ft ${formatDuration(ftRun.seconds)}` : '') +
    (e2eRun ? `, unet-e2e ${formatDuration(e2eRun.seconds)}` : '') +
    (e2e2Run ? `, unet-e2e2 ${formatDuration(e2e2Run.seconds)}` : '');
  write(`[export] ${out} (vae ${formatDuration(vaeRun.seconds)}, unet ${formatDuration(unetRun.seconds)}${ftNote} of training)`);
  context.dispose();
  textEncoder.dispose();
  await writeSummaryAndCard(out, summary, opts.evaluate, write);
  return {
    out,
    scalingFactor,
    ...stagesAB,
    ftLosses: ftRun?.losses ?? [],
    ftSeconds: ftRun?.seconds ?? 0,
    e2eLosses: e2eRun?.losses ?? [],
    e2eSeconds: e2eRun?.seconds ?? 0,
    e2e2Losses: e2e2Run?.losses ?? [],
    e2e2Seconds: e2e2Run?.seconds ?? 0,
    completed: true,
    weights: { vae: vaeWeights, unet: finalUNet },
  };
}

interface FinetuneRun {
  losses: LossPoint[];
  seconds: number;
  dataSeconds: number;
  encodeSeconds: number;
  completed: boolean;
  /** The exported weights (EMA) at the end of this session. */
  weights: Map<string, Float32Array>;
}

/**
 * Stage C: renders the first `finetune.scenes` training seeds at `width` x `height` (cached as `ft-scenes`),
 * encodes them and their mirrors with the frozen VAE and stage B's scaling factor (cached as `ft-latents`),
 * and trains the UNet from stage B's exported weights with a fresh Adam state and a fresh EMA, in its own
 * resumable stage folder `unet-ft`. Loss and timestep sampling as in stage B (`p999`, `poolWeight`).
 */
async function runFinetune(a: {
  opts: TrainPriorOptions;
  work: string;
  down: number;
  textureImages: readonly TextureImage[];
  vae: OneStepNets['vae'];
  vaeConfig: JsonObject;
  vaeWeights: ReadonlyMap<string, Float32Array>;
  scalingFactor: number;
  latentKey: unknown;
  unetInit: UNetReplicaInit;
  unetWeights: Map<string, Float32Array>;
  nets: OneStepNets;
  write: (line: string) => void;
}): Promise<FinetuneRun> {
  const { opts, work, write } = a;
  const ft = opts.finetune;
  const t0 = performance.now();
  const real = ft.real ?? 0; // checked in trainPrior
  // Real crops follow the rendered scenes; they carry the seeds -1 .. -real (not procedural seeds).
  const seeds = [...Array.from({ length: ft.scenes }, (_, i) => i), ...Array.from({ length: real }, (_, i) => -1 - i)];
  const dataKey = { v: GENERATOR_VERSION, scenes: ft.scenes, width: ft.width, height: ft.height, naturalTextures: opts.naturalTextures, ...(real ? { real, seed: opts.seed } : {}) };
  const rendered = await cachedArrays(work, 'ft-scenes', dataKey, async () => {
    const r = await renderScenes(seeds.slice(0, ft.scenes), ft.width, ft.height, opts, a.textureImages, write, 'ft-data');
    if (!real) return r;
    const crops = realCrops(real, ft.width, ft.height, opts.seed);
    write(`[ft-data] ${real} crops of the real RGB-D frames (${(100 * crops.filled).toFixed(1)} % of their depth pixels were holes, filled)`);
    const hw = ft.width * ft.height;
    const rgb = new Uint8Array(seeds.length * hw * 3);
    rgb.set(r.rgb as Uint8Array);
    rgb.set(crops.rgb, ft.scenes * hw * 3);
    const depth = new Float32Array(seeds.length * hw);
    depth.set(r.depth as Float32Array);
    depth.set(crops.depth, ft.scenes * hw);
    return { ...r, rgb, depth };
  });
  const ds: SceneDataset = { width: ft.width, height: ft.height, seeds, rgb: rendered.rgb as Uint8Array, depth: rendered.depth as Float32Array };
  const dataSeconds = (performance.now() - t0) / 1000;
  write(`[ft-data] ${ft.scenes} scenes${real ? ` + ${real} real crops` : ''} ${ft.width}x${ft.height} ready (${formatDuration(dataSeconds)})`);

  const latentKey = { v: 1, preset: opts.preset, dataKey, vae: a.latentKey };
  const h = ft.height / a.down;
  const w = ft.width / a.down;
  const t1 = performance.now();
  await cachedArrays(work, 'ft-latents', latentKey, () => encodeScenes(a.vae, a.vaeConfig, a.vaeWeights, a.scalingFactor, ds, opts.workers, write, 'ft-latents'));
  const encodeSeconds = (performance.now() - t1) / 1000;

  const settings: UNetStageSettings = { ...opts.unet, steps: ft.steps, batch: ft.batch, lr: ft.lr };
  const init: UNetReplicaInit = {
    ...a.unetInit,
    settings,
    cache: 'ft-latents',
    dataKey: latentKey,
    count: 2 * seeds.length,
    h,
    w,
    initWeights: a.unetWeights,
  };
  const engine = await startEngine(opts.workers, init, ft.lr, opts.emaDecay);
  write(`[unet-ft] from stage B's weights, latent ${w}x${h} (${ft.width}x${ft.height} px), ${ft.scenes} scenes${real ? ` + ${real} real crops` : ''} (+ mirrors), ${opts.workers} worker(s)`);
  const valSet = validationSet(opts.valScenes, ft.width, ft.height, a.textureImages, [h, w, 4]);
  const shape = { count: 2 * seeds.length, h, w, c: 4 };
  const dir = join(work, 'unet-ft');
  if (valSet.scenes.length > 0 && !existsSync(join(dir, 'latest.json'))) {
    // Where the stage starts: stage B's exported weights, scored at this stage's size.
    withWeights(a.nets.unet, a.unetWeights);
    write(`[unet-ft] stage B's weights at ${ft.width}x${ft.height}: ${validate(a.nets, valSet)}`);
  }
  const run = await runStage({
    name: 'unet-ft',
    dir,
    totalSteps: ft.steps,
    ckptEvery: opts.ckptEvery,
    logEvery: opts.logEvery,
    engine: engine.engine,
    seed: opts.seed * 1000 + 33,
    // Stage B's settings (which fix its weights, the start of this stage) and this stage's own.
    settings: { stage: 'unet-ft', seed: opts.seed, preset: opts.preset, latentKey: a.latentKey, unet: opts.unet, ema: opts.emaDecay, ftLatentKey: latentKey, finetune: ft },
    schedule: cosineSchedule(0.05, Math.min(50, Math.floor(ft.steps / 20))),
    draw: (rng) => drawUNetItems(rng, shape, settings),
    onLog: validationHook(valSet, a.nets, engine.engine, opts.logEvery, ft.steps),
    stopAfter: opts.stopAfter,
    write,
  });
  const snap = await engine.engine.snapshot();
  await engine.engine.close();
  engine.local?.dispose();
  return { losses: run.losses, seconds: run.seconds, dataSeconds, encodeSeconds, completed: run.completed, weights: snap.ema ?? snap.weights };
}

interface E2ERun {
  losses: LossPoint[];
  seconds: number;
  dataSeconds: number;
  completed: boolean;
  /** The exported weights (EMA) at the end of this session. */
  weights: Map<string, Float32Array>;
}

/**
 * Stage E: renders the first `e2e.scenes` training seeds at `width` x `height` (cached as `e2e-scenes`) and
 * trains the UNet from `startWeights` end to end through the frozen decoder (`stages/e2e-stage.ts`), with a
 * fresh Adam state and EMA, in its own resumable stage folder `unet-e2e`.
 */
async function runE2E(a: {
  opts: TrainPriorOptions;
  /** Which stage: E (`--e2e-*`, folder `unet-e2e`, cache `e2e-scenes`) or E2 (`--e2e2-*`, `unet-e2e2`, `e2e2-scenes`). @default 'e2e' */
  phase?: E2EPhase;
  work: string;
  down: number;
  textureImages: readonly TextureImage[];
  vaeConfig: JsonObject;
  vaeWeights: Map<string, Float32Array>;
  scalingFactor: number;
  /** The networks' configs and constructor seeds (the weights replace the seeded values). */
  unetInit: Pick<UNetReplicaInit, 'unetConfig' | 'textEncoderConfig' | 'seed' | 'textSeed'>;
  startWeights: Map<string, Float32Array>;
  nets: OneStepNets;
  write: (line: string) => void;
  /** `--e2e-from`: the folder the start weights come from and its weights' fingerprint (else stages A-C's). */
  from?: { model: string; sha256: string };
}): Promise<E2ERun> {
  const { opts, work, write } = a;
  const phase = a.phase ?? 'e2e';
  const e2e = opts[phase];
  const t0 = performance.now();
  const clutter = e2e.clutter ?? 0;
  const seeds = trainingSeeds(e2e.scenes, clutter);
  const dataKey = { v: GENERATOR_VERSION, scenes: e2e.scenes, ...(clutter ? { clutter } : {}), width: e2e.width, height: e2e.height, naturalTextures: opts.naturalTextures };
  const cache = `${phase}-scenes`;
  await cachedArrays(work, cache, dataKey, () => renderScenes(seeds, e2e.width, e2e.height, opts, a.textureImages, write, `${phase}-data`));
  const dataSeconds = (performance.now() - t0) / 1000;
  write(`[${phase}-data] ${e2e.scenes} scenes${clutter ? ` + ${clutter} clutter scenes` : ''} ${e2e.width}x${e2e.height} ready (${formatDuration(dataSeconds)})`);
  const init: E2EReplicaInit = {
    stage: 'e2e',
    unetConfig: a.unetInit.unetConfig,
    vaeConfig: a.vaeConfig,
    textEncoderConfig: a.unetInit.textEncoderConfig,
    seed: a.unetInit.seed,
    vaeSeed: opts.seed * 7 + 1,
    textSeed: a.unetInit.textSeed,
    vaeWeights: a.vaeWeights,
    initWeights: a.startWeights,
    scalingFactor: a.scalingFactor,
    settings: e2e,
    work,
    cache,
    dataKey,
  };
  const engine = await startEngine(opts.workers, init, e2e.lr, opts.emaDecay);
  const h = e2e.height / a.down;
  const w = e2e.width / a.down;
  const name = `unet-${phase}`;
  const startLabel = a.from ? a.from.model : phase === 'e2e2' ? 'stage E (float16)' : `stage ${opts.finetune.steps > 0 ? 'C' : 'B'}`;
  write(`[${name}] from ${startLabel}'s weights, ${e2e.width}x${e2e.height} (latent ${w}x${h}), ${seeds.length} scenes, ${opts.workers} worker(s)`);
  const valSet = validationSet(opts.valScenes, e2e.width, e2e.height, a.textureImages, [h, w, 4]);
  const dir = join(work, name);
  if (valSet.scenes.length > 0 && !existsSync(join(dir, 'latest.json'))) {
    withWeights(a.nets.unet, a.startWeights);
    write(`[${name}] start weights at ${e2e.width}x${e2e.height}: ${validate(a.nets, valSet)}`);
  }
  // Everything that fixes the start weights and this stage's own settings (stage E2: stages A-E's too).
  const upstream = { stage: name, seed: opts.seed, preset: opts.preset, scalingFactor: a.scalingFactor, unet: opts.unet, ema: opts.emaDecay, finetune: opts.finetune.steps > 0 ? opts.finetune : null };
  const run = await runStage({
    name,
    dir,
    totalSteps: e2e.steps,
    ckptEvery: opts.ckptEvery,
    logEvery: opts.logEvery,
    engine: engine.engine,
    // Stage E2 draws the same stream as stage E: it then equals `--e2e-from` on stage E's export, bit for bit.
    seed: opts.seed * 1000 + 44,
    settings: a.from
      ? { stage: name, seed: opts.seed, from: a.from, ema: opts.emaDecay, dataKey, e2e }
      : phase === 'e2e2'
        ? { ...upstream, e2e: opts.e2e, start: 'float16', dataKey, e2e2: e2e }
        : { ...upstream, dataKey, e2e },
    schedule: cosineSchedule(0.05, Math.min(50, Math.floor(e2e.steps / 20))),
    draw: (rng) => drawE2EItems(rng, seeds.length, h * w * 4, e2e.batch),
    onLog: validationHook(valSet, a.nets, engine.engine, opts.logEvery, e2e.steps),
    stopAfter: opts.stopAfter,
    write,
  });
  const snap = await engine.engine.snapshot();
  await engine.engine.close();
  engine.local?.dispose();
  return { losses: run.losses, seconds: run.seconds, dataSeconds, completed: run.completed, weights: snap.ema ?? snap.weights };
}

/**
 * `--e2e-from DIR`: stage E alone, from a model folder this script wrote. Its training.json gives the preset,
 * the scaling factor and the seed of the (seeded, frozen) text encoder; its VAE and UNet weights are the start.
 * Exports DIR's VAE and text encoder with the new UNet, and a training.json that keeps DIR's stages A-C and
 * records DIR's own stage E under `e2eFrom`. Resumable like every stage (work folder `unet-e2e`).
 */
async function stageEFromFolder(opts: TrainPriorOptions, work: string, write: (line: string) => void): Promise<TrainPriorResult> {
  const from = resolve(opts.e2eFrom!);
  check(opts.e2e.steps > 0, () => `--e2e-from runs stage E alone: give --e2e-steps > 0, got ${opts.e2e.steps}`, { key: '--e2e-steps' });
  check(resolve(opts.out) !== from, () => `--out is the --e2e-from folder (${from}): write the new model elsewhere`, { key: '--out' });
  const summaryFile = join(from, 'training.json');
  check(existsSync(summaryFile), () => 'no training.json here: --e2e-from takes a model folder that train-prior wrote', { file: summaryFile, key: '--e2e-from' });
  const source = readTrainingSummary(from);
  check(Number.isInteger(source.seed), () => `expected the integer seed of the run that wrote it, got ${JSON.stringify(source.seed)}`, { file: summaryFile, key: 'seed' });
  check(typeof source.naturalTextures === 'boolean', () => `expected true or false, got ${JSON.stringify(source.naturalTextures)}`, { file: summaryFile, key: 'naturalTextures' });
  const spec = PRESETS[source.preset as PresetName];
  check(spec, () => `unknown preset "${source.preset}"; expected ${Object.keys(PRESETS).join(', ')}`, { file: summaryFile, key: 'preset' });
  const configs = priorConfigs(spec, source.scalingFactor);
  for (const [part, rel] of [['unet', 'unet/config.json'], ['vae', 'vae/config.json']] as const) {
    const file = join(from, rel);
    const disk = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : undefined;
    check(isDeepStrictEqual(disk, configs[part]), () => `not the ${part} config of preset ${source.preset} (scaling factor ${source.scalingFactor}) that its training.json names: --e2e-from takes a folder train-prior wrote`, { file, key: '--e2e-from' });
  }
  const down = 2 ** (spec.vaeChannels.length - 1);
  checkSizedStage(opts.e2e, 'e2e', down, CLUTTER_SEED_START);
  // Stage E's scenes use the source's textures, and its random stream the source's seed (the summary records the
  // source's seed and data settings; with them a run's stage E2 equals this, bit for bit).
  const eOpts: TrainPriorOptions = { ...opts, seed: source.seed, naturalTextures: source.naturalTextures };
  const textureImages = eOpts.naturalTextures ? loadTextureImages() : [];
  const vaeWeights = await folderWeights(join(from, 'vae'), 'vae');
  const unetWeights = await folderWeights(join(from, 'unet'), 'unet');
  const unetFile = join(from, 'unet', 'diffusion_pytorch_model.safetensors');
  const sha256 = createHash('sha256').update(readFileSync(unetFile)).digest('hex');
  // The folder's text encoder is train-prior's seeded one (seed * 7 + 3); checked, since the replicas rebuild it.
  const textSeed = source.seed * 7 + 3;
  const textEncoder = createTextEncoder(configs.textEncoder, textSeed, { bind: null });
  const diskText = await loadTextEncoder(join(from, 'text_encoder'), { bind: null });
  try {
    const seeded = new Map(textEncoder.parameters().map((q) => [q.name, q]));
    for (const p of diskText.parameters()) {
      const mine = seeded.get(p.name);
      const same = mine !== undefined && mine.hostData().every((v, i) => v === p.hostData()[i]);
      check(same, () => `text encoder weight "${p.name}" is not train-prior's (seed ${source.seed} x 7 + 3)`, { file: join(from, 'text_encoder'), key: '--e2e-from' });
    }
  } finally {
    diskText.dispose();
  }
  const vae = withWeights(createVae(configs.vae, 0, { trainable: true }), vaeWeights);
  const unet = createUNet(configs.unet, 0, { trainable: true });
  const context = emptyPromptContext(configs.textEncoder, textSeed);
  const schedule = noiseSchedule(parseSchedulerConfig(configs.scheduler, '<scheduler config>'));
  const nets: OneStepNets = { vae, unet, scalingFactor: source.scalingFactor, context, alphaBarT: schedule.alphasCumprod[999]! };
  const unetInit = { unetConfig: configs.unet, textEncoderConfig: configs.textEncoder, seed: 0, textSeed };
  write(`[e2e-from] ${from}: preset ${source.preset}, scaling_factor ${source.scalingFactor.toFixed(5)}, unet sha256 ${sha256.slice(0, 12)}`);
  const out = resolve(opts.out);
  let run: E2ERun;
  try {
    run = await runE2E({ opts: eOpts, work, down, textureImages, vaeConfig: configs.vae, vaeWeights, scalingFactor: source.scalingFactor, unetInit, startWeights: unetWeights, nets, write, from: { model: from, sha256 } });
    if (run.completed) {
      exportPriorFolder(out, configs, {
        unet: { params: unet.parameters(), values: run.weights },
        vae: { params: vae.parameters(), values: vaeWeights },
        textEncoder: { params: textEncoder.parameters() },
      });
    }
  } finally {
    context.dispose();
    textEncoder.dispose();
    vae.dispose();
    unet.dispose();
  }
  const result = {
    vaeLosses: [],
    unetLosses: [],
    vaeSeconds: 0,
    unetSeconds: 0,
    dataSeconds: 0,
    e2eLosses: run.losses,
    e2eSeconds: run.seconds,
    vae: vaeWeights,
    unet: run.weights,
  };
  if (!run.completed) return partialResult(opts, result);
  // The source's own end-to-end stages (E, and E2 when it ran) move under `e2eFrom`; stage E is this run's.
  const { e2e2: sourceE2E2, ...kept } = source;
  const { e2e2Data: _data, e2e2: _seconds, ...keptSeconds } = source.seconds;
  const { e2e2: e2e2Losses, ...keptLosses } = source.losses;
  const summary: TrainingSummary = {
    ...kept,
    workers: opts.workers,
    emaDecay: opts.emaDecay,
    e2e: opts.e2e,
    e2eFrom: {
      model: from,
      unetSha256: sha256,
      e2e: source.e2e ?? null,
      ...(sourceE2E2 ? { e2e2: sourceE2E2 } : {}),
      seconds: endToEndSeconds(source.seconds),
      losses: source.losses.e2e ?? [],
      ...(e2e2Losses ? { e2e2Losses } : {}),
    },
    seconds: { ...keptSeconds, e2eData: run.dataSeconds, e2e: run.seconds },
    losses: { ...keptLosses, e2e: run.losses },
  };
  write(`[export] ${out} (stage E ${formatDuration(run.seconds)} from ${from})`);
  await writeSummaryAndCard(out, summary, opts.evaluate, write);
  return { out, scalingFactor: source.scalingFactor, ...result, ftLosses: [], ftSeconds: 0, e2e2Losses: [], e2e2Seconds: 0, completed: true, weights: { vae: vaeWeights, unet: run.weights } };
}

/** Writes `training.json` beside an exported model; with `evaluate`, evaluates it and writes its model card. */
async function writeSummaryAndCard(out: string, summary: TrainingSummary, evaluate: boolean, write: (line: string) => void): Promise<void> {
  writeFileAtomic(join(out, 'training.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (!evaluate) return;
  const { evaluatePrior } = await import('./eval-prior.ts');
  writeModelCard(out, summary, await evaluatePrior(out, { write, vaeCeiling: true }));
}

/** The float32 weights of a model folder's `vae` or `unet`, by name (project layout). */
async function folderWeights(dir: string, part: 'vae' | 'unet'): Promise<Map<string, Float32Array>> {
  const model = part === 'vae' ? await loadVae(dir, { bind: null }) : await loadUNet(dir, { bind: null });
  try {
    return new Map(model.parameters().map((p) => [p.name, p.hostData().slice()]));
  } finally {
    model.dispose();
  }
}

/** Renders training `seeds` at `width` x `height` (on the worker threads when there are several). */
async function renderScenes(
  seeds: readonly number[],
  width: number,
  height: number,
  opts: Pick<TrainPriorOptions, 'workers' | 'naturalTextures'>,
  textureImages: readonly TextureImage[],
  write: (line: string) => void,
  label: string,
): Promise<{ rgb: Uint8Array; depth: Float32Array }> {
  if (opts.workers > 1) {
    write(`[${label}] rendering ${seeds.length} scenes on ${opts.workers} threads`);
    return renderParallel(seeds, width, height, opts.naturalTextures, opts.workers);
  }
  const built = buildSceneDataset(seeds, {
    width,
    height,
    textureImages,
    onScene: (done, total) => {
      if (done % 500 === 0 || done === total) write(`[${label}] rendered ${done}/${total} scenes`);
    },
  });
  return { rgb: built.rgb, depth: built.depth };
}

/** Encodes every scene of `ds` and its mirror with the frozen VAE (`encodeLatentSet` layout). */
async function encodeScenes(
  vae: OneStepNets['vae'],
  vaeConfig: JsonObject,
  vaeWeights: ReadonlyMap<string, Float32Array>,
  scalingFactor: number,
  ds: SceneDataset,
  workers: number,
  write: (line: string) => void,
  label: string,
): Promise<{ rgb: Float32Array; depth: Float32Array }> {
  const down = 2 ** ((vaeConfig.block_out_channels as number[]).length - 1);
  if (workers > 1) {
    write(`[${label}] encoding ${ds.seeds.length} scenes (+ mirrors) on ${workers} threads`);
    return encodeParallel(vaeConfig, vaeWeights, scalingFactor, ds, (ds.height / down) * (ds.width / down) * 4, workers);
  }
  const set = encodeLatentSet(vae, ds, scalingFactor, 8, (done, total) => {
    if (done % 1000 < 8 || done === total) write(`[${label}] encoded ${done}/${total} scenes (+ mirrors)`);
  });
  return { rgb: set.rgb, depth: set.depth };
}

/** Sets a main-thread model's (trainable) weights from a name -> values map. */
function withWeights<M extends { parameters(): Param[] }>(model: M, weights: ReadonlyMap<string, Float32Array>): M {
  assignWeights(model.parameters(), weights);
  return model;
}

function partialResult(
  opts: TrainPriorOptions,
  r: {
    vaeLosses: LossPoint[];
    unetLosses?: LossPoint[];
    ftLosses?: LossPoint[];
    e2eLosses?: LossPoint[];
    e2eSeconds?: number;
    e2e2Losses?: LossPoint[];
    e2e2Seconds?: number;
    vaeSeconds: number;
    unetSeconds?: number;
    ftSeconds?: number;
    dataSeconds: number;
    vae: Map<string, Float32Array>;
    unet?: Map<string, Float32Array>;
  },
): TrainPriorResult {
  return {
    out: resolve(opts.out),
    scalingFactor: NaN,
    vaeLosses: r.vaeLosses,
    unetLosses: r.unetLosses ?? [],
    ftLosses: r.ftLosses ?? [],
    vaeSeconds: r.vaeSeconds,
    unetSeconds: r.unetSeconds ?? 0,
    ftSeconds: r.ftSeconds ?? 0,
    e2eLosses: r.e2eLosses ?? [],
    e2eSeconds: r.e2eSeconds ?? 0,
    e2e2Losses: r.e2e2Losses ?? [],
    e2e2Seconds: r.e2e2Seconds ?? 0,
    dataSeconds: r.dataSeconds,
    completed: false,
    weights: { vae: r.vae, unet: r.unet ?? new Map() },
  };
}

async function main(): Promise<void> {
  const d = DEFAULTS;
  const argv = await yargs(hideBin(process.argv))
    .scriptName('train-prior')
    .usage('$0 --seed 0 --out models/aperture-depth-tiny')
    .option('seed', { type: 'number', default: d.seed, describe: 'seed of weights and batches' })
    .option('out', { type: 'string', default: 'models/aperture-depth-tiny', describe: 'diffusers folder to write' })
    .option('work', { type: 'string', describe: 'checkpoints and caches [default: .cache/train-prior/<basename(out)>]' })
    .option('preset', { choices: Object.keys(PRESETS), default: d.preset, describe: 'model size' })
    .option('scenes', { type: 'number', default: d.scenes, describe: 'training scenes (seeds 0..N-1)' })
    .option('size', { type: 'number', default: d.size, describe: 'scene size in pixels (square)' })
    .option('natural-textures', { type: 'boolean', default: d.naturalTextures, describe: 'texture patches from test/data/open3d-rgbd colour images' })
    .option('vae-steps', { type: 'number', default: d.vae.steps })
    .option('vae-batch', { type: 'number', default: d.vae.batch })
    .option('vae-crop', { type: 'number', default: d.vae.crop })
    .option('vae-lr', { type: 'number', default: d.vae.lr })
    .option('kl-weight', { type: 'number', default: d.vae.klWeight })
    .option('depth-weight', { type: 'number', default: d.vae.depthWeight })
    .option('chroma-weight', { type: 'number', default: d.vae.chromaWeight ?? 0, describe: 'stage A: weight of an L1 on the chroma of the RGB error pooled to the latent cells (0 = off)' })
    .option('unet-steps', { type: 'number', default: d.unet.steps })
    .option('unet-batch', { type: 'number', default: d.unet.batch })
    .option('unet-lr', { type: 'number', default: d.unet.lr })
    .option('p999', { type: 'number', default: d.unet.p999, describe: 'share of UNet samples at t = 999' })
    .option('pool-weight', { type: 'number', default: d.unet.poolWeight, describe: 'weight of the 4x4-pooled latent MSE' })
    .option('ft-steps', { type: 'number', default: d.finetune.steps, describe: 'stage C steps: fine-tune the UNet at --ft-width x --ft-height (0 = off; 1200 was tried)' })
    .option('ft-batch', { type: 'number', default: d.finetune.batch })
    .option('ft-lr', { type: 'number', default: d.finetune.lr })
    .option('ft-width', { type: 'number', default: d.finetune.width, describe: 'stage C scene width (the processing resolution)' })
    .option('ft-height', { type: 'number', default: d.finetune.height, describe: 'stage C scene height (4:3 at the processing resolution)' })
    .option('ft-scenes', { type: 'number', default: d.finetune.scenes, describe: 'stage C training scenes (seeds 0..N-1)' })
    .option('ft-real', { type: 'number', default: 0, describe: 'stage C: crops of the real Open3D RGB-D frames (TUM, SUN) added to the scenes' })
    .option('e2e-steps', { type: 'number', default: d.e2e.steps, describe: 'stage E steps: end-to-end fine-tuning through the decoder with the affine-invariant depth loss (0 = off)' })
    .option('e2e-batch', { type: 'number', default: d.e2e.batch })
    .option('e2e-lr', { type: 'number', default: d.e2e.lr })
    .option('e2e-width', { type: 'number', default: d.e2e.width, describe: 'stage E scene width (the processing resolution)' })
    .option('e2e-height', { type: 'number', default: d.e2e.height })
    .option('e2e-scenes', { type: 'number', default: d.e2e.scenes, describe: 'stage E training scenes (seeds 0..N-1)' })
    .option('clutter-scenes', { type: 'number', default: d.clutterScenes ?? 0, describe: 'clutter scenes added to the training scenes (stages A and B; seeds from 500000 on)' })
    .option('e2e-clutter-scenes', { type: 'number', default: d.e2e.clutter ?? 0, describe: 'stage E: clutter scenes added to its scenes' })
    .option('e2e-grad-weight', { type: 'number', default: d.e2e.gradWeight, describe: 'stage E: weight of the L1 on the x/y differences of the aligned depth error (0 = off)' })
    .option('e2e2-steps', { type: 'number', default: d.e2e2.steps, describe: 'stage E2 steps: a second stage E at --e2e2-width x --e2e2-height from stage E\'s float16 export (0 = off)' })
    .option('e2e2-batch', { type: 'number', default: d.e2e2.batch })
    .option('e2e2-lr', { type: 'number', default: d.e2e2.lr })
    .option('e2e2-width', { type: 'number', default: d.e2e2.width, describe: 'stage E2 scene width' })
    .option('e2e2-height', { type: 'number', default: d.e2e2.height })
    .option('e2e2-scenes', { type: 'number', default: d.e2e2.scenes, describe: 'stage E2 training scenes (seeds 0..N-1)' })
    .option('e2e2-grad-weight', { type: 'number', default: d.e2e2.gradWeight, describe: 'stage E2: weight of the gradient-matching L1 (0 = off)' })
    .option('e2e-from', { type: 'string', describe: 'stage E alone, from the VAE and UNet of a model folder train-prior wrote (e.g. to lengthen its stage E); stages A-C are skipped' })
    .option('ckpt-every', { type: 'number', default: d.ckptEvery })
    .option('log-every', { type: 'number', default: d.logEvery })
    .option('val-scenes', { type: 'number', default: d.valScenes })
    .option('eval', { type: 'boolean', default: d.evaluate, describe: 'evaluate and write MODEL_CARD.md at the end' })
    .option('backend', { type: 'string', default: d.backend })
    .option('workers', { type: 'number', default: d.workers, describe: 'data-parallel worker threads (one core each)' })
    .option('ema', { type: 'number', default: d.emaDecay, describe: 'decay of the exported weight EMA (0 = raw weights)' })
    .strict()
    .parse();
  const t0 = performance.now();
  const r = await trainPrior({
    seed: argv.seed,
    out: argv.out,
    work: argv.work,
    preset: argv.preset as PresetName,
    scenes: argv.scenes,
    clutterScenes: argv['clutter-scenes'],
    size: argv.size,
    naturalTextures: argv['natural-textures'],
    vae: {
      steps: argv['vae-steps'],
      batch: argv['vae-batch'],
      crop: argv['vae-crop'],
      lr: argv['vae-lr'],
      klWeight: argv['kl-weight'],
      depthWeight: argv['depth-weight'],
      // Absent when 0, so the stage's resume key (and the cached VAE of earlier runs) stays what it was.
      ...(argv['chroma-weight'] !== 0 ? { chromaWeight: argv['chroma-weight'] } : {}),
    },
    unet: { steps: argv['unet-steps'], batch: argv['unet-batch'], lr: argv['unet-lr'], p999: argv.p999, poolWeight: argv['pool-weight'] },
    finetune: {
      steps: argv['ft-steps'],
      batch: argv['ft-batch'],
      lr: argv['ft-lr'],
      width: argv['ft-width'],
      height: argv['ft-height'],
      scenes: argv['ft-scenes'],
      // Anything but 0 goes through, so that a negative or non-numeric value is reported, not dropped.
      ...(argv['ft-real'] !== 0 ? { real: argv['ft-real'] } : {}),
    },
    e2e: {
      steps: argv['e2e-steps'],
      batch: argv['e2e-batch'],
      lr: argv['e2e-lr'],
      width: argv['e2e-width'],
      height: argv['e2e-height'],
      scenes: argv['e2e-scenes'],
      clutter: argv['e2e-clutter-scenes'],
      gradWeight: argv['e2e-grad-weight'],
    },
    e2e2: {
      steps: argv['e2e2-steps'],
      batch: argv['e2e2-batch'],
      lr: argv['e2e2-lr'],
      width: argv['e2e2-width'],
      height: argv['e2e2-height'],
      scenes: argv['e2e2-scenes'],
      gradWeight: argv['e2e2-grad-weight'],
    },
    ...(argv['e2e-from'] !== undefined ? { e2eFrom: argv['e2e-from'] } : {}),
    ckptEvery: argv['ckpt-every'],
    logEvery: argv['log-every'],
    valScenes: argv['val-scenes'],
    evaluate: argv.eval,
    backend: parseBackend(argv.backend),
    workers: argv.workers,
    emaDecay: argv.ema,
  });
  process.stderr.write(`done in ${formatDuration((performance.now() - t0) / 1000)}: ${r.out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
