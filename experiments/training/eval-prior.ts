/**
 * Evaluates a Marigold-style prior folder as a plain monocular prior: least-squares scale and shift against
 * the ground truth, abs_rel and d1, beside the oracle plane `a x + b y + c` fitted to the same ground truth,
 * on held-out procedural scenes (seeds from TEST_SEED_START) and the five Middlebury 2014 scenes.
 *
 *   npx tsx experiments/training/eval-prior.ts --model models/aperture-depth-tiny [--json eval.json]
 */
import * as tf from '@tensorflow/tfjs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initEngine, parseBackend } from '../../core/engine/backend.ts';
import { renamingKey } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';
import { checkEnsembleSize, ensembleDepth } from '../../diffusion/marigold/ensemble-depth.ts';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { loadVae, type AutoencoderKL } from '../../diffusion/models/index.ts';
import { scoreAligned, scorePriorAndPlane, type ScoredMap } from './eval/aligned-metrics.ts';
import { formatMeanAndError, meanAndError, type MeanAndError } from '../../core/metrics/mean-and-error.ts';
import { cropToMultiple, vaeRoundTrip } from './eval/vae-ceiling.ts';
import { colourProbe, type ColourProbe } from './eval/colour-probe.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { PROCEDURAL_SPLITS, heldOutProcedural, loadMiddlebury, middleburyScenes, type EvalScene, type ProceduralSplit } from './eval/eval-scenes.ts';
import { vaeScaleFactor } from '../../diffusion/marigold/pipeline-steps.ts';
import { readTrainingSummary, writeModelCard } from './model-card.ts';

export interface EvalOptions {
  /** Held-out procedural scenes. @default 64 */
  procedural?: number;
  /** Which held-out procedural seeds (`eval-scenes.ts`). @default 'test' */
  split?: ProceduralSplit;
  /** Reflected margin of the prior in processing pixels (`marigoldGeometry`). @default the prior's */
  margin?: number;
  /** Procedural scene size [width, height]. @default 4:3 at the processing resolution */
  proceduralSize?: [number, number];
  /** Middlebury scene names. @default all five */
  middlebury?: string[];
  /** Long side of the evaluation images (and the processing resolution). @default the model's */
  resolution?: number;
  /** Denoising steps. @default the model's */
  steps?: number;
  /** Seed of the noise latent. @default 0 */
  noiseSeed?: number;
  /**
   * Test-time ensemble (Marigold's `ensemble_size`): predictions from seeds `noiseSeed .. noiseSeed + N - 1`,
   * aligned and reduced by their median (`diffusion/marigold/ensemble-depth.ts`). @default 1 (none)
   */
  ensemble?: number;
  /** Also score the depth VAE's round trip of the ground truth (the ceiling of any UNet; see vae-ceiling.ts). */
  vaeCeiling?: boolean;
  /** Also probe how much luminance and colour the image latent carries (see eval/colour-probe.ts). */
  colourProbe?: boolean;
  write?: (line: string) => void;
}

export interface SceneResult {
  name: string;
  width: number;
  height: number;
  prior: ScoredMap;
  plane: ScoredMap;
  /** The VAE round trip of the ground truth (on the largest crop the VAE takes), when asked for. */
  ceiling?: ScoredMap;
}

export interface SetSummary {
  scenes: SceneResult[];
  /** Means over scenes. */
  prior: { abs_rel: number; delta1: number };
  plane: { abs_rel: number; delta1: number };
  ceiling?: { abs_rel: number; delta1: number };
  /**
   * Paired per-scene differences prior - plane: mean and standard error of the mean (0 with fewer than two
   * scenes). A negative abs_rel and a positive d1 difference favour the prior; one within about two standard
   * errors of 0 is not resolved by this many scenes.
   */
  difference: { abs_rel: MeanAndError; delta1: MeanAndError };
  /** Prior better than the plane on both mean abs_rel and mean d1. */
  beatsPlane: boolean;
  /** The image latent's linear colour probe on this set's images, when asked for. */
  colour?: ColourProbe;
}

export interface EvalReport {
  model: string;
  resolution: number;
  margin: number;
  split: ProceduralSplit;
  steps: number;
  noiseSeed: number;
  ensemble: number;
  procedural: SetSummary;
  middlebury: SetSummary;
  seconds: number;
}

