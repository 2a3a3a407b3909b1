import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { loadArtlScene, type ArtlScene } from './helpers/artl-scene.ts';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { MarigoldDepthPrior } from '../../optimizers/priors/marigold-depth-prior.ts';
import {
  createDefocusObjective,
  LATENT_GROUP,
  modelFNumber,
  optimizeDepth,
  SCALE_SHIFT_GROUP,
  type DepthProblem,
} from '../../optimizers/optimize-depth.ts';
import { FreeMapping } from '../../optimizers/mappings/index.ts';
import { l2Loss } from '../../optimizers/losses/index.ts';
import { getRenderer } from '../../physics/renderers/index.ts';
import { Rng } from '../../core/tensor/rng.ts';

const SD2_TINY = fileURLToPath(new URL('../data/diffusers-tiny/sd2-tiny/checkpoint', import.meta.url));

let scene: ArtlScene;
let model: MarigoldPrior;
let prior: MarigoldDepthPrior;
let problem: DepthProblem;

test.before(async () => {
  await setupEngine();
  // 32 x 24 (the 320 x 240 crop box-averaged by 10), 50 um pixels: the same blur in pixels as the 64 x 48 scene
  scene = loadArtlScene({ width: 32, height: 24, factor: 10, camera: { pixelPitchUm: 50 } });
  model = await MarigoldPrior.load(SD2_TINY, { steps: 1 });
  prior = MarigoldDepthPrior.create(model, scene.rgbSrgb, { processingResolution: 0 });
  problem = {
    aif: scene.aif,
    observed: scene.blurred,
    camera: scene.camera,
    fNumberAif: 22,
    fNumberBlurred: 8,
    prior,
  };
});
test.after.always(() => model?.dispose());

test.serial('adapter: latent shape, seeded latent, relative depth in [0, 1] at the input size', (t) => {
  t.deepEqual(prior.latentShape, [1, 4, 3, 4]);
  t.deepEqual(prior.outputShape, [24, 32]);
  t.true(prior.sphericalLatent);
  const a = prior.initialLatent(7);
  t.deepEqual(Array.from(a.dataSync()), Array.from(prior.initialLatent(7).dataSync()));
  const d = prior.predict(a);
  t.deepEqual(d.shape, [24, 32]);
  t.true(d.dataSync().every((v) => v >= 0 && v <= 1));
  tf.dispose([a, d]);
});

test.serial('gradient of the full objective with respect to the latent matches finite differences', (t) => {
  const mapping = new FreeMapping();
  const { loss } = createDefocusObjective(problem, {
    mapping,
    renderer: getRenderer('scatter'),
    fNumber: modelFNumber(22, 8, true),
    lossFn: l2Loss(),
  });
  const z = prior.initialLatent(0);
  const ss = tf.tensor1d(mapping.paramsFor({ scale: 0.7, shift: 1.4 }));
  const g = tf.grad((x: tf.Tensor) => loss({ [LATENT_GROUP]: x, [SCALE_SHIFT_GROUP]: ss }, 0))(z);
  // directional derivative along a seeded unit direction
  const v = tf.tidy(() => {
    const r = tf.tensor(new Rng(5).normalArray(z.size), z.shape);
    return tf.div(r, tf.norm(r));
  });
  const autodiff = tf.tidy(() => tf.sum(tf.mul(g, v)).dataSync()[0]);
  const h = 1e-2;
  const at = (e: number): number =>
    tf.tidy(
      () => loss({ [LATENT_GROUP]: tf.add(z, tf.mul(v, e)), [SCALE_SHIFT_GROUP]: ss }, 0).dataSync()[0],
    );
  const fd = (at(h) - at(-h)) / (2 * h);
  t.log(`directional derivative: autodiff ${autodiff.toExponential(4)}, central FD ${fd.toExponential(4)}`);
  t.true(Math.abs(autodiff - fd) <= 0.05 * Math.abs(fd), `${autodiff} vs ${fd}`);
  tf.dispose([z, ss, g, v]);
});

test.serial('full variant with sd2-tiny runs end to end and the loss decreases', async (t) => {
  let losses: number[] = [];
  let finalLoss = Number.NaN;
  const leaked = await leakedTensors(async () => {
    const r = await optimizeDepth(problem, { variant: 'full', iterations: 6, seed: 0 });
    losses = r.lossHistory;
    finalLoss = r.finalLoss;
    t.deepEqual(r.depth.shape, [24, 32]);
    t.deepEqual(r.finalLatent.shape, [1, 4, 3, 4]);
    // the latent stays on its sphere
    t.true(Math.abs(tf.tidy(() => tf.norm(r.finalLatent).dataSync()[0]) - Math.sqrt(48)) < 1e-3);
    t.notDeepEqual(Array.from(r.finalLatent.dataSync()), Array.from(r.initialLatent.dataSync()));
    t.true(r.depth.dataSync().every((x) => Number.isFinite(x) && x > 0));
    t.log(
      `loss ${losses.map((x) => x.toExponential(3)).join(' ')} -> ${finalLoss.toExponential(3)}; ${r.timings.msPerIteration.toFixed(0)} ms/it`,
    );
    r.dispose();
  });
  t.true(finalLoss < losses[0]);
  t.is(leaked, 0);
});
