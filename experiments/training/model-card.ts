/**
 * MODEL_CARD.md and loss-curve.png for a trained prior folder: architecture, data and split, training
 * settings and time, the loss curves, and the evaluation against the fitted plane.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';
import { readJsonFile } from '../../core/io/json-file.ts';
import { writePng } from '../../core/io/png.ts';
import type { EvalReport, SetSummary } from './eval-prior.ts';
import { formatMeanAndError } from '../../core/metrics/mean-and-error.ts';
import { CLUTTER_SEED_START, TEST_SEED_START, TRAIN_SEED_END, VALIDATION_SEED_START } from './procedural-scenes.ts';
import { TEXTURE_IMAGE_FILES } from './scene/texture-images.ts';
import type { SizedStageSettings } from './stages/sized-stage.ts';
import { formatDuration } from './trainer/progress.ts';
import type { LossPoint } from './trainer/stage-loop.ts';

export interface TrainingSummary {
  seed: number;
  preset: string;
  scenes: number;
  /** Clutter scenes added to `scenes` (seeds from CLUTTER_SEED_START on). */
  clutterScenes?: number;
  size: number;
  naturalTextures: boolean;
  workers: number;
  emaDecay: number;
  vae: { steps: number; batch: number; crop: number; lr: number; klWeight: number; depthWeight: number; chromaWeight?: number };
  unet: { steps: number; batch: number; lr: number; p999: number; poolWeight: number };
  /** Stage C (fine-tuning the UNet at the processing resolution), when it ran. */
  finetune?: SizedStageSettings & { real?: number };
  scalingFactor: number;
  parameters: { vae: number; unet: number; textEncoder: number };
  /** Stage E (end-to-end fine-tuning through the decoder with the affine-invariant depth loss), when it ran. */
  e2e?: E2ESummary;
  /** Stage E2 (a second stage E at its own size, from stage E's float16 export), when it ran. */
  e2e2?: E2ESummary;
  /**
   * `train-prior --e2e-from`: stage E started from this folder's exported UNet (its fingerprint), not from
   * stage B or C; that folder's own stage E (null: it had none) and E2 (when it had one), their time and losses.
   */
  e2eFrom?: { model: string; unetSha256: string; e2e: E2ESummary | null; e2e2?: E2ESummary; seconds: number; losses: LossPoint[]; e2e2Losses?: LossPoint[] };
  seconds: { data: number; vae: number; encode: number; unet: number; ftData?: number; ftEncode?: number; finetune?: number; e2eData?: number; e2e?: number; e2e2Data?: number; e2e2?: number };
  losses: { vae: LossPoint[]; unet: LossPoint[]; finetune?: LossPoint[]; e2e?: LossPoint[]; e2e2?: LossPoint[] };
}

/** Seconds of a summary's end-to-end stages, E and E2, with their data (what `e2eFrom.seconds` records of a source). */
export function endToEndSeconds(s: TrainingSummary['seconds']): number {
  return (s.e2eData ?? 0) + (s.e2e ?? 0) + (s.e2e2Data ?? 0) + (s.e2e2 ?? 0);
}

/** The settings of stage E or E2 as recorded. */
type E2ESummary = SizedStageSettings & { gradWeight?: number; clutter?: number };

/**
 * The `training.json` that `train-prior` writes beside the weights, for rewriting a folder's card after a new
 * evaluation (`eval-prior --card`). Checks what the card reads; a folder without one is an error naming it.
 */
export function readTrainingSummary(dir: string): TrainingSummary {
  const file = join(dir, 'training.json');
  check(existsSync(file), () => 'no training summary: MODEL_CARD.md is written from the training.json that train-prior leaves beside the weights', { file });
  const json = readJsonFile(file, 'training summary') as Partial<TrainingSummary> | null;
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const key of ['vae', 'unet', 'parameters', 'seconds', 'losses'] as const)
    check(isObject(json?.[key]), () => 'expected an object (is this a train-prior training.json?)', { file, key });
  for (const key of ['vae', 'unet'] as const)
    check(Array.isArray(json!.losses![key]), () => 'expected a list of loss points', { file, key: `losses.${key}` });
  check(typeof json!.scalingFactor === 'number', () => 'expected a number', { file, key: 'scalingFactor' });
  return json as TrainingSummary;
}

