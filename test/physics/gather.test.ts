import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { circleOfConfusionPx } from '../../physics/circle-of-confusion.ts';
import { renderGather } from '../../physics/renderers/gather.ts';
import { renderScatter } from '../../physics/renderers/scatter.ts';
import { setupEngine } from '../helpers/engine.ts';
import { depthGradientPairs, pixelsAwayFromLevels, testCamera, texturedScene } from './scenes.ts';

test.before(async () => {
  await setupEngine();
});

const cam = testCamera();

test('the depth gradient matches central finite differences', (t) => {
  const H = 12;
  const W = 14;
  const s = texturedScene(H, W);
  const coc = tf.tidy(() => circleOfConfusionPx(cam, s.depth, 16).dataSync());
  const pixels = pixelsAwayFromLevels(coc, [0.1], 0.03, 8);
  t.true(pixels.length >= 6);
  const pairs = depthGradientPairs((a, d) => renderGather(a, d, cam, 16), s, H, W, pixels, 1e-3);
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

test("the kernel belongs to the destination: other pixels' depth does not change a pixel", (t) => {
  const H = 10;
  const W = 12;
  const s = texturedScene(H, W);
  const p = 5 * W + 6;
  const moved = s.depthData.slice();
  moved[p + 1] = 1.1; // the right neighbour jumps close to the camera
  const d2 = tf.tensor2d(moved, [H, W]);
  const maxCocPx = 40; // same levels in both calls
  const a = renderGather(s.aif, s.depth, cam, 8, { maxCocPx }).dataSync();
  const b = renderGather(s.aif, d2, cam, 8, { maxCocPx }).dataSync();
  for (let ch = 0; ch < 3; ch++) t.is(a[p * 3 + ch], b[p * 3 + ch]);
  // Under scatter the neighbour's new, larger disc does reach the pixel.
  const sa = renderScatter(s.aif, s.depth, cam, 8, { maxCocPx }).dataSync();
  const sb = renderScatter(s.aif, d2, cam, 8, { maxCocPx }).dataSync();
  t.not(sa[p * 3], sb[p * 3]);
  tf.dispose([d2, s.aif, s.depth]);
});

test('the aif gradient is the adjoint scatter (finite differences, exactly linear)', (t) => {
  const H = 9;
  const W = 10;
  const s = texturedScene(H, W);
  const r = tf.randomNormal([H, W, 3], 0, 1, 'float32', 5);
  const f = (a: tf.Tensor): tf.Scalar => tf.sum(tf.mul(renderGather(a as tf.Tensor3D, s.depth, cam, 16), r));
  const g = tf.grad(f)(s.aif).dataSync();
  const base = f(s.aif).dataSync()[0];
  for (const idx of [0, 44, 150, 269]) {
    const plus = s.aifData.slice();
    plus[idx] += 0.5;
    const bump = tf.tensor3d(plus, [H, W, 3]);
    const numeric = (f(bump).dataSync()[0] - base) / 0.5;
    t.true(Math.abs(numeric - g[idx]) < 2e-4 * Math.max(1, Math.abs(g[idx])), `${numeric} vs ${g[idx]}`);
    bump.dispose();
  }
  tf.dispose([r, s.aif, s.depth]);
});
