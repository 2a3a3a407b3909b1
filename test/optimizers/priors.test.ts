import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { PixelPrior } from '../../optimizers/priors/pixel-prior.ts';
import { FixedPrior } from '../../optimizers/priors/fixed-prior.ts';
import { ApertureDepthError } from '../../core/errors.ts';

test.before(async () => {
  await setupEngine();
});

test.serial('pixel prior: seeded start near init, sigmoid output, differentiable', async (t) => {
  const prior = new PixelPrior(3, 4, { init: 0.25, initNoise: 0.01 });
  t.deepEqual(prior.latentShape, [3, 4]);
  const z = prior.initialLatent(5);
  t.deepEqual(Array.from(z.dataSync()), Array.from(prior.initialLatent(5).dataSync()));
  t.notDeepEqual(Array.from(z.dataSync()), Array.from(prior.initialLatent(6).dataSync()));
  const d = prior.predict(z);
  t.deepEqual(d.shape, [3, 4]);
  t.true(d.dataSync().every((v) => Math.abs(v - 0.25) < 0.01));
  const leaked = await leakedTensors(() => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(prior.predict(x)))(z);
    t.true(g.dataSync().every((v) => v > 0));
    g.dispose();
  });
  t.is(leaked, 0);
  t.throws(() => prior.predict(tf.zeros([4, 3])), { instanceOf: ApertureDepthError, message: /PixelPrior/ });
});

test('fixed prior returns its map; fromMetricDepth normalizes valid pixels', (t) => {
  const prior = FixedPrior.fromMetricDepth(tf.tensor2d([1, 2, 3, Number.NaN], [2, 2]));
  t.false(prior.trainable);
  const d = prior.predict(prior.initialLatent(0)).dataSync();
  t.deepEqual(Array.from(d), [0, 0.5, 1, 0.5]);
  prior.dispose();
});
