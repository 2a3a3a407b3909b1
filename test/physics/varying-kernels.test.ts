import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/tensor/rng.ts';
import { psfKernel } from '../../physics/psf.ts';
import { kernelBank } from '../../physics/renderers/kernel-bank.ts';
import {
  gatherVarying,
  gatherVaryingOp,
  scatterVarying,
  scatterVaryingOp,
  type VaryingKernelPlan,
} from '../../physics/renderers/varying-kernels.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';

test.before(async () => {
  await setupEngine();
});

const H = 13;
const W = 17;
const C = 2;

function randomPlan(seed: number, extendPx = 0, withSources = false): VaryingKernelPlan {
  const rng = new Rng(seed);
  const bank = kernelBank('disc', 0.5, 16); // CoC levels 0 .. 8 px
  const level = new Int32Array(H * W);
  for (let p = 0; p < level.length; p++) level[p] = Math.floor(rng.uniform() * 17);
  const sources = withSources
    ? Uint8Array.from({ length: H * W }, () => (rng.uniform() < 0.5 ? 1 : 0))
    : undefined;
  return { H, W, level, bank, extendPx, sources };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

for (const [name, extendPx, withSources] of [
  ['zero outside', 0, false],
  ['edge replicated', 8, false],
  ['a subset of sources', 0, true],
  ['replicated subset', 5, true],
] as const) {
  test(`scatter and gather are adjoint (${name}): <S x, y> = <x, G y>`, (t) => {
    const plan = randomPlan(3, extendPx, withSources);
    const rng = new Rng(11);
    const x = rng.normalArray(H * W * C);
    const y = rng.normalArray(H * W * C);
    const lhs = dot(scatterVarying(x, C, plan), y);
    const rhs = dot(x, gatherVarying(y, C, plan));
    t.true(Math.abs(lhs - rhs) <= 1e-5 * (Math.abs(lhs) + 1), `${lhs} vs ${rhs}`);
  });
}

test('one level everywhere equals a dense zero-padded convolution', (t) => {
  const bank = kernelBank('disc', 0.5, 14);
  const level = new Int32Array(H * W).fill(13); // c = 6.5 px
  const plan: VaryingKernelPlan = { H, W, level, bank };
  const x = new Rng(5).uniformArray(H * W * C);
  const k = psfKernel('disc', 6.5);
  const expect = new Float64Array(H * W * C);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      for (let dy = -k.radius; dy <= k.radius; dy++) {
        for (let dx = -k.radius; dx <= k.radius; dx++) {
          const u = i + dy;
          const v = j + dx;
          if (u < 0 || u >= H || v < 0 || v >= W) continue;
          for (let c = 0; c < C; c++) {
            expect[(i * W + j) * C + c] +=
              k.data[(dy + k.radius) * k.size + dx + k.radius] * x[(u * W + v) * C + c];
          }
        }
      }
    }
  }
  for (const out of [scatterVarying(x, C, plan), gatherVarying(x, C, plan)]) {
    let worst = 0;
    for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - expect[i]));
    t.true(worst < 1e-6, `${worst}`);
  }
});

test('edge replication makes a constant plane stay constant up to the frame edge', (t) => {
  const plan = randomPlan(8, 8);
  const ones = new Float32Array(H * W).fill(1);
  const flat: VaryingKernelPlan = { ...plan, level: new Int32Array(H * W).fill(12) };
  for (const v of scatterVarying(ones, 1, flat)) t.true(Math.abs(v - 1) < 1e-6, `${v}`);
  const zeroPad = scatterVarying(ones, 1, { ...flat, extendPx: 0 });
  t.true(zeroPad[0] < 0.5, 'without replication the corner loses light');
});

test('the tf ops have each other as gradient', (t) => {
  const plan = randomPlan(4);
  const rng = new Rng(9);
  const x = tf.tensor3d(rng.normalArray(H * W * C), [H, W, C]);
  const r = tf.tensor3d(rng.normalArray(H * W * C), [H, W, C]);
  const gs = tf
    .grad((v: tf.Tensor) => tf.sum(tf.mul(scatterVaryingOp(v as tf.Tensor3D, plan), r)))(x)
    .dataSync();
  const gg = tf
    .grad((v: tf.Tensor) => tf.sum(tf.mul(gatherVaryingOp(v as tf.Tensor3D, plan), r)))(x)
    .dataSync();
  const rData = r.dataSync() as Float32Array;
  const expectS = gatherVarying(rData, C, plan);
  const expectG = scatterVarying(rData, C, plan);
  for (let i = 0; i < gs.length; i++) {
    t.true(Math.abs(gs[i] - expectS[i]) < 1e-5);
    t.true(Math.abs(gg[i] - expectG[i]) < 1e-5);
  }
  tf.dispose([x, r]);
});

test.serial('the tf ops leak nothing, forward or backward', async (t) => {
  const plan = randomPlan(4);
  const x = tf.ones([H, W, C]) as tf.Tensor3D;
  t.is(await leakedTensors(() => scatterVaryingOp(x, plan).dispose()), 0);
  t.is(
    await leakedTensors(() =>
      tf.tidy(() => {
        tf.grad((v: tf.Tensor) => tf.sum(gatherVaryingOp(v as tf.Tensor3D, plan)))(x);
      }),
    ),
    0,
  );
  x.dispose();
});
