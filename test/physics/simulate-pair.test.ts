import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import { srgbToLinear } from '../../physics/radiometry.ts';
import { renderLayered } from '../../physics/renderers/layered.ts';
import { renderScatter } from '../../physics/renderers/scatter.ts';
import { fillInvalidDepth, simulatePair } from '../../physics/simulate-pair.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { maxAbsDiff, testCamera, texturedScene } from './scenes.ts';

test.before(async () => {
  await setupEngine();
});

const cam = testCamera();
const H = 14;
const W = 16;

function srgbScene(): { rgb: tf.Tensor3D; depth: tf.Tensor2D; depthData: Float32Array } {
  const s = texturedScene(H, W);
  const rgb = tf.tidy(() => tf.clipByValue(tf.mul(s.aif, 0.6), 0, 1)) as tf.Tensor3D;
  s.aif.dispose();
  return { rgb, depth: s.depth, depthData: s.depthData };
}

test('AIF and blurred are the layered renders of the linearized colour at their own f-numbers', (t) => {
  const { rgb, depth } = srgbScene();
  const pair = simulatePair({ rgbSrgb: rgb, depthM: depth, camera: cam, fNumberAif: 22, fNumberBlurred: 8 });
  t.deepEqual(pair.aif.shape, [H, W, 3]);
  t.deepEqual(pair.blurred.shape, [H, W, 3]);
  t.is(pair.invalidCount, 0);
  const lin = srgbToLinear(rgb) as tf.Tensor3D;
  t.true(maxAbsDiff(pair.aif.dataSync(), renderLayered(lin, depth, cam, 22).dataSync()) < 1e-6);
  t.true(maxAbsDiff(pair.blurred.dataSync(), renderLayered(lin, depth, cam, 8).dataSync()) < 1e-6);
  // The AIF carries its own (smaller) blur: it is neither the input nor the blurred image.
  t.true(maxAbsDiff(pair.aif.dataSync(), lin.dataSync()) > 1e-3);
  t.true(maxAbsDiff(pair.aif.dataSync(), pair.blurred.dataSync()) > 1e-2);
  const other = simulatePair({
    rgbSrgb: rgb,
    depthM: depth,
    camera: cam,
    fNumberAif: 22,
    fNumberBlurred: 8,
    renderer: 'scatter',
  });
  t.true(maxAbsDiff(other.blurred.dataSync(), renderScatter(lin, depth, cam, 8).dataSync()) < 1e-6);
  tf.dispose([
    rgb,
    depth,
    lin,
    pair.aif,
    pair.blurred,
    pair.depthFilledM,
    other.aif,
    other.blurred,
    other.depthFilledM,
  ]);
});

test('equal energy: the pair carries the same light away from the borders', (t) => {
  // Colour only in the middle, so no light leaves the frame; scatter conserves energy exactly.
  const { rgb, depth } = srgbScene();
  const masked = tf.tidy(() => {
    const m = tf.pad(tf.ones([H - 12, W - 12, 3]), [
      [6, 6],
      [6, 6],
      [0, 0],
    ]);
    return tf.mul(rgb, m) as tf.Tensor3D;
  });
  const pair = simulatePair({
    rgbSrgb: masked,
    depthM: depth,
    camera: cam,
    fNumberAif: 22,
    fNumberBlurred: 16,
    renderer: 'scatter',
  });
  const a = tf.sum(pair.aif).dataSync()[0];
  const b = tf.sum(pair.blurred).dataSync()[0];
  t.true(Math.abs(a - b) / a < 1e-5, `${a} vs ${b}`);
  tf.dispose([rgb, depth, masked, pair.aif, pair.blurred, pair.depthFilledM]);
});

