import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { colourProbe, linearProbeR2 } from '../../experiments/training/eval/colour-probe.ts';
import { heldOutProcedural, type EvalScene } from '../../experiments/training/eval/eval-scenes.ts';
import { fileURLToPath } from 'node:url';
import { loadVae } from '../../diffusion/models/index.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { vaeScaleFactor } from '../../diffusion/marigold/pipeline-steps.ts';

test.before(async () => {
  await setupEngine();
});

test('linearProbeR2: 1 for an exact linear target, about 0 for an independent one, errors on ragged rows', (t) => {
  const rng = new Rng(1);
  const features = Array.from({ length: 400 }, () => [1, rng.normal(), rng.normal(), rng.normal()]);
  const targets = features.map((x) => [2 * x[1]! - x[2]! + 0.5, rng.normal()]);
  const [exact, noise] = linearProbeR2(features, targets);
  t.true(exact! > 0.99999, `${exact}`);
  // 3 free slopes on 400 independent rows: R^2 ~ 3 / 400.
  t.true(noise! >= 0 && noise! < 0.04, `${noise}`);
  t.throws(() => linearProbeR2([[1, 2], [1]], [[0], [1]]), { message: /row 1 has the wrong length/ });
  t.throws(() => linearProbeR2([[1]], [[0], [1]]), { message: /1 feature rows for 2 target rows/ });
});

/** Scenes whose 4x4 cells have independent random colours (so chroma is not predictable from luminance). */
function cellScenes(count: number, seed: number): EvalScene[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, k) => {
    const [w, h] = [26, 18]; // cropped to 24 x 16 by the probe
    const rgb = new Float32Array(w * h * 3);
    const colours = Array.from({ length: 7 * 5 }, () => [rng.uniform(), rng.uniform(), rng.uniform()]);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = colours[Math.floor(y / 4) * 7 + Math.floor(x / 4)]![c]!;
    return { name: `cells/${k}`, width: w, height: h, rgb, depthM: new Float32Array(w * h).fill(1) };
  });
}

test('colourProbe: a cell-mean encoder carries everything; a grey one luminance only', (t) => {
  const scenes = cellScenes(12, 2);
  const before = tf.memory().numTensors;
  const colour = colourProbe((image) => tf.concat([tf.avgPool(image, 4, 4, 'valid'), tf.zeros([1, image.shape[1] / 4, image.shape[2] / 4, 1])], 3), scenes, 4);
  const grey = colourProbe((image) => tf.tile(tf.mean(tf.avgPool(image, 4, 4, 'valid'), -1, true), [1, 1, 1, 4]) as tf.Tensor4D, scenes, 4);
  t.is(tf.memory().numTensors, before);
  // 12 scenes of 6 x 4 latent cells, interior 4 x 2 each.
  t.is(colour.cells, 96);
  for (const v of [colour.luminance, colour.redChroma, colour.blueChroma]) t.true(v > 0.9999, JSON.stringify(colour));
  t.true(grey.luminance > 0.9999, JSON.stringify(grey));
  // 10 free coefficients on 96 cells of independent colours: chance-level R^2 only (about 0.1).
  t.true(grey.redChroma < 0.3 && grey.blueChroma < 0.3, JSON.stringify(grey));
  t.true(colour.redChroma - grey.redChroma > 0.6, JSON.stringify(grey));
  t.throws(() => colourProbe((image) => tf.avgPool(image, 2, 2, 'valid'), scenes, 4), { message: /latent 12x8 for a 24x16 image at downsampling 4/ });
});

test('the shipped VAE: its image latent carries luminance, not colour (the figures the training README quotes)', async (t) => {
  const vae = await loadVae(fileURLToPath(new URL('../../models/aperture-depth-tiny/vae', import.meta.url)));
  try {
    const before = tf.memory().numTensors;
    const scenes = Array.from({ length: 16 }, (_, k) => heldOutProcedural(k, 96, 72));
    const probe = colourProbe((image) => vae.encode(tfjsOps, image).mean as tf.Tensor4D, scenes, vaeScaleFactor(vae.config));
    t.log(JSON.stringify(probe));
    t.is(probe.cells, 16 * 22 * 16);
    t.true(probe.luminance > 0.95);
    // 0.013 / 0.012 over eval-prior's 64 scenes; these 16 include more strongly coloured ones.
    t.true(probe.redChroma < 0.2 && probe.blueChroma < 0.2);
    t.is(tf.memory().numTensors, before);
  } finally {
    vae.dispose();
  }
});
