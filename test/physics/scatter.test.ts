import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { circleOfConfusionPx } from '../../physics/circle-of-confusion.ts';
import { renderScatterBruteForce } from '../../physics/renderers/scatter-brute-force.ts';
import { renderScatter } from '../../physics/renderers/scatter.ts';
import { renderGather } from '../../physics/renderers/gather.ts';
import { setupEngine } from '../helpers/engine.ts';
import { depthGradientPairs, pixelsAwayFromLevels, relativeL1, testCamera, texturedScene } from './scenes.ts';

test.before(async () => {
  await setupEngine();
});

const cam = testCamera();

/**
 * The fast scatter against the literal eq. 6 (exact continuous CoC per source). Scene: 48x64 textured RGB
 * with 10 % bright specks, depth 1.5-3 m with a box at 1.2 m, N = 16: CoCs 0 to 10.7 px. Measured relative
 * L1 (float64 sums), disc: 0.048 % at the default 0.1 px step, 0.20 % at 0.25 px, 0.49 % at 0.5 px,
 * 0.89 % at 1 px; Gaussian: 0.11 % at 0.1 px (its 3-sigma truncation radius jumps between levels).
 * Bounds asserted: disc below 0.1 % at the default step and below 1 % at 1 px; Gaussian below 0.2 %.
 */
test('scatter stays within the stated bound of the brute-force eq. 6', (t) => {
  const s = texturedScene(48, 64);
  const bounds: [string, 'disc' | 'gaussian', number, number][] = [
    ['default step', 'disc', 0.1, 1e-3],
    ['0.5 px step', 'disc', 0.5, 6e-3],
    ['1 px step', 'disc', 1, 1e-2],
    ['gaussian', 'gaussian', 0.1, 2e-3],
  ];
  const seen: string[] = [];
  for (const [label, psf, step, bound] of bounds) {
    const exact = renderScatterBruteForce(s.aif, s.depth, cam, 16, { psf });
    const fast = renderScatter(s.aif, s.depth, cam, 16, { psf, levelStepPx: step });
    const e = relativeL1(fast.dataSync(), exact.dataSync());
    seen.push(`${label}: ${(100 * e).toFixed(3)} %`);
    t.true(e < bound, `${label}: relative L1 ${e} >= ${bound}`);
    tf.dispose([exact, fast]);
  }
  t.log(seen.join('; '));
  tf.dispose([s.aif, s.depth]);
});

test('scatter conserves energy away from the borders; gather does not at depth edges', (t) => {
  // Light only in the middle, more than the largest kernel radius (N = 16: c <= 10.7 px, radius 5) from
  // every border, so no light leaves the frame.
  const H = 40;
  const W = 44;
  const s = texturedScene(H, W);
  const masked = s.aifData.slice();
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      if (i < 8 || i >= H - 8 || j < 8 || j >= W - 8) masked.fill(0, (i * W + j) * 3, (i * W + j) * 3 + 3);
    }
  }
  const aif = tf.tensor3d(masked, [H, W, 3]);
  const total = (x: tf.Tensor): number => Array.from(x.dataSync()).reduce((a, b) => a + b, 0);
  const out = renderScatter(aif, s.depth, cam, 16);
  const e = Math.abs(total(out) - total(aif)) / total(aif);
  t.true(e < 1e-6, `scatter energy drift ${e}`);
  const g = renderGather(aif, s.depth, cam, 16);
  t.true(Math.abs(total(g) - total(aif)) / total(aif) > 1e-4, 'gather moves energy across depth edges');
  tf.dispose([aif, out, g, s.aif, s.depth]);
});

test('scatter loses the light that leaves the frame (zero outside)', (t) => {
  const s = texturedScene(12, 14, { box: false });
  const out = renderScatter(s.aif, s.depth, cam, 8);
  const sum = (x: ArrayLike<number>): number => Array.from(x).reduce((a, b) => a + b, 0);
  t.true(sum(out.dataSync()) < 0.9 * sum(s.aifData));
  tf.dispose([out, s.aif, s.depth]);
});

test('the depth gradient matches central finite differences', (t) => {
  // 12x14 RGB, N = 16 (CoCs 0-10 px, dc/dd up to 22 px/m): pixels whose CoC sits mid-way between the
  // 0.1 px levels, so a 1 mm depth step (at most 0.022 px of CoC) stays on one linear piece of the hat weights.
  const H = 12;
  const W = 14;
  const s = texturedScene(H, W);
  const coc = tf.tidy(() => circleOfConfusionPx(cam, s.depth, 16).dataSync());
  const pixels = pixelsAwayFromLevels(coc, [0.1], 0.03, 8);
  t.true(pixels.length >= 6);
  const pairs = depthGradientPairs((a, d) => renderScatter(a, d, cam, 16), s, H, W, pixels, 1e-3);
  t.log(pairs.map(([a, n]) => `${a.toFixed(5)}/${n.toFixed(5)}`).join(' '));
  for (const [analytic, numeric] of pairs) {
    const rel = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-2);
    t.true(rel < 1e-2, `analytic ${analytic} vs numeric ${numeric}`);
  }
  t.true(
    pairs.some(([a]) => Math.abs(a) > 0.05),
    'some gradients are far from zero',
  );
  tf.dispose([s.aif, s.depth]);
});

test('the aif gradient is the adjoint gather (checked by finite differences, exactly linear)', (t) => {
  const H = 9;
  const W = 10;
  const s = texturedScene(H, W);
  const r = tf.randomNormal([H, W, 3], 0, 1, 'float32', 3);
  const f = (a: tf.Tensor): tf.Scalar => tf.sum(tf.mul(renderScatter(a as tf.Tensor3D, s.depth, cam, 16), r));
  const g = tf.grad(f)(s.aif).dataSync();
  for (const idx of [0, 31, 100, 200, 269]) {
    const plus = s.aifData.slice();
    plus[idx] += 0.5;
    const bump = tf.tensor3d(plus, [H, W, 3]);
    const numeric = (f(bump).dataSync()[0] - f(s.aif).dataSync()[0]) / 0.5;
    t.true(Math.abs(numeric - g[idx]) < 2e-4 * Math.max(1, Math.abs(g[idx])), `${numeric} vs ${g[idx]}`);
    bump.dispose();
  }
  tf.dispose([r, s.aif, s.depth]);
});

test('maxCocPx clamps larger CoCs (and their gradient is zero)', (t) => {
  const s = texturedScene(10, 12);
  const clamped = renderScatter(s.aif, s.depth, cam, 8, { maxCocPx: 2 });
  const ref = renderScatterBruteForce(s.aif, s.depth, cam, 8, { maxCocPx: 2 });
  t.true(relativeL1(clamped.dataSync(), ref.dataSync()) < 2e-3);
  const g = tf.grad((d: tf.Tensor) =>
    tf.sum(renderScatter(s.aif, d as tf.Tensor2D, cam, 8, { maxCocPx: 0.5 })),
  )(
    tf.fill([10, 12], 3) as tf.Tensor2D, // c = 10.7 px, clamped
  );
  t.true(g.dataSync().every((v) => v === 0));
  tf.dispose([clamped, ref, g, s.aif, s.depth]);
});