export function summarize(scenes: SceneResult[]): SetSummary {
  const mean = (f: (s: SceneResult) => number) => scenes.reduce((a, s) => a + f(s), 0) / Math.max(1, scenes.length);
  const prior = { abs_rel: mean((s) => s.prior.abs_rel), delta1: mean((s) => s.prior.delta1) };
  const plane = { abs_rel: mean((s) => s.plane.abs_rel), delta1: mean((s) => s.plane.delta1) };
  const ceiling = scenes.length > 0 && scenes.every((s) => s.ceiling)
    ? { ceiling: { abs_rel: mean((s) => s.ceiling!.abs_rel), delta1: mean((s) => s.ceiling!.delta1) } }
    : {};
  const difference = {
    abs_rel: meanAndError(scenes.map((s) => s.prior.abs_rel - s.plane.abs_rel)),
    delta1: meanAndError(scenes.map((s) => s.prior.delta1 - s.plane.delta1)),
  };
  return { scenes, prior, plane, ...ceiling, difference, beatsPlane: scenes.length > 0 && prior.abs_rel < plane.abs_rel && prior.delta1 > plane.delta1 };
}

/**
 * Relative depth of one scene from the prior ([H, W] in [0, 1]); with `ensemble` > 1 the median ensemble of
 * the predictions from seeds `noiseSeed ..` (then normalized to [0, 1]).
 */
export function predictScene(prior: MarigoldPrior, scene: EvalScene, steps: number, noiseSeed: number, ensemble = 1): Float32Array {
  checkEnsembleSize(ensemble, '--ensemble');
  const image = tf.tensor3d(scene.rgb, [scene.height, scene.width, 3]);
  try {
    renamingKey('margin', '--margin', () => prior.encodeImage(image));
    const members = Array.from({ length: ensemble }, (_, i) =>
      tf.tidy(() => prior.predictDepth(prior.sampleLatent(noiseSeed + i), steps).dataSync() as Float32Array),
    );
    return ensemble > 1 ? ensembleDepth(members).depth : members[0]!;
  } finally {
    image.dispose();
  }
}

export function scoreScene(prior: MarigoldPrior, scene: EvalScene, steps: number, noiseSeed: number, ensemble = 1): SceneResult {
  const rel = predictScene(prior, scene, steps, noiseSeed, ensemble);
  const r = scorePriorAndPlane(rel, scene.depthM, scene.width, scene.height);
  return { name: scene.name, width: scene.width, height: scene.height, ...r };
}

/** The VAE round trip of `scene`'s ground truth, scored like the prior (largest crop the VAE takes). */
export function scoreCeiling(vae: AutoencoderKL, scene: EvalScene): ScoredMap {
  const down = vaeScaleFactor(vae.config);
  const gt = cropToMultiple(scene.depthM, scene.width, scene.height, down);
  return scoreAligned(vaeRoundTrip(vae, gt.values, gt.width, gt.height), gt.values);
}

export async function evaluatePrior(model: string, options: EvalOptions = {}): Promise<EvalReport> {
  const write = options.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const t0 = performance.now();
  const prior = await MarigoldPrior.load(model, {
    ...(options.resolution ? { processingResolution: options.resolution } : {}),
    ...(options.steps ? { steps: options.steps } : {}),
    ...(options.margin !== undefined ? { margin: options.margin } : {}),
  });
  let vae: AutoencoderKL | undefined;
  try {
    if (options.vaeCeiling || options.colourProbe) vae = await loadVae(join(model, 'vae'));
    const ceilingVae = options.vaeCeiling ? vae : undefined;
    const ensemble = options.ensemble ?? 1;
    const score = (scene: EvalScene, steps: number, noiseSeed: number): SceneResult => ({
      ...scoreScene(prior, scene, steps, noiseSeed, ensemble),
      ...(ceilingVae ? { ceiling: scoreCeiling(ceilingVae, scene) } : {}),
    });
    const resolution = prior.processingResolution;
    const steps = options.steps ?? prior.steps;
    const noiseSeed = options.noiseSeed ?? 0;
    const split = options.split ?? 'test';
    const [pw, ph] = options.proceduralSize ?? [resolution, Math.round((resolution * 3) / 4)];
    const procedural: SceneResult[] = [];
    const images: Record<'procedural' | 'middlebury', EvalScene[]> = { procedural: [], middlebury: [] };
    for (let k = 0; k < (options.procedural ?? 64); k++) {
      const scene = heldOutProcedural(k, pw, ph, undefined, split);
      if (options.colourProbe) images.procedural.push(scene);
      procedural.push(score(scene, steps, noiseSeed));
    }
    const middlebury: SceneResult[] = [];
    for (const name of options.middlebury ?? middleburyScenes()) {
      const scene = loadMiddlebury(name, resolution);
      if (options.colourProbe) images.middlebury.push(scene);
      const r = score(scene, steps, noiseSeed);
      middlebury.push(r);
      write(`[eval] ${r.name} ${r.width}x${r.height}: prior abs_rel ${r.prior.abs_rel.toFixed(4)} d1 ${r.prior.delta1.toFixed(4)} | plane ${r.plane.abs_rel.toFixed(4)} / ${r.plane.delta1.toFixed(4)}${ceilingText(r.ceiling)}`);
    }
    const report: EvalReport = {
      model: resolve(model),
      resolution,
      margin: prior.margin,
      split,
      steps,
      noiseSeed,
      ensemble,
      procedural: summarize(procedural),
      middlebury: summarize(middlebury),
      seconds: (performance.now() - t0) / 1000,
    };
    const probeVae = options.colourProbe ? vae : undefined;
    if (probeVae) {
      const encode = (image: tf.Tensor4D) => probeVae.encode(tfjsOps, image).mean as tf.Tensor4D;
      for (const key of ['procedural', 'middlebury'] as const) {
        if (images[key].length === 0) continue;
        const c = colourProbe(encode, images[key], vaeScaleFactor(probeVae.config));
        report[key].colour = c;
        write(`[eval] ${key} image latent, linear probe R^2 over ${c.cells} cells: luminance ${c.luminance.toFixed(3)}, R - lum ${c.redChroma.toFixed(3)}, B - lum ${c.blueChroma.toFixed(3)}`);
      }
    }
    for (const [label, set] of [['procedural', report.procedural], ['middlebury', report.middlebury]] as const) {
      if (set.scenes.length === 0) {
        write(`[eval] ${label}: no scenes, skipped`);
        continue;
      }
      write(
        `[eval] ${label} (${set.scenes.length}): prior abs_rel ${set.prior.abs_rel.toFixed(4)} d1 ${set.prior.delta1.toFixed(4)} | ` +
          `plane ${set.plane.abs_rel.toFixed(4)} / ${set.plane.delta1.toFixed(4)}${ceilingText(set.ceiling)} -> ${set.beatsPlane ? 'beats the plane' : 'does NOT beat the plane'}; ` +
          `prior - plane: abs_rel ${formatMeanAndError(set.difference.abs_rel)}, d1 ${formatMeanAndError(set.difference.delta1)}`,
      );
    }
    return report;
  } finally {
    prior.dispose();
    vae?.dispose();
  }
}

