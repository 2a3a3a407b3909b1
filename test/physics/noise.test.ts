import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { addPoissonGaussianNoise, samplePoisson } from '../../physics/noise.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';

test.before(async () => {
  await setupEngine();
});

const stats = (v: ArrayLike<number>, mean0 = 0): [number, number] => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m += v[i] - mean0;
  m /= v.length;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] - mean0 - m) ** 2;
  return [m, s / (v.length - 1)];
};

test('same seed, same noise; another seed, other noise', (t) => {
  const img = tf.fill([16, 16, 3], 0.4);
  const opts = { gain: 500, readSigma: 0.01, seed: 42 };
  const a = addPoissonGaussianNoise(img, opts).dataSync();
  const b = addPoissonGaussianNoise(img, opts).dataSync();
  const c = addPoissonGaussianNoise(img, { ...opts, seed: 43 }).dataSync();
  t.deepEqual(Array.from(a), Array.from(b));
  t.notDeepEqual(Array.from(a), Array.from(c));
  img.dispose();
});

test('mean and variance follow Poisson-Gaussian: var = x / gain + readSigma^2', (t) => {
  const n = 20000;
  for (const [x, gain, sigma] of [
    [0.5, 100, 0], // mean 50 photons: normal approximation
    [0.05, 100, 0], // mean 5 photons: exact inversion
    [0.3, 1000, 0.02],
  ]) {
    const img = tf.fill([n], x);
    const y = addPoissonGaussianNoise(img, { gain, readSigma: sigma, seed: 1 }).dataSync();
    const [dm, v] = stats(y, x);
    const expectVar = x / gain + sigma * sigma;
    t.true(Math.abs(dm) < 4 * Math.sqrt(expectVar / n), `x=${x}: mean offset ${dm}`);
    t.true(Math.abs(v - expectVar) / expectVar < 0.05, `x=${x}: var ${v} vs ${expectVar}`);
    img.dispose();
  }
});

test('read noise only leaves the mean and adds sigma^2; no options but a seed leaves the image', (t) => {
  const img = tf.fill([10000], 0.2);
  const y = addPoissonGaussianNoise(img, { readSigma: 0.05, seed: 3 }).dataSync();
  const [dm, v] = stats(y, 0.2);
  t.true(Math.abs(dm) < 0.002);
  t.true(Math.abs(v - 0.0025) / 0.0025 < 0.05);
  t.deepEqual(Array.from(addPoissonGaussianNoise(img, { seed: 3 }).dataSync()), Array.from(img.dataSync()));
  img.dispose();
});

test('Poisson sampler: zero mean is zero, small means match their pmf', (t) => {
  const rng = new Rng(9);
  t.is(samplePoisson(rng, 0), 0);
  t.is(samplePoisson(rng, -1), 0);
  const n = 20000;
  let zeros = 0;
  for (let i = 0; i < n; i++) if (samplePoisson(rng, 1.5) === 0) zeros++;
  t.true(Math.abs(zeros / n - Math.exp(-1.5)) < 0.01);
});

test('bad options are errors naming the key; shape is kept', (t) => {
  const img = tf.ones([2, 3]);
  const key = (o: object): string | undefined =>
    t.throws(() => addPoissonGaussianNoise(img, o as never), { instanceOf: ApertureDepthError })!.key;
  t.is(key({ gain: 0, seed: 1 }), 'gain');
  t.is(key({ gain: Number.NaN, seed: 1 }), 'gain');
  t.is(key({ readSigma: -1, seed: 1 }), 'readSigma');
  t.is(key({ readSigma: 0.1 }), 'seed');
  t.is(key({ readSigma: 0.1, seed: 1.5 }), 'seed');
  t.deepEqual(addPoissonGaussianNoise(img, { seed: 1, readSigma: 0.1 }).shape, [2, 3]);
  img.dispose();
});

test.serial('noise leaks no tensors', async (t) => {
  const img = tf.ones([4, 4, 3]);
  t.is(
    await leakedTensors(() => addPoissonGaussianNoise(img, { gain: 10, readSigma: 0.1, seed: 0 }).dispose()),
    0,
  );
  img.dispose();
});