const COLORS: [number, number, number][] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [148, 103, 189],
];

/** Log-scale loss curves side by side, one panel each (VAE, UNet, and stages C / E when they ran), 640x240 RGB. */
export function renderLossCurves(curves: { label: string; points: LossPoint[] }[], width = 640, height = 240): Uint8Array {
  const img = new Uint8Array(width * height * 3).fill(255);
  const panelW = Math.floor(width / curves.length);
  const margin = 12;
  const set = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    img.set(c, (y * width + x) * 3);
  };
  curves.forEach((curve, k) => {
    const x0 = k * panelW + margin;
    const x1 = (k + 1) * panelW - margin;
    const y0 = margin;
    const y1 = height - margin;
    for (let x = x0; x <= x1; x++) {
      set(x, y0, [180, 180, 180]);
      set(x, y1, [180, 180, 180]);
    }
    for (let y = y0; y <= y1; y++) {
      set(x0, y, [180, 180, 180]);
      set(x1, y, [180, 180, 180]);
    }
    const pts = curve.points.filter((p) => p.loss > 0 && Number.isFinite(p.loss));
    if (pts.length < 2) return;
    const lo = Math.log(Math.min(...pts.map((p) => p.loss)));
    const hi = Math.log(Math.max(...pts.map((p) => p.loss)));
    const maxStep = pts[pts.length - 1]!.step;
    const px = (s: number) => x0 + ((x1 - x0) * s) / maxStep;
    const py = (l: number) => y1 - ((y1 - y0) * (Math.log(l) - lo)) / Math.max(1e-9, hi - lo);
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      const n = Math.ceil(Math.max(Math.abs(px(b.step) - px(a.step)), Math.abs(py(b.loss) - py(a.loss)))) + 1;
      for (let t = 0; t <= n; t++) {
        const x = Math.round(px(a.step) + ((px(b.step) - px(a.step)) * t) / n);
        const y = Math.round(py(a.loss) + ((py(b.loss) - py(a.loss)) * t) / n);
        set(x, y, COLORS[k % COLORS.length]!);
        set(x, y + 1, COLORS[k % COLORS.length]!);
      }
    }
  });
  return img;
}

/** What a clutter scene holds (the card's data line; `procedural-scenes.ts` buildClutter). */
const clutterText = '12-40 boxes, spheres, rods and boards at many depths before a wall, standing or floating';

function lossTable(points: LossPoint[], rows = 10): string {
  if (points.length === 0) return '(none)\n';
  const pick = Array.from({ length: Math.min(rows, points.length) }, (_, i) =>
    points[Math.round((i * (points.length - 1)) / Math.max(1, Math.min(rows, points.length) - 1))]!,
  );
  const partKeys = Object.keys(pick[0]!.parts ?? {});
  const head = `| step | loss |${partKeys.map((k) => ` ${k} |`).join('')}\n|---|---|${partKeys.map(() => '---|').join('')}\n`;
  return head + pick.map((p) => `| ${p.step} | ${p.loss.toFixed(4)} |${partKeys.map((k) => ` ${(p.parts?.[k] ?? NaN).toFixed(4)} |`).join('')}`).join('\n') + '\n';
}

function setTable(label: string, s: SetSummary): string {
  const rows = s.scenes
    .map((r) => `| ${r.name} | ${r.width}x${r.height} | ${r.prior.abs_rel.toFixed(4)} | ${r.prior.delta1.toFixed(4)} | ${r.plane.abs_rel.toFixed(4)} | ${r.plane.delta1.toFixed(4)} |`)
    .join('\n');
  return (
    `| ${label} | size | prior abs_rel | prior d1 | plane abs_rel | plane d1 |\n|---|---|---|---|---|---|\n${rows}\n` +
    `| **mean** | | **${s.prior.abs_rel.toFixed(4)}** | **${s.prior.delta1.toFixed(4)}** | **${s.plane.abs_rel.toFixed(4)}** | **${s.plane.delta1.toFixed(4)}** |\n\n` +
    `Beats the plane on both: **${s.beatsPlane ? 'yes' : 'no'}**. Prior - plane, paired over scenes (mean ± standard error): ` +
    `abs_rel ${formatMeanAndError(s.difference.abs_rel)}, d1 ${formatMeanAndError(s.difference.delta1)}.` +
    (s.ceiling
      ? ` The VAE's round trip of the ground truth (the ceiling of any UNet with this decoder): ${s.ceiling.abs_rel.toFixed(4)} / d1 ${s.ceiling.delta1.toFixed(4)}.`
      : '') +
    '\n'
  );
}