const ceilingText = (c: { abs_rel: number; delta1: number } | undefined): string =>
  c ? ` | VAE ceiling ${c.abs_rel.toFixed(4)} / ${c.delta1.toFixed(4)}` : '';

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('eval-prior')
    .option('model', { type: 'string', default: 'models/aperture-depth-tiny' })
    .option('procedural', { type: 'number', default: 64, describe: 'held-out procedural scenes' })
    .option('split', { choices: PROCEDURAL_SPLITS, default: 'test' as ProceduralSplit, describe: "which held-out procedural seeds: 'test' (the tables) or 'validation' (for choosing settings)" })
    .option('margin', { type: 'number', describe: "reflected margin in processing pixels [default: the model's]" })
    .option('resolution', { type: 'number', describe: 'processing resolution (long side) [default: the model]' })
    .option('steps', { type: 'number', describe: 'denoising steps [default: the model]' })
    .option('noise-seed', { type: 'number', default: 0 })
    .option('ensemble', { type: 'number', default: 1, describe: 'test-time ensemble: the median of N aligned predictions (seeds noise-seed ..)' })
    .option('vae-ceiling', { type: 'boolean', default: false, describe: 'also score the VAE round trip of the ground truth' })
    .option('colour-probe', { type: 'boolean', default: false, describe: 'also probe how much luminance and colour the image latent carries' })
    .option('json', { type: 'string', describe: 'write the full report here' })
    .option('card', { type: 'boolean', default: false, describe: "rewrite the model folder's MODEL_CARD.md and loss-curve.png from its training.json and this evaluation" })
    .option('backend', { type: 'string', default: 'wasm' })
    .strict()
    .parse();
  // Read before the (minutes-long) evaluation, so a folder without its training summary fails at once.
  const training = argv.card ? readTrainingSummary(argv.model) : undefined;
  await initEngine(parseBackend(argv.backend));
  const report = await evaluatePrior(argv.model, {
    procedural: argv.procedural,
    split: argv.split,
    ...(argv.margin !== undefined ? { margin: argv.margin } : {}),
    resolution: argv.resolution,
    steps: argv.steps,
    noiseSeed: argv['noise-seed'],
    ensemble: argv.ensemble,
    vaeCeiling: argv['vae-ceiling'],
    colourProbe: argv['colour-probe'],
  });
  if (argv.json) writeFileAtomic(argv.json, `${JSON.stringify(report, null, 2)}\n`);
  if (training) writeModelCard(argv.model, training, report);
  process.stdout.write(
    `${['set', 'n', 'prior abs_rel', 'prior d1', 'plane abs_rel', 'plane d1', 'beats plane'].join('\t')}\n` +
      (['procedural', 'middlebury'] as const)
        .map((k) => {
          const s = report[k];
          return [k, s.scenes.length, s.prior.abs_rel.toFixed(4), s.prior.delta1.toFixed(4), s.plane.abs_rel.toFixed(4), s.plane.delta1.toFixed(4), s.beatsPlane].join('\t');
        })
        .join('\n') +
      '\n',
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
