/**
 * How far can the noise latent move a prior's depth? A config's scenes and variants, with the defocus loss
 * replaced by the ground truth itself: mean |d - g| / g over valid pixels (a dense version of Marigold-DC's
 * depth-supervised latent optimization). `scale-shift` then gives the best metric depth the prior's initial
 * prediction allows, `full` what a latent on the sphere can reach; their gap bounds what the defocus objective
 * could gain by optimizing the latent (the paper's full - scale-shift, Table 3). The search and the basin trials
 * use the same loss on their downsampled depth (the ground truth resized to it, nearest neighbour).
 *
 *   npx tsx experiments/scripts/latent-ceiling.ts --config experiments/configs/paper-table3.yaml \
 *     --out runs/latent-ceiling [--set prior.model=DIR] [--set seed=1]
 *
 * The run folder is an ordinary one (summary.md, per_scene.csv, report.html); `run.json` names the loss
 * `custom:groundTruthAbsRel`.
 */
import * as tf from '@tensorflow/tfjs';
import { dirname, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  ApertureDepthError,
  estimateScene,
  initEngine,
  loadConfig,
  loadPairSpec,
  parseBackend,
  readDepthFile,
  runExperiment,
  type LossContext,
  type SceneEstimator,
} from 'aperture-depth';

/** abs_rel against `gt` (`[H, W]`, metres; <= 0 or non-finite = no data), at whatever size the depth comes in. */
export function groundTruthAbsRel(gt: { width: number; height: number; data: Float32Array }) {
  const full = tf.tensor2d(gt.data, [gt.height, gt.width]); // [H, W]
  const bySize = new Map<string, { g: tf.Tensor2D; valid: tf.Tensor2D }>();
  const at = (h: number, w: number) => {
    const key = `${h}x${w}`;
    let v = bySize.get(key);
    if (!v) {
      v = tf.tidy(() => {
        const g =
          h === gt.height && w === gt.width
            ? full.clone()
            : (tf.squeeze(
                tf.image.resizeNearestNeighbor(tf.expandDims(full, 2) as tf.Tensor3D, [h, w]),
                [2],
              ) as tf.Tensor2D);
        const finite = tf.isFinite(g);
        const valid = tf.cast(
          tf.logicalAnd(finite, tf.greater(tf.where(finite, g, tf.zerosLike(g)), 0)),
          'float32',
        ) as tf.Tensor2D;
        // Invalid pixels get g = 1 so the division stays finite; their weight is 0.
        return {
          g: tf.keep(tf.where(tf.cast(valid, 'bool'), g, tf.onesLike(g)) as tf.Tensor2D),
          valid: tf.keep(valid),
        };
      });
      bySize.set(key, v);
    }
    return v;
  };
  const loss = function groundTruthAbsRel(ctx: LossContext): tf.Scalar {
    const [h, w] = ctx.depth.shape;
    const { g, valid } = at(h, w);
    return tf.tidy(() => {
      const weight = ctx.mask ? tf.mul(valid, ctx.mask) : valid;
      const rel = tf.div(tf.abs(tf.sub(ctx.depth, g)), g);
      return tf.div(tf.sum(tf.mul(rel, weight)), tf.maximum(tf.sum(weight), 1)) as tf.Scalar;
    });
  };
  const dispose = () => {
    full.dispose();
    for (const v of bySize.values()) tf.dispose([v.g, v.valid]);
    bySize.clear();
  };
  return { loss, dispose };
}

/** The estimate pipeline with the variant's data loss replaced by {@link groundTruthAbsRel} of the pair's ground truth. */
export const groundTruthEstimator: SceneEstimator = async (request) => {
  const spec = loadPairSpec(request.pairFile);
  if (!spec.depthGt)
    throw new ApertureDepthError('the pair names no ground truth (depth_gt); the ceiling needs one', {
      file: request.pairFile,
    });
  const gtPath = resolve(dirname(request.pairFile), spec.depthGt);
  const supervised = groundTruthAbsRel(readDepthFile(gtPath, 'depth_gt'));
  try {
    const out = await estimateScene(request, (o) => ({
      ...o,
      optimizer: { ...o.optimizer, loss: supervised.loss },
    }));
    return { ...out, note: 'data loss: ground-truth abs_rel (latent-ceiling.ts)' };
  } finally {
    supervised.dispose();
  }
};

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('latent-ceiling')
    .option('config', {
      type: 'string',
      demandOption: true,
      describe: 'experiment YAML (e.g. paper-table3.yaml)',
    })
    .option('set', { type: 'string', array: true, describe: 'override a config key (as `run --set`)' })
    .option('out', { type: 'string', demandOption: true, describe: 'run folder' })
    .option('resume', { type: 'boolean', default: false })
    .strict()
    .parseAsync();
  const loaded = loadConfig(argv.config, { set: argv.set ?? [] });
  await initEngine(parseBackend(loaded.config.backend, 'backend'));
  const r = await runExperiment({
    loaded,
    outDir: argv.out,
    resume: argv.resume,
    estimator: groundTruthEstimator,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(
    `wrote ${r.outDir}: summary.md (${r.rows.length - r.failed} scene x variant result(s))\n`,
  );
  if (r.failed > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
