import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  marigoldGeometry,
  preprocessImage,
  restoreInputResolution,
} from '../../diffusion/marigold/preprocess.ts';
import {
  antialiasBilinearMatrix,
  bilinearMatrix,
  cropInputEnd,
  reflectPadBoth,
  resampleNHWC,
} from '../../diffusion/marigold/resample.ts';
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

test('margin: reflect-padded on every side before the end padding, cropped off again on the way back', async (t) => {
  // 64x48 at 40 with a 3 px margin: 40x30 + 6 = 46x36, end-padded to 48x40 (multiples of 8).
  const g = marigoldGeometry(64, 48, 40, 8, 3);
  t.deepEqual([g.resized, g.margin, g.padding, g.padded, g.latent], [[40, 30], 3, [2, 4], [48, 40], [6, 5]]);
  t.deepEqual(marigoldGeometry(64, 48, 40, 8).margin, 0);
  const rgb = tf.randomUniform([64, 48, 3], 0, 1, 'float32', 7);
  const plain = preprocessImage(rgb, marigoldGeometry(64, 48, 40, 8));
  const framed = preprocessImage(rgb, g);
  const p = (await plain.array()) as number[][][][];
  const f = (await framed.array()) as number[][][][];
  // inside: the plain image; the margin mirrors rows / columns 1..3 (the edge itself not repeated)
  const px = (a: number[][][][], y: number, x: number) => a[0]![y]![x]![1]!;
  t.is(px(f, 3 + 10, 3 + 20), px(p, 10, 20));
  t.is(px(f, 0, 3 + 5), px(p, 3, 5)); // top margin row 0 = image row 3
  t.is(px(f, 3 + 39 + 2, 3 + 5), px(p, 37, 5)); // bottom margin: row 39 + 2 mirrors row 37
  t.is(px(f, 3 + 7, 0), px(p, 7, 3)); // left margin
  t.is(px(f, 3 + 7, 3 + 29 + 1), px(p, 7, 28)); // right margin
  t.is(px(f, 47, 39), px(f, 45, 35)); // end padding replicates the last framed row / column
  // a prediction that is the framed image's green channel comes back as the plain one's
  const back = restoreInputResolution(tf.slice(framed, [0, 0, 0, 1], [1, 48, 40, 1]), g);
  const ref = restoreInputResolution(
    tf.slice(plain, [0, 0, 0, 1], [1, 40, 32, 1]),
    marigoldGeometry(64, 48, 40, 8),
  );
  t.true(maxAbsDiff(await back.data(), await ref.data()) < 1e-6);
  t.throws(() => marigoldGeometry(64, 48, 40, 8, 30), {
    instanceOf: ApertureDepthError,
    message: /margin.*short side \(30 px\), got 30/s,
  });
  t.throws(() => marigoldGeometry(64, 48, 40, 8, 1.5), { message: /margin/ });
  tf.dispose([rgb, plain, framed, back, ref]);
});

test('reflectPadBoth and cropInputEnd with an offset: the rows they move, and their errors', (t) => {
  const id = bilinearMatrix(4, 4); // the identity
  const r = reflectPadBoth(id, 2);
  const rows = Array.from({ length: 8 }, (_, o) => Array.from(r.data.subarray(o * 4, o * 4 + 4)).indexOf(1));
  t.deepEqual(rows, [2, 1, 0, 1, 2, 3, 2, 1]);
  t.is(reflectPadBoth(id, 0).outSize, 4);
  t.throws(() => reflectPadBoth(id, 4), { message: /\[0, 3\] for 4 samples, got 4/ });
  const c = cropInputEnd(id, 7, 2);
  t.deepEqual(Array.from(c.data.subarray(7, 14)), [0, 0, 0, 1, 0, 0, 0]); // row 1 reads input 1 + 2
  t.throws(() => cropInputEnd(id, 5, 2), { message: /4 inputs at offset 2 of 5/ });
});