/** One line naming the sets and metrics where the prior does not beat the fitted plane (empty when none). */
export function planeGaps(e: EvalReport): string {
  const gaps = (['procedural', 'middlebury'] as const).flatMap((key) => {
    const s = e[key];
    if (s.scenes.length === 0) return [];
    const lost = [
      ...(s.prior.abs_rel < s.plane.abs_rel ? [] : [`abs_rel ${s.prior.abs_rel.toFixed(4)} vs ${s.plane.abs_rel.toFixed(4)}`]),
      ...(s.prior.delta1 > s.plane.delta1 ? [] : [`d1 ${s.prior.delta1.toFixed(4)} vs ${s.plane.delta1.toFixed(4)}`]),
    ];
    return lost.length ? [`${key === 'procedural' ? 'held-out procedural' : 'Middlebury'} ${lost.join(', ')}`] : [];
  });
  return gaps.length ? `As a plain monocular prior it does not beat the oracle plane fitted to the ground truth on: ${gaps.join('; ')}.\n` : '';
}

/**
 * The model's figures inside the defocus optimization (paper Table 3, strong blur), kept in
 * `DEFOCUS_RESULTS.md` beside the card: they come from `aperture-depth run` over the experiment configs,
 * not from training, so a retrained card keeps them until they are rerun.
 */
function defocusSection(dir: string): string {
  const file = join(dir, 'DEFOCUS_RESULTS.md');
  if (!existsSync(file)) return '';
  return `${readFileSync(file, 'utf8').trim()}\n\n`;
}

