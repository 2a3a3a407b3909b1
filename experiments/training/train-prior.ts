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
 * 4. export the folder, evaluate it (held-out procedural + Middlebury vs a fitted plane), write MODEL_CARD.md
 *
 * Each stage checkpoints (weights, Adam moments, step, RNG) every `--ckpt-every` steps in `--work`; the same
 * command continues an interrupted run.
 */
import * as tf from '@tensorflow/tfjs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initEngine, parseBackend, type BackendName } from '../../core/engine/backend.ts';
import { check } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { createTextEncoder, createUNet, createVae } from '../../diffusion/models/load.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { noiseSchedule } from '../../diffusion/schedulers/noise-schedule.ts';
import { parseSchedulerConfig } from '../../diffusion/schedulers/scheduler-config.ts';
import { cosineSchedule } from '../../optimizers/schedules.ts';
import { cachedArrays } from './data/dataset-cache.ts';
import { encodeParallel, renderParallel } from './data/parallel-data.ts';
import { buildSceneDataset, type SceneDataset } from './data/scene-dataset.ts';
import { scorePriorAndPlane } from './eval/aligned-metrics.ts';
import { predictOneStep, type OneStepNets } from './eval/one-step.ts';
import { exportPriorFolder } from './export-model.ts';
import { MICRO, TINY, priorConfigs, type SizeSpec } from './model-configs.ts';
import { GENERATOR_VERSION, TEST_SEED_START, generateScene } from './procedural-scenes.ts';
import { loadTextureImages } from './scene/texture-images.ts';
import { emptyPromptContext, type UNetReplicaInit, type VaeReplicaInit } from './stages/replica.ts';
import { drawUNetItems, encodeLatentSet, type UNetStageSettings } from './stages/unet-stage.ts';
import { drawVaeItems, estimateScalingFactor, type VaeStageSettings } from './stages/vae-stage.ts';
import { startEngine } from './trainer/grad-engine.ts';
import type { TrainingSummary } from './model-card.ts';
import type { Param } from '../../diffusion/checkpoint/param.ts';
import { formatDuration } from './trainer/progress.ts';
import { runStage, type LossPoint } from './trainer/stage-loop.ts';

export const PRESETS = Object.freeze({ tiny: TINY, micro: MICRO });
export type PresetName = keyof typeof PRESETS;

export interface TrainPriorOptions {
  seed: number;
  out: string;
  /** Checkpoints and caches. @default `.cache/train-prior/<basename(out)>` */
  work?: string;
  preset: PresetName;
  /** Training scenes (seeds 0 .. scenes-1). */
  scenes: number;
  /** Scene render size (square). */
  size: number;
  naturalTextures: boolean;
  vae: VaeStageSettings;
  unet: UNetStageSettings;
  ckptEvery: number;
  logEvery: number;
  /** Held-out procedural scenes scored during stage B (0 = none). */
  valScenes: number;
  /** Run the final evaluation and write the model card. */
  evaluate: boolean;
  backend: BackendName;
  /** Data-parallel worker threads (1 = this thread only). */
  workers: number;
  /** Decay of the weight EMA that is exported (both stages); 0 = export the raw weights. */
  emaDecay: number;
  /** Tests: stop each stage after this many steps of this session, as if killed. */
  stopAfter?: number;
  write?: (line: string) => void;
}

