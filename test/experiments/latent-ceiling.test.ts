import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { loadConfig } from '../../core/config/load.ts';
import { runExperiment } from '../../core/pipeline/run-experiment.ts';
import type { LossContext } from '../../optimizers/losses/loss.ts';
import { groundTruthAbsRel, groundTruthEstimator } from '../../experiments/scripts/latent-ceiling.ts';
import { setupEngine } from '../helpers/engine.ts';
import { tempDir } from '../core/pipeline/run-helpers.ts';

test.before(async () => {
  await setupEngine();
});

const ctx = (depth: tf.Tensor2D, mask?: tf.Tensor2D): LossContext =>
  ({
    depth,
    mask,
    rendered: depth,
    observed: depth,
    relativeDepth: depth,
    latent: depth,
    iteration: 0,
  }) as unknown as LossContext;

test('groundTruthAbsRel: mean |d - g| / g over valid, masked-in pixels, its gradient, any depth size, no leaks', (t) => {
  const before = tf.memory().numTensors;
  // gt [2, 3] with a hole (0) and a NaN: four valid pixels.
  const gt = { width: 3, height: 2, data: Float32Array.from([1, 2, 0, 4, Number.NaN, 5]) };
  const { loss, dispose } = groundTruthAbsRel(gt);
  const d = tf.tensor2d([1.5, 2, 9, 2, 9, 6], [2, 3]);
  // |1.5-1|/1 = 0.5, 0, (hole), |2-4|/4 = 0.5, (NaN), |6-5|/5 = 0.2 -> 1.2 / 4
  t.true(Math.abs(tf.tidy(() => loss(ctx(d)).dataSync()[0]!) - 1.2 / 4) < 1e-6);
  // A mask weight of 0 on the first pixel: 0.7 / 3.
  const m = tf.tensor2d([0, 1, 1, 1, 1, 1], [2, 3]);
  t.true(Math.abs(tf.tidy(() => loss(ctx(d, m)).dataSync()[0]!) - 0.7 / 3) < 1e-6);
  // d/dd: sign(d - g) / g / 4 on valid pixels, 0 elsewhere.
  const g = tf.tidy(() =>
    tf
      .grad((x: tf.Tensor) => loss(ctx(x as tf.Tensor2D)))(d)
      .dataSync(),
  );
  const want = [1 / 4, 0, 0, -1 / 16, 0, 1 / 20];
  t.true(
    want.every((w, i) => (i === 1 ? Math.abs(g[i]!) <= 0.25 : Math.abs(g[i]! - w) < 1e-6)),
    Array.from(g).join(', '),
  );
  // A [1, 2] depth (the search's downsampled map) is scored against the ground truth resized to it.
  const gt4 = { width: 4, height: 2, data: Float32Array.from([2, 2, 8, 8, 2, 2, 8, 8]) };
  const small = groundTruthAbsRel(gt4);
  const d2 = tf.tensor2d([3, 8], [1, 2]);
  t.true(Math.abs(tf.tidy(() => small.loss(ctx(d2)).dataSync()[0]!) - 0.25) < 1e-6); // (0.5 + 0) / 2
  small.dispose();
  dispose();
  tf.dispose([d, m, d2]);
  t.is(tf.memory().numTensors, before);
});

test('groundTruthEstimator in a run: supervised by ground truth, scale-shift beats the defocus-fitted one', async (t) => {
  const set = ['data.scenes=[Teddy]', 'optimizer.iterations=3', 'variants=[scale-shift]'];
  const loaded = loadConfig(join(import.meta.dirname, '../../experiments/configs/smoke.yaml'), { set });
  const defocus = await runExperiment({ loaded, outDir: tempDir(), progress: false });
  const before = tf.memory().numTensors;
  const supervised = await runExperiment({
    loaded,
    outDir: tempDir(),
    progress: false,
    estimator: groundTruthEstimator,
  });
  t.is(tf.memory().numTensors, before);
  const [a, b] = [defocus.rows[0]!, supervised.rows[0]!];
  t.is(b.status, 'ok');
  t.regex(b.note ?? '', /ground-truth abs_rel/);
  t.log(
    `Teddy scale-shift abs_rel: defocus ${a.metrics!.abs_rel.toFixed(4)}, ground truth ${b.metrics!.abs_rel.toFixed(4)}`,
  );
  t.true(b.metrics!.abs_rel < a.metrics!.abs_rel);
  // Its final loss is the abs_rel it minimized (working pixels, the loss's masks): close to the metric's.
  t.true(
    Math.abs(b.final_loss! - b.metrics!.abs_rel) < 0.25 * b.metrics!.abs_rel,
    `${b.final_loss} vs ${b.metrics!.abs_rel}`,
  );
});