/** Writes `MODEL_CARD.md` and `loss-curve.png` into the model folder. */
export function writeModelCard(dir: string, t: TrainingSummary, e: EvalReport): void {
  const ft = t.finetune && t.losses.finetune ? { ...t.finetune, losses: t.losses.finetune, seconds: t.seconds.finetune ?? 0 } : undefined;
  const e2e = t.e2e && t.losses.e2e ? { ...t.e2e, losses: t.losses.e2e, seconds: t.seconds.e2e ?? 0 } : undefined;
  const e2e2 = e2e && t.e2e2 && t.losses.e2e2 ? { ...t.e2e2, losses: t.losses.e2e2, seconds: t.seconds.e2e2 ?? 0 } : undefined;
  const png = renderLossCurves([
    { label: 'vae', points: t.losses.vae },
    { label: 'unet', points: t.losses.unet },
    ...(ft ? [{ label: 'unet-ft', points: ft.losses }] : []),
    ...(e2e ? [{ label: 'unet-e2e', points: e2e.losses }] : []),
    ...(e2e2 ? [{ label: 'unet-e2e2', points: e2e2.losses }] : []),
  ]);
  writePng(join(dir, 'loss-curve.png'), { width: 640, height: 240, channels: 3, bitDepth: 8, data: png });
  const unetCfg = JSON.parse(readFileSync(join(dir, 'unet/config.json'), 'utf8')) as Record<string, unknown>;
  const vaeCfg = JSON.parse(readFileSync(join(dir, 'vae/config.json'), 'utf8')) as Record<string, unknown>;
  const ftSeconds = (t.seconds.ftData ?? 0) + (t.seconds.ftEncode ?? 0) + (t.seconds.finetune ?? 0);
  const total = t.seconds.data + t.seconds.vae + t.seconds.encode + t.seconds.unet + ftSeconds + (t.e2eFrom?.seconds ?? 0) + endToEndSeconds(t.seconds);
  // A resumed run finds its scenes and latents cached and records about 0 s for them.
  const cachedData = t.seconds.data < 1 && t.seconds.encode < 1;
  const down = 2 ** ((vaeCfg.block_out_channels as number[]).length - 1);
  const panels = ['VAE', 'UNet stage B', ...(ft ? ['UNet stage C'] : []), ...(e2e ? ['UNet stage E'] : []), ...(e2e2 ? ['UNet stage E2'] : [])];
  const from = t.e2eFrom;
  const command = from
    ? `two runs: \`npm run train-prior -- --seed ${t.seed} --out <src>\`${from.e2e2 ? '' : ' (with `--e2e2-steps 0`)'}, then \`npm run train-prior -- --e2e-from <src>${e2e ? ` --e2e-steps ${e2e.steps} --e2e-width ${e2e.width} --e2e-height ${e2e.height}` : ''} --out <dir>\``
    : `\`npm run train-prior -- --seed ${t.seed} --out <dir>\``;
  // A source without stage E2 + one stage E from its folder = one run whose stage E2 has that stage's settings.
  const oneRun =
    from && !from.e2e2 && e2e
      ? `One run gives the same UNet bit for bit: \`npm run train-prior -- --seed ${t.seed} --e2e2-steps ${e2e.steps} --e2e2-width ${e2e.width} --e2e2-height ${e2e.height} --e2e2-lr ${e2e.lr} --e2e2-batch ${e2e.batch} --e2e2-scenes ${e2e.scenes} --e2e2-grad-weight ${e2e.gradWeight ?? 0} --out <dir>\`
  (its stage E2 starts from stage E's float16 export on the same random stream, as \`--e2e-from\` does).
`
      : '';
  const fromStages = from ? [from.e2e ? `E: ${from.e2e.steps} steps at ${from.e2e.width}x${from.e2e.height}, lr ${from.e2e.lr}` : '', from.e2e2 ? `E2: ${from.e2e2.steps} steps at ${from.e2e2.width}x${from.e2e2.height}` : ''].filter(Boolean) : [];
  const md = `# aperture-depth-tiny

A small Marigold-style latent-diffusion depth prior, trained from scratch by this project (no external weights)
so that the tool works out of the box. Same classes and layout as Marigold (\`UNet2DConditionModel\`,
\`AutoencoderKL\`, CLIP text encoder for the empty prompt, DDIM scheduler), so a real Marigold folder replaces it
with one flag. Relative depth (affine-invariant), far = 1.

## Architecture
- VAE: AutoencoderKL, block_out_channels ${JSON.stringify(vaeCfg.block_out_channels)} (${2 ** ((vaeCfg.block_out_channels as number[]).length - 1)}x downsampling), 4 latent channels,
  norm groups ${vaeCfg.norm_num_groups}, mid-block attention ${vaeCfg.mid_block_add_attention}, scaling_factor ${t.scalingFactor.toFixed(5)} (1 / std of the encoder means). ${t.parameters.vae} parameters.
- UNet: UNet2DConditionModel, in_channels 8 ([rgb latent | depth latent]), out 4, block_out_channels ${JSON.stringify(unetCfg.block_out_channels)},
  ${JSON.stringify(unetCfg.down_block_types)}, layers_per_block ${unetCfg.layers_per_block}, heads ${JSON.stringify(unetCfg.attention_head_dim)},
  cross_attention_dim ${unetCfg.cross_attention_dim}, linear projections. ${t.parameters.unet} parameters.
- Text encoder: a ${t.parameters.textEncoder}-parameter CLIP text model with seeded random weights (frozen), used only for the
  empty prompt [BOS, EOS]; the tokenizer folder holds just those two tokens.
- Scheduler: DDIM, v-prediction, trailing spacing, zero terminal SNR (scaled_linear 0.00085-0.012). One step at t = 999
  reads x0 = -v; 1-4 steps are supported. Weights stored as float16 (UNet, VAE) and float32 (text encoder).

## Data
- Procedural scenes rendered by \`experiments/training/procedural-scenes.ts\`: rooms, yards (ground + backdrop),
  slanted textured planes and table-top close-ups of boxes, spheres and cylinders; checker, stripes, fbm noise,
  Voronoi patches, bricks, wood rings, dots${t.naturalTextures ? `, and texture patches cut from the colour images ${TEXTURE_IMAGE_FILES.join(', ')} of \`test/data/open3d-rgbd\` (their depth is never used)` : ''};
  Lambertian shading with directional and point lights and hard shadows, random exposure, gamma and noise. Exact
  z-depth by analytic ray casting, 0.3-15 m.