test('invalid depth is filled from the nearest valid pixel for rendering; the input keeps its NaN', (t) => {
  const d = new Float32Array([1, Number.NaN, 3, Number.NaN, Number.NaN, 0, -1, 2, Infinity]);
  const { filled, invalid } = fillInvalidDepth(d, 3, 3);
  t.is(invalid, 6);
  // Breadth-first from the valid pixels (1 at (0,0), 3 at (0,2), 2 at (2,1)); ties go to the earlier seed.
  t.deepEqual(Array.from(filled), [1, 1, 3, 1, 2, 3, 2, 2, 2]);
  t.true(Number.isNaN(d[1]));
  const err = t.throws(() => fillInvalidDepth(new Float32Array([Number.NaN, 0]), 1, 2), {
    instanceOf: ApertureDepthError,
  });
  t.is(err!.key, 'depthM');

  const { rgb, depthData } = srgbScene();
  const holes = depthData.slice();
  for (let p = 0; p < holes.length; p += 7) holes[p] = Number.NaN;
  const depth = tf.tensor2d(holes, [H, W]);
  const pair = simulatePair({ rgbSrgb: rgb, depthM: depth, camera: cam, fNumberAif: 22, fNumberBlurred: 8 });
  t.is(pair.invalidCount, Math.ceil((H * W) / 7));
  t.true(pair.blurred.dataSync().every(Number.isFinite));
  t.true(pair.depthFilledM.dataSync().every(Number.isFinite));
  t.true(Number.isNaN(depth.dataSync()[0]));
  tf.dispose([rgb, depth, pair.aif, pair.blurred, pair.depthFilledM]);
});

test('noise is seeded: same seed same pair, and AIF and blurred get independent draws', (t) => {
  const { rgb, depth } = srgbScene();
  const base = {
    rgbSrgb: rgb,
    depthM: depth,
    camera: cam,
    fNumberAif: 22,
    fNumberBlurred: 8,
    renderer: 'scatter',
  } as const;
  const a = simulatePair({ ...base, noiseSigma: 0.01, photonsPerUnit: 1000, seed: 5 });
  const b = simulatePair({ ...base, noiseSigma: 0.01, photonsPerUnit: 1000, seed: 5 });
  const c = simulatePair({ ...base, noiseSigma: 0.01, photonsPerUnit: 1000, seed: 6 });
  const clean = simulatePair(base);
  t.deepEqual(Array.from(a.blurred.dataSync()), Array.from(b.blurred.dataSync()));
  t.deepEqual(Array.from(a.aif.dataSync()), Array.from(b.aif.dataSync()));
  t.notDeepEqual(Array.from(a.blurred.dataSync()), Array.from(c.blurred.dataSync()));
  const na = tf.sub(a.aif, clean.aif).dataSync();
  const nb = tf.sub(a.blurred, clean.blurred).dataSync();
  let same = 0;
  for (let i = 0; i < na.length; i++) if (Math.abs(na[i] - nb[i]) < 1e-7) same++;
  t.true(same < na.length / 20, 'the two images do not share their noise');
  tf.dispose([rgb, depth]);
  for (const p of [a, b, c, clean]) tf.dispose([p.aif, p.blurred, p.depthFilledM]);
});

test('bad inputs are errors naming the key', (t) => {
  const { rgb, depth } = srgbScene();
  const base = { rgbSrgb: rgb, depthM: depth, camera: cam, fNumberAif: 22, fNumberBlurred: 8 };
  const key = (o: object): string | undefined =>
    t.throws(() => simulatePair({ ...base, ...o } as never), { instanceOf: ApertureDepthError })!.key;
  const gray = tf.ones([H, W, 1]);
  const small = tf.ones([H, W - 1]);
  t.is(key({ rgbSrgb: gray }), 'rgbSrgb');
  t.is(key({ depthM: small }), 'depthM');
  t.is(key({ fNumberAif: 0 }), 'fNumberAif');
  t.is(key({ fNumberBlurred: Number.NaN }), 'fNumberBlurred');
  t.is(key({ renderer: 'ray-tracer' }), 'renderer');
  t.is(key({ noiseSigma: -1 }), 'noiseSigma');
  t.is(key({ photonsPerUnit: 0 }), 'photonsPerUnit');
  t.is(key({ seed: 0.5 }), 'seed');
  t.is(key({ camera: { focalLengthMm: 50 } }), 'camera');
  tf.dispose([rgb, depth, gray, small]);
});

test.serial('simulatePair leaks nothing beyond its three outputs', async (t) => {
  const { rgb, depth } = srgbScene();
  const n = await leakedTensors(() => {
    const p = simulatePair({
      rgbSrgb: rgb,
      depthM: depth,
      camera: cam,
      fNumberAif: 22,
      fNumberBlurred: 8,
      noiseSigma: 0.01,
    });
    tf.dispose([p.aif, p.blurred, p.depthFilledM]);
  });
  t.is(n, 0);
  tf.dispose([rgb, depth]);
});
