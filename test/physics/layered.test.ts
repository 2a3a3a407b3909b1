import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { circleOfConfusionPx } from '../../physics/circle-of-confusion.ts';
import { renderLayered } from '../../physics/renderers/layered.ts';
import { renderScatter } from '../../physics/renderers/scatter.ts';
import { setupEngine } from '../helpers/engine.ts';
import { depthGradientPairs, maxAbsDiff, pixelsAwayFromLevels, testCamera, texturedScene } from './scenes.ts';

test.before(async () => {
  await setupEngine();
});

const cam = testCamera();

test('a constant-depth scene equals scatter, borders included, on or between levels', (t) => {
  const s = texturedScene(16, 18);
  for (const d of [2.5, 2.7123, 1.4]) {
    const depth = tf.fill([16, 18], d) as tf.Tensor2D;
    const a = renderLayered(s.aif, depth, cam, 8);
    const b = renderScatter(s.aif, depth, cam, 8);
    t.true(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-5, `d = ${d}`);
    tf.dispose([depth, a, b]);
  }
  tf.dispose([s.aif, s.depth]);
});

test('an in-focus occluder stays sharp in front of a blurred background (scatter bleeds through)', (t) => {
  // Bright background at 4 m (c = 16 px at N = 8), a black in-focus box at 2 m in the middle.
  const H = 30;
  const W = 30;
  const img = new Float32Array(H * W * 3).fill(1);
  const depth = new Float32Array(H * W).fill(4);
  const inBox = (i: number, j: number): boolean => i >= 10 && i < 20 && j >= 10 && j < 20;
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      if (inBox(i, j)) {
        depth[i * W + j] = 2;
        img.fill(0, (i * W + j) * 3, (i * W + j) * 3 + 3);
      }
    }
  }
  const aif = tf.tensor3d(img, [H, W, 3]);
  const d = tf.tensor2d(depth, [H, W]);
  const layered = renderLayered(aif, d, cam, 8).dataSync();
  const scatter = renderScatter(aif, d, cam, 8).dataSync();
  let layeredMax = 0;
  let scatterMax = 0;
  for (let i = 10; i < 20; i++) {
    for (let j = 10; j < 20; j++) {
      layeredMax = Math.max(layeredMax, layered[(i * W + j) * 3]);
      scatterMax = Math.max(scatterMax, scatter[(i * W + j) * 3]);
    }
  }
  t.is(layeredMax, 0, 'the occluder hides the background');
  t.true(scatterMax > 0.1, 'scatter spreads background light over the occluder');
  tf.dispose([aif, d]);
});

test('coverage normalization: a uniform colour stays uniform across depth edges (no dark seams)', (t) => {
  const H = 40;
  const W = 40;
  const s = texturedScene(H, W); // depth ramp with a near box: blurred edges both ways
  const grey = tf.fill([H, W, 3], 0.5) as tf.Tensor3D;
  const out = renderLayered(grey, s.depth, cam, 16).dataSync();
  let worst = 0;
  const margin = 6; // beyond the largest radius (N = 16: c <= 10.7 px), no frame edge in reach
  for (let i = margin; i < H - margin; i++) {
    for (let j = margin; j < W - margin; j++) worst = Math.max(worst, Math.abs(out[(i * W + j) * 3] - 0.5));
  }
  t.true(worst < 1e-5, `${worst}`);
  tf.dispose([grey, s.aif, s.depth]);
});

test('the depth gradient matches central finite differences (within a layer)', (t) => {
  const H = 12;
  const W = 14;
  const s = texturedScene(H, W);
  const coc = tf.tidy(() => circleOfConfusionPx(cam, s.depth, 16).dataSync());
  // Away from the 0.1 px levels and from the 1 px layer boundaries (a 1 mm step moves c by <= 0.022 px).
  const pixels = pixelsAwayFromLevels(coc, [0.1, 1], 0.03, 6);
  t.true(pixels.length >= 4);
  const pairs = depthGradientPairs((a, d) => renderLayered(a, d, cam, 16), s, H, W, pixels, 1e-3);
  t.log(pairs.map(([a, n]) => `${a.toFixed(5)}/${n.toFixed(5)}`).join(' '));
  for (const [analytic, numeric] of pairs) {
    t.true(
      Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-2) < 1e-2,
      `${analytic} vs ${numeric}`,
    );
  }
  t.true(pairs.some(([a]) => Math.abs(a) > 0.05));
  tf.dispose([s.aif, s.depth]);
});

test('layer width changes occlusion detail only: 1 px and 0.5 px layers agree closely', (t) => {
  const s = texturedScene(24, 28);
  const a = renderLayered(s.aif, s.depth, cam, 8, { layerStepPx: 1 }).dataSync();
  const b = renderLayered(s.aif, s.depth, cam, 8, { layerStepPx: 0.5 }).dataSync();
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += Math.abs(a[i] - b[i]);
    den += Math.abs(b[i]);
  }
  t.true(num / den < 0.02, `${num / den}`);
  tf.dispose([s.aif, s.depth]);
});