- Training: ${t.scenes} scenes (seeds 0..${t.scenes - 1})${t.clutterScenes ? ` and ${t.clutterScenes} clutter scenes (${clutterText}; seeds ${CLUTTER_SEED_START}..${CLUTTER_SEED_START + t.clutterScenes - 1})` : ''} at ${t.size}x${t.size}, plus mirror images${ft ? `; stage C: training seeds 0..${ft.scenes - 1} rendered at ${ft.width}x${ft.height}${ft.real ? ` and ${ft.real} crops of the real RGB-D frames TUM and SUN of \`test/data/open3d-rgbd\` (depth holes filled; \`data/real-crops.ts\`)` : ''}, plus mirrors` : ''}${e2e ? `; stage E: training seeds 0..${e2e.scenes - 1}${e2e.clutter ? ` and clutter seeds ${CLUTTER_SEED_START}..${CLUTTER_SEED_START + e2e.clutter - 1}` : ''} rendered at ${e2e.width}x${e2e.height}, randomly mirrored` : ''}${e2e2 ? `; stage E2: seeds 0..${e2e2.scenes - 1} rendered at ${e2e2.width}x${e2e2.height}, randomly mirrored` : ''}. Split: training seeds are < ${TRAIN_SEED_END};
  held-out test seeds start at ${TEST_SEED_START} (the validation lines of the training log use ${VALIDATION_SEED_START} on, never the test scenes). Middlebury 2014 (\`test/data/middlebury2014-q\`) is evaluation only.
- Depth normalized per image by its 2 % / 98 % quantiles to [-1, 1] (Marigold), replicated to 3 channels.

## Training (seed ${t.seed}; ${command})
${oneRun}- Stage A, VAE: ${t.vae.steps} steps, batch ${t.vae.batch} scenes (one RGB + one depth ${t.vae.crop}x${t.vae.crop} crop each), Adam lr ${t.vae.lr}
  (cosine), loss L1(rgb) + ${t.vae.depthWeight} L1(depth) + ${t.vae.klWeight} KL${t.vae.chromaWeight ? ` + ${t.vae.chromaWeight} L1(chroma of the RGB error pooled to the latent cells)` : ''}, on a posterior sample. ${formatDuration(t.seconds.vae)}.
- Stage B, UNet: frozen VAE; latents of every scene and its mirror encoded once. ${t.unet.steps} steps, batch ${t.unet.batch}, Adam lr ${t.unet.lr}
  (cosine), v-prediction MSE (+ ${t.unet.poolWeight} x MSE of the 4x4-pooled error), timesteps uniform in [0, 999] with ${Math.round(t.unet.p999 * 100)} % of samples at t = 999. ${formatDuration(t.seconds.unet)}.
${
  ft
    ? `- Stage C, UNet at the processing resolution: stage B's exported weights fine-tuned on ${ft.width}x${ft.height} scenes (latent
  ${ft.width / 2 ** ((vaeCfg.block_out_channels as number[]).length - 1)}x${ft.height / 2 ** ((vaeCfg.block_out_channels as number[]).length - 1)}), the size inference runs at for the processing resolution (long side) and aspect ratio. ${ft.steps} steps, batch ${ft.batch}, fresh Adam lr ${ft.lr} (cosine, short warm-up),
  same loss and timesteps as stage B. ${formatDuration(ft.seconds)}; its data ${formatDuration(t.seconds.ftData ?? 0)} + ${formatDuration(t.seconds.ftEncode ?? 0)}.
