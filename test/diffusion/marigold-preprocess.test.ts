import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  marigoldGeometry,
  preprocessImage,
  restoreInputResolution,
} from '../../diffusion/marigold/preprocess.ts';
import { antialiasBilinearMatrix, bilinearMatrix, resampleNHWC } from '../../diffusion/marigold/resample.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { fixture, maxAbsDiff } from '../helpers/npy-fixture.ts';

test.before(async () => {
  await setupEngine();
});

/** NCHW fixture [1, C, H, W] → NHWC tensor. */
function nchwToNhwc(a: { shape: number[]; data: Float32Array }): tf.Tensor4D {
  return tf.tidy(() =>
    tf.transpose(tf.tensor4d(a.data, a.shape as [number, number, number, number]), [0, 2, 3, 1]),
  );
}

test('geometry: sizes of the fixture runs and of real Marigold inputs', (t) => {
  const g = marigoldGeometry(64, 48, 40, 8);
  t.deepEqual(
    [g.resized, g.padding, g.padded, g.latent],
    [
      [40, 30],
      [0, 2],
      [40, 32],
      [5, 4],
    ],
  );
  t.deepEqual(marigoldGeometry(64, 48, 64, 8).latent, [8, 6]);
  t.deepEqual(marigoldGeometry(64, 48, 64, 2).latent, [32, 24]); // marigold-test VAE: 2x downsample
  t.deepEqual(marigoldGeometry(480, 640, 768, 8).padded, [576, 768]);
  t.deepEqual(marigoldGeometry(277, 347, 768, 8).resized, [613, 768]);
  t.deepEqual(marigoldGeometry(277, 347, 0, 8).padded, [280, 352]);
  t.throws(() => marigoldGeometry(1, 5000, 768, 8), {
    instanceOf: ApertureDepthError,
    message: /aspect ratio/,
  });
  t.throws(() => marigoldGeometry(10, 10, -1, 8), { message: /processingResolution/ });
});

test('antialiased resize: identity at equal size, rows sum to 1, triangle widened by the scale', (t) => {
  const id = antialiasBilinearMatrix(5, 5);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) t.is(id.data[i * 5 + j], i === j ? 1 : 0);
  const down = antialiasBilinearMatrix(64, 40);
  for (let i = 0; i < 40; i++) {
    let s = 0;
    for (let j = 0; j < 64; j++) s += down.data[i * 64 + j];
    t.true(Math.abs(s - 1) < 1e-6);
  }
  // halving: each output averages a 4-tap triangle [1, 3, 3, 1] / 8
  const half = antialiasBilinearMatrix(8, 4);
  t.deepEqual(Array.from(half.data.subarray(8, 16)), [0, 0.125, 0.375, 0.375, 0.125, 0, 0, 0]);
  const up = bilinearMatrix(2, 4); // torch: [1, .75/.25, .25/.75, 1]
  t.deepEqual(Array.from(up.data), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
});

test('ddim_1step_pr40: preprocessed image matches diffusers (antialiased 64x48 -> 40x30, pad to 40x32)', async (t) => {
  const rgb = fixture('inputs/image_rgb01.npy');
  const ref = fixture('sd2-tiny/arrays/pipeline/ddim_1step_pr40/preprocessed_image.npy');
  const g = marigoldGeometry(64, 48, 40, 8);
  const image = nchwToNhwc(rgb);
  const ours = preprocessImage(image, g);
  t.deepEqual(ours.shape, [1, 40, 32, 3]);
  const refNhwc = nchwToNhwc(ref);
  const err = maxAbsDiff(await ours.data(), await refNhwc.data());
  t.log(`preprocessed_image max |diff| ${err.toExponential(2)}`);
  t.true(err < 2e-6);
  // same-size processing is the identity up to 2x-1
  const same = preprocessImage(image, marigoldGeometry(64, 48, 64, 8));
  const encodeInput = nchwToNhwc(fixture('sd2-tiny/arrays/vae/encode_input.npy'));
  t.true(maxAbsDiff(await same.data(), await encodeInput.data()) < 1e-6);
  tf.dispose([image, ours, refNhwc, same, encodeInput]);
});

test('ddim_1step_pr40: decoded_depth_padded -> prediction (un-pad, bilinear back to 64x48)', async (t) => {
  const padded = fixture('sd2-tiny/arrays/pipeline/ddim_1step_pr40/decoded_depth_padded.npy');
  const ref = fixture('sd2-tiny/arrays/pipeline/ddim_1step_pr40/prediction.npy');
  const g = marigoldGeometry(64, 48, 40, 8);
  const depth = tf.tensor2d(padded.data, [40, 32]);
  const out = restoreInputResolution(depth, g);
  t.deepEqual(out.shape, [64, 48]);
  const err = maxAbsDiff(await out.data(), ref.data);
  t.log(`prediction from decoded_depth_padded max |diff| ${err.toExponential(2)}`);
  t.true(err < 1e-6);
  tf.dispose([depth, out]);
});

test('resampling is differentiable (matches the transposed matrices) and leaks nothing', async (t) => {
  const g = marigoldGeometry(6, 5, 4, 2);
  const x = tf.randomNormal([1, 6, 5, 3]) as tf.Tensor4D;
  const w = tf.randomNormal([1, 4, 4, 3]);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(preprocessImage(v, g), w)))(x);
  // finite differences on a few entries (the map is affine, so exact up to float rounding)
  const f = (v: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(preprocessImage(v, g), w)).dataSync()[0]);
  const gd = await grad.data();
  for (const idx of [0, 17, 42, 89]) {
    const e = tf.oneHot([idx], 90).reshape([1, 6, 5, 3]);
    const fd = (f(tf.add(x, e)) - f(tf.sub(x, e))) / 2;
    t.true(Math.abs(fd - gd[idx]) < 1e-4, `entry ${idx}: fd ${fd} vs grad ${gd[idx]}`);
    e.dispose();
  }
  const leaked = await leakedTensors(() => {
    const y = preprocessImage(x, g);
    const depth = tf.mean(y, 3, true);
    const back = restoreInputResolution(depth, g);
    tf.dispose([y, depth, back]);
  });
  t.is(leaked, 0);
  t.throws(() => resampleNHWC(x, antialiasBilinearMatrix(7, 3), antialiasBilinearMatrix(5, 3)), {
    message: /6x5/,
  });
  tf.dispose([x, w, grad]);
});
