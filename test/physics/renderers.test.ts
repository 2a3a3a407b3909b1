import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import { psfKernel } from '../../physics/psf.ts';
import { getRenderer, RENDERERS } from '../../physics/renderers/index.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { maxAbsDiff, testCamera, texturedScene } from './scenes.ts';

test.before(async () => {
  await setupEngine();
});

const cam = testCamera();
const names = Object.keys(RENDERERS);

test('the registry is frozen, named consistently, and rejects unknown names', (t) => {
  t.true(Object.isFrozen(RENDERERS));
  t.deepEqual(names.sort(), ['gather', 'layered', 'scatter', 'scatter-brute-force']);
  for (const name of names) t.is(RENDERERS[name].name, name);
  t.is(getRenderer('scatter'), RENDERERS.scatter);
  const err = t.throws(() => getRenderer('splat', 'simulate.renderer'), { instanceOf: ApertureDepthError });
  t.is(err!.key, 'simulate.renderer');
  t.regex(err!.message, /scatter, gather, layered/);
  t.throws(() => getRenderer('toString'), { instanceOf: ApertureDepthError });
});

for (const name of names) {
  const r = RENDERERS[name];

  test(`${name}: output has the input's shape; any channel count`, (t) => {
    for (const channels of [1, 3, 4]) {
      const s = texturedScene(9, 11, { channels });
      const out = r.render(s.aif, s.depth, cam, 8);
      t.deepEqual(out.shape, [9, 11, channels]);
      t.is(out.dtype, 'float32');
      t.true(out.dataSync().every(Number.isFinite));
      tf.dispose([out, s.aif, s.depth]);
    }
  });

  test(`${name}: the in-focus plane is the identity`, (t) => {
    const s = texturedScene(10, 12);
    const focus = tf.fill([10, 12], cam.focusDistanceM) as tf.Tensor2D; // exactly 2 m: c = 0
    for (const psf of ['disc', 'gaussian'] as const) {
      const out = r.render(s.aif, focus, cam, 8, { psf });
      t.deepEqual(Array.from(out.dataSync()), Array.from(s.aifData));
      out.dispose();
    }
    // A focus distance float32 cannot hold: c is ~1e-7 px, the output within float rounding of the input.
    const cam17 = new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: 5, focusDistanceM: 1.7 });
    const d17 = tf.fill([10, 12], 1.7) as tf.Tensor2D;
    const out = r.render(s.aif, d17, cam17, 2);
    t.true(maxAbsDiff(out.dataSync(), s.aifData) < 1e-5);
    tf.dispose([out, d17, focus, s.aif, s.depth]);
  });

  test(`${name}: a constant depth on a level is the dense convolution with that kernel`, (t) => {
    // d = 2.5 m, N = 8: c = 32.05 * (1 - 2 / 2.5) = 6.4103 px; with maxCocPx and a step that put c on a
    // level, every renderer reduces to one zero-padded convolution with the normalized kernel of c.
    const H = 14;
    const W = 15;
    const s = texturedScene(H, W);
    const d = tf.fill([H, W], 2.5) as tf.Tensor2D;
    const c = 32.05128205128205 * 0.2;
    const out = r.render(s.aif, d, cam, 8, { levelStepPx: c / 8, maxCocPx: c }).dataSync();
    const k = psfKernel('disc', c);
    let worst = 0;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        for (let ch = 0; ch < 3; ch++) {
          let e = 0;
          for (let dy = -k.radius; dy <= k.radius; dy++) {
            for (let dx = -k.radius; dx <= k.radius; dx++) {
              const u = i + dy;
              const v = j + dx;
              if (u >= 0 && u < H && v >= 0 && v < W) {
                e += k.data[(dy + k.radius) * k.size + dx + k.radius] * s.aifData[(u * W + v) * 3 + ch];
              }
            }
          }
          worst = Math.max(worst, Math.abs(out[(i * W + j) * 3 + ch] - e));
        }
      }
    }
    t.true(worst < 2e-5, `${worst}`);
    tf.dispose([d, s.aif, s.depth]);
  });

  test(`${name}: bad inputs are errors naming the argument`, (t) => {
    const s = texturedScene(6, 7);
    const key = (fn: () => unknown): string | undefined =>
      t.throws(fn, { instanceOf: ApertureDepthError })!.key;
    const flat = tf.ones([6, 7]) as tf.Tensor2D;
    t.is(
      key(() => r.render(flat as never, s.depth, cam, 8)),
      'aif',
    );
    t.is(
      key(() => r.render(s.aif, s.aif as never, cam, 8)),
      'depthM',
    );
    const wrong = tf.ones([6, 8]) as tf.Tensor2D;
    t.is(
      key(() => r.render(s.aif, wrong, cam, 8)),
      'depthM',
    );
    const ints = tf.ones([6, 7, 3], 'int32') as tf.Tensor3D;
    t.is(
      key(() => r.render(ints, s.depth, cam, 8)),
      'aif',
    );
    for (const bad of [0, -1, Number.NaN])
      t.is(
        key(() => r.render(s.aif, s.depth, cam, bad)),
        'fNumber',
      );
    t.is(
      key(() => r.render(s.aif, s.depth, {} as never, 8)),
      'camera',
    );
    t.is(
      key(() => r.render(s.aif, s.depth, cam, 8, { psf: 'box' as never })),
      'psf',
    );
    t.is(
      key(() => r.render(s.aif, s.depth, cam, 8, { levelStepPx: 0 })),
      'levelStepPx',
    );
    t.is(
      key(() => r.render(s.aif, s.depth, cam, 8, { maxCocPx: -2 })),
      'maxCocPx',
    );
    t.is(
      key(() => r.render(s.aif, s.depth, cam, 8, { layerStepPx: Number.NaN })),
      'layerStepPx',
    );
    for (const badDepth of [Number.NaN, 0, -1, Infinity]) {
      const d = s.depthData.slice();
      d[9] = badDepth;
      const dt = tf.tensor2d(d, [6, 7]);
      const err = t.throws(() => r.render(s.aif, dt, cam, 8), { instanceOf: ApertureDepthError });
      t.is(err!.key, 'depthM');
      t.regex(err!.message, /\(1, 2\)/);
      dt.dispose();
    }
    tf.dispose([flat, wrong, ints, s.aif, s.depth]);
  });

  test.serial(
    `${name}: render leaks no tensors${r.differentiable ? ', nor does its gradient' : ''}`,
    async (t) => {
      const s = texturedScene(8, 9);
      t.is(await leakedTensors(() => r.render(s.aif, s.depth, cam, 8).dispose()), 0);
      if (r.differentiable) {
        t.is(
          await leakedTensors(() =>
            tf.tidy(() => {
              tf.grads((a: tf.Tensor, d: tf.Tensor) =>
                tf.sum(r.render(a as tf.Tensor3D, d as tf.Tensor2D, cam, 8)),
              )([s.aif, s.depth]);
            }),
          ),
          0,
        );
      }
      tf.dispose([s.aif, s.depth]);
    },
  );
}