`
    : ''
}${
  e2e
    ? `- Stage E, end to end (Garcia Martin et al. 2024): the UNet from ${from ? `the exported weights of \`${basename(from.model)}\` (\`train-prior --e2e-from\`, UNet sha256 ${from.unetSha256.slice(0, 12)}; that folder's own end-to-end stages: ${fromStages.length ? `${fromStages.join('; ')}; ${formatDuration(from.seconds)}` : 'none'})` : `stage ${ft ? 'C' : 'B'}'s exported weights`}, trained through the frozen
  decoder on the one-step inference path (standard-normal noise latent at t = 999, x0 = -v, decode, channel mean) with the
  affine-invariant L1 to the normalized depth (least-squares scale and shift per image, as the prior is scored and used)${e2e.gradWeight ? ` + ${e2e.gradWeight} x the mean absolute x / y differences of the aligned error (gradient matching)` : ''}, on
  ${e2e.width}x${e2e.height} scenes (latent ${e2e.width / down}x${e2e.height / down}). ${e2e.steps} steps, batch ${e2e.batch}, fresh Adam lr ${e2e.lr} (cosine, short warm-up). ${formatDuration(e2e.seconds)}; its data ${formatDuration(t.seconds.e2eData ?? 0)}.
`
    : ''
}${
  e2e2
    ? `- Stage E2, a second stage E at ${e2e2.width}x${e2e2.height} (latent ${e2e2.width / down}x${e2e2.height / down}): from stage E's weights as exported (float16, the VAE too), the same loss${e2e2.gradWeight !== e2e?.gradWeight ? ` with gradient weight ${e2e2.gradWeight}` : ''}.
  ${e2e2.steps} steps, batch ${e2e2.batch}, fresh Adam lr ${e2e2.lr} (cosine, short warm-up) and EMA. ${formatDuration(e2e2.seconds)}; its data ${formatDuration(t.seconds.e2e2Data ?? 0)}.
`
    : ''
}- Exported weights: ${t.emaDecay > 0 ? `exponential moving average (decay ${t.emaDecay}, warm-up min(decay, (1 + t) / (10 + t)))` : 'the last step'} of each stage${e2e2 ? ' (the UNet: stage E2\'s)' : e2e ? ' (the UNet: stage E\'s)' : ft ? ' (the UNet: stage C\'s)' : ''}.
- ${cachedData ? 'Data rendering and latent encoding reused from the work folder\'s cache (not timed in this run)' : `Data rendering ${formatDuration(t.seconds.data)}, latent encoding ${formatDuration(t.seconds.encode)}`}; total ${formatDuration(total)}${cachedData ? ' of timed stages' : ''} on the machine that
  trained it (tfjs wasm, ${t.workers} data-parallel worker thread(s), one core each).

### Loss curves (log scale; left to right ${panels.join(', ')}): \`loss-curve.png\`
![loss curves](loss-curve.png)

VAE:
${lossTable(t.losses.vae)}
UNet:
${lossTable(t.losses.unet)}
${ft ? `UNet, stage C (${ft.width}x${ft.height}):\n${lossTable(ft.losses)}\n` : ''}${e2e ? `UNet, stage E (${e2e.width}x${e2e.height}, affine-invariant L1 of normalized depth):\n${lossTable(e2e.losses)}\n` : ''}${e2e2 ? `UNet, stage E2 (${e2e2.width}x${e2e2.height}):\n${lossTable(e2e2.losses)}\n` : ''}## Evaluation (\`npx tsx experiments/training/eval-prior.ts --model <dir>\`)
Plain monocular prior, ${e.steps} step(s), noise seed ${e.noiseSeed}${e.ensemble > 1 ? ` (median ensemble of ${e.ensemble} seeds from it)` : ''}, processing resolution ${e.resolution}: least-squares scale and
shift of the prediction to the ground truth (Marigold's protocol) against the oracle plane a x + b y + c fitted
to the same ground truth; both clipped to the image's ground-truth range; abs_rel and d1 over valid pixels.

${setTable('procedural (held out)', e.procedural)}
${setTable('Middlebury 2014', e.middlebury)}
${defocusSection(dir)}## Limits
${planeGaps(e)}Trained for ${formatDuration(total)} on two CPU cores on synthetic scenes: coarse, low-resolution relative depth. Use a real
Marigold checkpoint (\`--model <folder>\`) for quality.
`;
  writeFileAtomic(join(dir, 'MODEL_CARD.md'), md);
}