export const DEFAULTS: Omit<TrainPriorOptions, 'out'> = Object.freeze({
  seed: 0,
  preset: 'tiny',
  scenes: 6000,
  size: 64,
  naturalTextures: true,
  vae: { steps: 800, batch: 8, crop: 32, lr: 4e-4, klWeight: 1e-4, depthWeight: 2 },
  unet: { steps: 3500, batch: 16, lr: 1e-3, p999: 0.75, poolWeight: 1 },
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
  vaeSeconds: number;
  unetSeconds: number;
  dataSeconds: number;
  completed: boolean;
  /** Weights at the end (for tests), by network and name. */
  weights: { vae: Map<string, Float32Array>; unet: Map<string, Float32Array> };
}

/** Validation on held-out procedural scenes at training size: mean aligned abs_rel / d1, prior and plane. */
function validate(nets: OneStepNets, scenes: { rgb: Float32Array; depth: Float32Array }[], size: number, latentShape: number[]): string {
  if (scenes.length === 0) return '';
  const rgb = new Float32Array(scenes.length * size * size * 3);
  scenes.forEach((s, k) => rgb.set(s.rgb, k * size * size * 3));
  const noise = new Rng(12345).normalArray(scenes.length * latentShape.reduce((a, b) => a * b, 1));
  const pred = predictOneStep(nets, rgb, [scenes.length, size, size], noise);
  let pa = 0;
  let pd = 0;
  let qa = 0;
  let qd = 0;
  scenes.forEach((s, k) => {
    const r = scorePriorAndPlane(pred.subarray(k * size * size, (k + 1) * size * size), s.depth, size, size);
    pa += r.prior.abs_rel;
    pd += r.prior.delta1;
    qa += r.plane.abs_rel;
    qd += r.plane.delta1;
  });
  const n = scenes.length;
  return `val abs_rel ${(pa / n).toFixed(3)} d1 ${(pd / n).toFixed(3)} (plane ${(qa / n).toFixed(3)} / ${(qd / n).toFixed(3)})`;
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
  const t0 = performance.now();

  // 0. Training scenes (train split only: seeds 0 .. scenes-1).
  const seeds = Array.from({ length: opts.scenes }, (_, i) => i);
  const textureImages = opts.naturalTextures ? loadTextureImages() : [];
  const dsKey = { v: GENERATOR_VERSION, scenes: opts.scenes, size: opts.size, naturalTextures: opts.naturalTextures };
  const rendered = await cachedArrays(work, 'scenes', dsKey, async () => {
    if (opts.workers > 1) {
      write(`[data] rendering ${opts.scenes} scenes on ${opts.workers} threads`);
      return renderParallel(seeds, opts.size, opts.naturalTextures, opts.workers);
    }
    const built = buildSceneDataset(seeds, {
      width: opts.size,
      height: opts.size,
      textureImages,
      onScene: (done, total) => {
        if (done % 500 === 0 || done === total) write(`[data] rendered ${done}/${total} scenes`);
      },
    });
    return { rgb: built.rgb, depth: built.depth };
  });
  const ds: SceneDataset = { width: opts.size, height: opts.size, seeds, rgb: rendered.rgb as Uint8Array, depth: rendered.depth as Float32Array };
  const dataSeconds = (performance.now() - t0) / 1000;
  write(`[data] ${opts.scenes} scenes ${opts.size}x${opts.size} ready (${formatDuration(dataSeconds)})`);

  // 1. Stage A: the VAE.
  const configs0 = priorConfigs(spec, 1);
  const vaeInit: VaeReplicaInit = {
    stage: 'vae',
    vaeConfig: configs0.vae,
    seed: opts.seed * 7 + 1,
    settings: opts.vae,
    work,
    dataKey: dsKey,
    scenes: opts.scenes,
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
    return partialResult(opts, vaeRun.losses, [], vaeRun.seconds, 0, dataSeconds, vaeWeights, new Map());
  }

  // 2. Scaling factor and the frozen-VAE latents of every scene and its mirror.
  const scalingFactor = estimateScalingFactor(vae, ds, Math.min(256, ds.seeds.length));
  write(`[latents] scaling_factor ${scalingFactor.toFixed(5)}`);
  const latentKey = { v: 1, dsKey, vaeSeed: opts.seed, vae: opts.vae, ema: opts.emaDecay, scalingFactor };
  const lh = opts.size / down;
  const t1 = performance.now();
  await cachedArrays(work, 'latents', latentKey, async () => {
    if (opts.workers > 1) {
      write(`[latents] encoding ${ds.seeds.length} scenes (+ mirrors) on ${opts.workers} threads`);
      return encodeParallel(configs0.vae, vaeWeights, scalingFactor, ds, lh * lh * 4, opts.workers);
    }
    const set = encodeLatentSet(vae, ds, scalingFactor, 8, (done, total) => {
      if (done % 1000 < 8 || done === total) write(`[latents] encoded ${done}/${total} scenes (+ mirrors)`);
    });
    return { rgb: set.rgb, depth: set.depth };
  });
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
  const valScenes = Array.from({ length: opts.valScenes }, (_, k) => {
    const s = generateScene(TEST_SEED_START + k, { width: opts.size, height: opts.size, textureImages });
    return { rgb: s.rgb, depth: s.depth };
  });
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
    onLog: async (step) => {
      if (opts.valScenes === 0 || (step % (opts.logEvery * 4) !== 0 && step !== opts.unet.steps)) return '';
      const snap = await unetEngine.engine.snapshot();
      withWeights(mainUNet, snap.ema ?? snap.weights);
      return validate(nets, valScenes, opts.size, [lh, lh, 4]);
    },
    stopAfter: opts.stopAfter,
    write,
  });
  const unetSnap = await unetEngine.engine.snapshot();
  const unetWeights = unetSnap.ema ?? unetSnap.weights;
  await unetEngine.engine.close();
  unetEngine.local?.dispose();
  if (!unetRun.completed) {
    return partialResult(opts, vaeRun.losses, unetRun.losses, vaeRun.seconds, unetRun.seconds, dataSeconds, vaeWeights, unetWeights);
  }

  // 4. Export.
  const out = resolve(opts.out);
  const textEncoder = createTextEncoder(configs.textEncoder, unetInit.textSeed);
  exportPriorFolder(out, configs, {
    unet: { params: mainUNet.parameters(), values: unetWeights },
    vae: { params: vae.parameters(), values: vaeWeights },
    textEncoder: { params: textEncoder.parameters() },
  });
  const summary: TrainingSummary = {
    seed: opts.seed,
    preset: opts.preset,
    scenes: opts.scenes,
    size: opts.size,
    naturalTextures: opts.naturalTextures,
    workers: opts.workers,
    emaDecay: opts.emaDecay,
    vae: opts.vae,
    unet: opts.unet,
    scalingFactor,
    parameters: { vae: vae.parameterCount(), unet: mainUNet.parameterCount(), textEncoder: textEncoder.parameterCount() },
    seconds: { data: dataSeconds, vae: vaeRun.seconds, encode: encodeSeconds, unet: unetRun.seconds },
    losses: { vae: vaeRun.losses, unet: unetRun.losses },
  };
  writeFileAtomic(join(out, 'training.json'), `${JSON.stringify(summary, null, 2)}\n`);
  write(`[export] ${out} (vae ${formatDuration(vaeRun.seconds)}, unet ${formatDuration(unetRun.seconds)} of training)`);
  context.dispose();
  textEncoder.dispose();
  if (opts.evaluate) {
    const { evaluatePrior } = await import('./eval-prior.ts');
    const { writeModelCard } = await import('./model-card.ts');
    const evaluation = await evaluatePrior(out, { write });
    writeModelCard(out, summary, evaluation);
  }
  return {
    out,
    scalingFactor,
    vaeLosses: vaeRun.losses,
    unetLosses: unetRun.losses,
    vaeSeconds: vaeRun.seconds,
    unetSeconds: unetRun.seconds,
    dataSeconds,
    completed: true,
    weights: { vae: vaeWeights, unet: unetWeights },
  };
}

