import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { checkRun, fixtureImage } from '../helpers/prior-parity.ts';

const CKPT = 'test/data/diffusers-tiny/sd2-tiny/checkpoint';
let image: tf.Tensor4D;
let ddim: MarigoldPrior;
let lcm: MarigoldPrior;

test.before(async () => {
  await setupEngine();
  image = fixtureImage();
  ddim = await MarigoldPrior.load(CKPT);
  lcm = await MarigoldPrior.load(CKPT, { scheduler: 'lcm' });
});

test.after.always(() => {
  ddim?.dispose();
  lcm?.dispose();
  image?.dispose();
});

test.serial('load: scheduler, steps, resolution and prompt ids from the checkpoint', (t) => {
  t.is(ddim.scheduler.kind, 'ddim');
  t.is(ddim.steps, 4); // model_index default_denoising_steps
  t.is(ddim.processingResolution, 64);
  t.deepEqual(ddim.promptIds.ids, [998, 999]);
  t.is(ddim.vaeScaleFactor, 8);
  t.is(ddim.scalingFactor, 0.18215);
  t.deepEqual(ddim.textEmbedding.shape, [1, 2, 32]);
  t.is(lcm.scheduler.kind, 'lcm');
  t.is(lcm.steps, 1);
  t.deepEqual(lcm.notes, []);
});

test.serial('ddim_1step', async (t) => {
  await checkRun(t, ddim, image, {
    set: 'sd2-tiny',
    run: 'ddim_1step',
    steps: 1,
    processingResolution: 64,
    grad: true,
    stepNoise: false,
  });
});

test.serial('ddim_1step_pr40 (antialiased downscale, padding, odd latent)', async (t) => {
  await checkRun(t, ddim, image, {
    set: 'sd2-tiny',
    run: 'ddim_1step_pr40',
    steps: 1,
    processingResolution: 40,
    grad: true,
    stepNoise: false,
  });
});

test.serial('ddim_4step', async (t) => {
  await checkRun(t, ddim, image, {
    set: 'sd2-tiny',
    run: 'ddim_4step',
    steps: 4,
    processingResolution: 64,
    grad: false,
    stepNoise: false,
  });
});

test.serial('lcm_1step', async (t) => {
  await checkRun(t, lcm, image, {
    set: 'sd2-tiny',
    run: 'lcm_1step',
    steps: 1,
    processingResolution: 64,
    grad: true,
    stepNoise: false,
  });
});

test.serial('lcm_4step (injected step noise)', async (t) => {
  await checkRun(t, lcm, image, {
    set: 'sd2-tiny',
    run: 'lcm_4step',
    steps: 4,
    processingResolution: 64,
    grad: false,
    stepNoise: true,
  });
});

test.serial('predictDepth leaks nothing; default LCM step noise is deterministic', async (t) => {
  lcm.encodeImage(image);
  const z = lcm.sampleLatent(7);
  t.deepEqual(z.shape, [1, 4, 8, 6]);
  const leaked = await leakedTensors(() => {
    const d = lcm.predictDepth(z, 2);
    d.dispose();
  });
  t.is(leaked, 0);
  const a = lcm.predictDepth(z, { steps: 2, noiseSeed: 1 });
  const b = lcm.predictDepth(z, { steps: 2, noiseSeed: 1 });
  const c = lcm.predictDepth(z, { steps: 2, noiseSeed: 2 });
  t.deepEqual(a.shape, [64, 48]);
  t.deepEqual(Array.from(await a.data()), Array.from(await b.data()));
  t.notDeepEqual(Array.from(await a.data()), Array.from(await c.data()));
  const min = (await tf.min(a).data())[0];
  const max = (await tf.max(a).data())[0];
  t.true(min >= 0 && max <= 1);
  tf.dispose([z, a, b, c]);
});

test.serial('errors: wrong latent shape, wrong step noise, predicting before encoding', async (t) => {
  const fresh = await MarigoldPrior.load(CKPT, { steps: 1 });
  t.throws(() => fresh.latentShape, { message: /call encodeImage/ });
  fresh.encodeImage(image);
  const bad = tf.zeros([1, 4, 6, 8]);
  t.throws(() => fresh.predictDepth(bad), {
    message: /noise latent is \[1, 4, 6, 8\], expected \[1, 4, 8, 6\]/,
  });
  t.throws(() => fresh.predictDepth(tf.zeros([1, 4, 8, 6]), 0), { message: /steps/ });
  const z = tf.zeros([1, 4, 8, 6]);
  const wrongNoise = [tf.zeros([1, 4, 2, 2])];
  t.throws(() => lcm.predictDepth(z, { steps: 2, stepNoise: wrongNoise }), { message: /step noise 0/ });
  await t.throwsAsync(
    () => MarigoldPrior.load(CKPT, { scheduler: 'lcm', schedulerDir: `${CKPT}/scheduler` }),
    {
      message: /not the requested lcm scheduler/,
    },
  );
  tf.dispose([bad, z, ...wrongNoise]);
  fresh.dispose();
});
