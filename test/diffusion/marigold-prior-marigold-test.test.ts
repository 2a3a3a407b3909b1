import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { setupEngine } from '../helpers/engine.ts';
import { checkRun, fixtureImage } from '../helpers/prior-parity.ts';

// diffusers' own Marigold test config: UNet (32, 64), VAE with a 2x downsample (latent 32x24), LCM scheduler.
const CKPT = 'test/data/diffusers-tiny/marigold-test/checkpoint';
let image: tf.Tensor4D;
let prior: MarigoldPrior;

test.before(async () => {
  await setupEngine();
  image = fixtureImage();
  prior = await MarigoldPrior.load(CKPT);
});

test.after.always(() => {
  prior?.dispose();
  image?.dispose();
});

test.serial('load: LCM from model_index, 1 step, VAE scale factor 2, prompt ids [0, 2]', (t) => {
  t.is(prior.scheduler.kind, 'lcm');
  t.is(prior.steps, 1);
  t.is(prior.vaeScaleFactor, 2);
  t.deepEqual(prior.promptIds.ids, [0, 2]);
});

test.serial('lcm_1step', async (t) => {
  await checkRun(t, prior, image, {
    set: 'marigold-test',
    run: 'lcm_1step',
    steps: 1,
    processingResolution: 64,
    grad: true,
    stepNoise: false,
  });
});

test.serial('lcm_4step (injected step noise)', async (t) => {
  await checkRun(t, prior, image, {
    set: 'marigold-test',
    run: 'lcm_4step',
    steps: 4,
    processingResolution: 64,
    grad: false,
    stepNoise: true,
  });
});

test.serial('DDIM on an LCM-only checkpoint is derived from its config, and says so', async (t) => {
  const ddim = await MarigoldPrior.load(CKPT, { scheduler: 'ddim', steps: 2 });
  t.is(ddim.scheduler.kind, 'ddim');
  t.is(ddim.scheduler.config.predictionType, 'v_prediction');
  t.regex(ddim.notes.join('\n'), /no DDIMScheduler folder.*from_config/);
  t.deepEqual([...ddim.scheduler.setTimesteps(2)], [501, 1]); // leading spacing, steps_offset 1
  ddim.encodeImage(image, { processingResolution: 32 });
  t.deepEqual(ddim.latentShape, [1, 4, 16, 12]);
  const z = ddim.sampleLatent(11);
  const z2 = ddim.sampleLatent(11);
  t.deepEqual(Array.from(await z.data()), Array.from(await z2.data()));
  const depth = ddim.predictDepth(z);
  t.deepEqual(depth.shape, [64, 48]);
  tf.dispose([z, z2, depth]);
  ddim.dispose();
});