/** Sets a main-thread model's (trainable) weights from a name -> values map. */
function withWeights<M extends { parameters(): Param[] }>(model: M, weights: ReadonlyMap<string, Float32Array>): M {
  for (const p of model.parameters()) {
    const w = weights.get(p.name);
    check(w && w.length === p.size, () => `missing or mis-sized weight "${p.name}"`, { key: p.name });
    (tfjsOps.param(p) as tf.Variable).assign(tf.tensor(w, [...p.shape], 'float32'));
  }
  return model;
}

function partialResult(
  opts: TrainPriorOptions,
  vaeLosses: LossPoint[],
  unetLosses: LossPoint[],
  vaeSeconds: number,
  unetSeconds: number,
  dataSeconds: number,
  vae: Map<string, Float32Array>,
  unet: Map<string, Float32Array>,
): TrainPriorResult {
  return { out: resolve(opts.out), scalingFactor: NaN, vaeLosses, unetLosses, vaeSeconds, unetSeconds, dataSeconds, completed: false, weights: { vae, unet } };
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
    .option('unet-steps', { type: 'number', default: d.unet.steps })
    .option('unet-batch', { type: 'number', default: d.unet.batch })
    .option('unet-lr', { type: 'number', default: d.unet.lr })
    .option('p999', { type: 'number', default: d.unet.p999, describe: 'share of UNet samples at t = 999' })
    .option('pool-weight', { type: 'number', default: d.unet.poolWeight, describe: 'weight of the 4x4-pooled latent MSE' })
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
    size: argv.size,
    naturalTextures: argv['natural-textures'],
    vae: {
      steps: argv['vae-steps'],
      batch: argv['vae-batch'],
      crop: argv['vae-crop'],
      lr: argv['vae-lr'],
      klWeight: argv['kl-weight'],
      depthWeight: argv['depth-weight'],
    },
    unet: { steps: argv['unet-steps'], batch: argv['unet-batch'], lr: argv['unet-lr'], p999: argv.p999, poolWeight: argv['pool-weight'] },
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
