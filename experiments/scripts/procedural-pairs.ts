/**
 * Held-out simulated aperture pairs for choosing the defocus optimizer's settings without looking at the
 * evaluation scenes (the five Middlebury scenes of Table 3): procedural scenes from the held-out seeds of the
 * embedded prior's generator (never trained on, not the ones `eval-prior` scores, not the ones training watches),
 * each rendered at f/22 and f/8 through a 50 mm lens focused at its 5th-percentile depth (as
 * `base/optics-middlebury.yaml` does), with the pixel pitch chosen per scene so that the f/8 blur at its
 * 95th-percentile depth is `--blur-px` pixels: the blur regime of the simulated Middlebury pairs (about 7-9 px at
 * their far end), whatever the scene's own depth range (a table top at 0.5 m and a yard at 20 m alike).
 *
 *   npx tsx experiments/scripts/procedural-pairs.ts --out runs/procedural-pairs [--count 12] [--size 320x240]
 *   aperture-depth run --config experiments/configs/procedural-pairs.yaml --seeds 0-2 --out runs/pp-lr \
 *     --set data.root=runs/procedural-pairs --set optimizer.lr.latent=5e-3
 *
 * Each scene becomes an ordinary pair folder (`aif.png`, `blurred.png`, `depth_gt.npy`, `pair.json`, as
 * `simulate` writes; the pair.json's `simulation` block names the seed, kind and blur target). The layered
 * (occlusion-aware) renderer makes the data, never the optimizer's own model.
 */
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { initEngine, parseBackend } from '../../core/engine/backend.ts';
import { opticsSchema, type OpticsConfig } from '../../core/config/schema.ts';
import { quantile, writeSimulatedPair } from '../../core/pipeline/simulated-dataset.ts';
import { circleOfConfusionPxScalar } from '../../physics/circle-of-confusion.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';
import { EVAL_SEED_COUNT, TEST_SEED_START, generateScene } from '../training/procedural-scenes.ts';
import { loadTextureImages } from '../training/scene/texture-images.ts';
import type { TextureImage } from '../training/scene/textures.ts';

/** Held-out index (seed TEST_SEED_START + k) of the first pair: far past the 96 scenes `eval-prior` scores. */
export const DEFAULT_FIRST = 100_000;

export interface ProceduralPairsOptions {
  out: string;
  /** @default 12 */
  count?: number;
  /** Index into the held-out seeds of the first scene. @default {@link DEFAULT_FIRST} */
  first?: number;
  /** @default 320 */
  width?: number;
  /** @default 240 */
  height?: number;
  /** f/8 blur diameter at the 95th-percentile depth, pixels. @default 8 */
  blurPx?: number;
  /** Natural texture patches as in training (default: the shipped ones). */
  textureImages?: readonly TextureImage[];
  log?: (line: string) => void;
}

/** The optics of one pair: Middlebury's lens and apertures, the pitch that gives the blur target. */
export function opticsForBlur(
  depthM: Float32Array,
  blurPx: number,
): { optics: OpticsConfig; focusM: number; farM: number } {
  check(Number.isFinite(blurPx) && blurPx > 0, () => `must be a positive number of pixels, got ${blurPx}`, {
    key: '--blur-px',
  });
  const base = opticsSchema.parse({
    focal_length_mm: 50,
    focus: { percentile: 5 },
    f_number_aif: 22,
    f_number_blurred: 8,
  });
  const focusM = quantile(depthM, 0.05);
  const farM = quantile(depthM, 0.95);
  const f = base.focal_length_mm * 1e-3;
  check(
    focusM > f && farM > focusM,
    () => `scene depth ${focusM.toFixed(3)}-${farM.toFixed(3)} m has no depth range behind the focus`,
    {
      key: 'depth',
    },
  );
  // The blur in pixels is inversely proportional to the pitch (eq. 2): measure it at 1 um and scale.
  const atOneMicron = new ThinLensCamera({
    focalLengthMm: base.focal_length_mm,
    pixelPitchUm: 1,
    focusDistanceM: focusM,
  });
  const pitchUm = circleOfConfusionPxScalar(atOneMicron, farM, base.f_number_blurred) / blurPx;
  return { optics: { ...base, focus: focusM, pixel_pitch_um: pitchUm }, focusM, farM };
}

/** Writes `count` pair folders under `out` (`proc-<seed>-<kind>/`); returns their ids. */
export async function writeProceduralPairs(opts: ProceduralPairsOptions): Promise<string[]> {
  const count = opts.count ?? 12;
  const first = opts.first ?? DEFAULT_FIRST;
  const [width, height] = [opts.width ?? 320, opts.height ?? 240];
  check(Number.isInteger(count) && count >= 1, () => `must be a positive integer, got ${count}`, {
    key: '--count',
  });
  check(
    Number.isInteger(first) && first >= 0 && first + count <= EVAL_SEED_COUNT,
    () =>
      `must be an integer with first + count <= ${EVAL_SEED_COUNT} (the held-out evaluation seeds), got ${first}`,
    { key: '--first' },
  );
  const textures = opts.textureImages ?? loadTextureImages();
  const ids: string[] = [];
  for (let k = first; k < first + count; k++) {
    const seed = TEST_SEED_START + k;
    const s = generateScene(seed, { width, height, textureImages: textures });
    const id = `proc-${seed}-${s.kind}`;
    const { optics, focusM, farM } = opticsForBlur(s.depth, opts.blurPx ?? 8);
    await writeSimulatedPair(
      join(opts.out, id),
      {
        kind: 'rgbd',
        id,
        rgb: { width, height, channels: 3, data: s.rgb },
        depth: { width, height, data: s.depth },
        files: [
          `procedural seed ${seed} (${s.kind}), ${width}x${height}, blur ${opts.blurPx ?? 8} px at the 95th percentile`,
        ],
      },
      optics,
      seed & 0x3fffffff,
    );
    opts.log?.(
      `[pairs] ${id}: depth ${focusM.toFixed(2)}-${farM.toFixed(2)} m (5th-95th pct), pitch ${optics.pixel_pitch_um.toFixed(2)} um`,
    );
    ids.push(id);
  }
  return ids;
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('procedural-pairs')
    .option('out', { type: 'string', demandOption: true, describe: 'folder for the pair folders' })
    .option('count', { type: 'number', default: 12 })
    .option('first', {
      type: 'number',
      default: DEFAULT_FIRST,
      describe: 'held-out index of the first scene',
    })
    .option('size', { type: 'string', default: '320x240', describe: 'WxH' })
    .option('blur-px', { type: 'number', default: 8, describe: 'f/8 blur at the 95th-percentile depth' })
    .option('backend', { type: 'string', default: 'wasm' })
    .strict()
    .parseAsync();
  const m = /^(\d+)x(\d+)$/.exec(argv.size);
  check(m !== null, () => `must be WxH (e.g. 320x240), got "${argv.size}"`, { key: '--size' });
  await initEngine(parseBackend(argv.backend, '--backend'));
  const ids = await writeProceduralPairs({
    out: argv.out,
    count: argv.count,
    first: argv.first,
    width: Number(m![1]),
    height: Number(m![2]),
    blurPx: argv['blur-px'],
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(`wrote ${ids.length} pair folder(s) under ${argv.out}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main().catch((err: unknown) => {
    // A bad argument or file is a message naming it, not a stack trace.
    if (!(err instanceof ApertureDepthError)) throw err;
    process.stderr.write(`procedural-pairs: ${err.message}\n`);
    process.exitCode = 2;
  });
}
