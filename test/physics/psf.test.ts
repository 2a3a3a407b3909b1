import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError } from '../../core/errors.ts';
import {
  discPsfWeight,
  discPsfWeightTensor,
  GAUSSIAN_SIGMA_PER_COC,
  gaussianPsfWeight,
  gaussianPsfWeightTensor,
  psfKernel,
  psfKernelTensor,
  psfRadiusPx,
} from '../../physics/psf.ts';
import { levelKernel } from '../../physics/renderers/kernel-bank.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';

test.before(async () => {
  await setupEngine();
});

test('disc weight follows eqs. 3-5 case by case', (t) => {
  // c = 5: inside m <= 2 -> 1; fall-off 2 < m <= 3 -> 3 - m; beyond -> 0.
  t.is(discPsfWeight(0, 5), 1);
  t.is(discPsfWeight(2, 5), 1);
  t.true(Math.abs(discPsfWeight(2.5, 5) - 0.5) < 1e-12);
  t.true(Math.abs(discPsfWeight(Math.SQRT2 * 2, 5) - (3 - 2 * Math.SQRT2)) < 1e-12);
  t.is(discPsfWeight(3, 5), 0);
  t.is(discPsfWeight(4, 5), 0);
});

test('kernels sum to 1, are point-symmetric, and have the documented radius', (t) => {
  for (const kind of ['disc', 'gaussian'] as const) {
    for (const c of [0, 0.5, 1, 1.7, 2, 5, 12.3]) {
      const k = psfKernel(kind, c);
      t.is(k.size, 2 * k.radius + 1);
      t.is(k.radius, psfRadiusPx(kind, c));
      let s = 0;
      for (const v of k.data) s += v;
      t.true(Math.abs(s - 1) < 1e-5, `${kind} c=${c} sum ${s}`);
      for (let i = 0; i < k.data.length; i++) t.is(k.data[i], k.data[k.data.length - 1 - i]);
    }
  }
  // The disc's outermost ring of the square is not all zero (the radius is tight).
  const k = psfKernel('disc', 7);
  t.is(k.radius, 3);
  t.true(k.data[k.radius] > 0); // (dx, dy) = (0, -3): m = 3 < (7 + 1) / 2
});

test('CoC below one pixel is the identity (a delta kernel) for both PSFs', (t) => {
  for (const c of [0, 0.3, 1]) {
    t.deepEqual(Array.from(psfKernel('disc', c).data), [1]);
    t.deepEqual(Array.from(psfKernel('gaussian', c * 0.3).data), [1]);
  }
});

test('disc kernel at c = 2 matches the worked 3x3', (t) => {
  // W: centre 1, edges 1.5 - 1 = 0.5, corners 1.5 - sqrt 2 = 0.0858; sum 3.3431.
  const k = psfKernel('disc', 2).data;
  const s = 1 + 4 * 0.5 + 4 * (1.5 - Math.SQRT2);
  t.true(Math.abs(k[4] - 1 / s) < 1e-6);
  t.true(Math.abs(k[1] - 0.5 / s) < 1e-6);
  t.true(Math.abs(k[0] - (1.5 - Math.SQRT2) / s) < 1e-6);
});

test('the Gaussian has sigma = c / 4: its second moment matches the disc', (t) => {
  t.is(GAUSSIAN_SIGMA_PER_COC, 0.25);
  const moment = (kind: 'disc' | 'gaussian', c: number): number => {
    const k = psfKernel(kind, c);
    let m2 = 0;
    for (let dy = -k.radius; dy <= k.radius; dy++) {
      for (let dx = -k.radius; dx <= k.radius; dx++)
        m2 += dx * dx * k.data[(dy + k.radius) * k.size + dx + k.radius];
    }
    return m2;
  };
  // Per-axis variance: uniform disc of radius R = c / 2 has R^2 / 4; the 1-px fall-off adds a little.
  // Truncating the Gaussian at 3 sigma keeps 98.9 % of its mass and lowers its variance by about 5 %.
  for (const c of [8, 16]) {
    const g = moment('gaussian', c);
    t.true(Math.abs(g - (c / 4) ** 2) / (c / 4) ** 2 < 0.06, `gaussian c=${c}: ${g}`);
    t.true(Math.abs(moment('disc', c) - g) / g < 0.1, `disc vs gaussian c=${c}`);
  }
});

test('run/tap form of the bank reproduces the dense kernel', (t) => {
  for (const kind of ['disc', 'gaussian'] as const) {
    for (const c of [0, 1.5, 4, 9.75, 20]) {
      const dense = psfKernel(kind, c);
      const lk = levelKernel(kind, c);
      const rebuilt = new Float64Array(dense.size * dense.size);
      const at = (dx: number, dy: number): number => (dy + dense.radius) * dense.size + dx + dense.radius;
      for (let r = 0; r < lk.runDy.length; r++) {
        for (let dx = lk.runX0[r]; dx <= lk.runX1[r]; dx++) rebuilt[at(dx, lk.runDy[r])] += lk.runV[r];
      }
      for (let q = 0; q < lk.tapDy.length; q++) rebuilt[at(lk.tapDx[q], lk.tapDy[q])] += lk.tapV[q];
      let worst = 0;
      for (let i = 0; i < rebuilt.length; i++) worst = Math.max(worst, Math.abs(rebuilt[i] - dense.data[i]));
      t.true(worst < 1e-7, `${kind} c=${c}: ${worst}`);
      if (kind === 'disc' && c >= 9) t.true(lk.runDy.length > 0, 'a large disc uses runs');
    }
  }
});

test('tensor weights match the scalar weights and are differentiable in c', (t) => {
  const ms = [0, 0.5, 1, 1.9, 2.2, 2.9, 3.5];
  const c = 5;
  const m = tf.tensor1d(ms);
  const ct = tf.scalar(c);
  const disc = discPsfWeightTensor(m, ct).dataSync();
  const gauss = gaussianPsfWeightTensor(m, ct).dataSync();
  ms.forEach((mv, i) => {
    t.true(Math.abs(disc[i] - discPsfWeight(mv, c)) < 1e-6);
    t.true(Math.abs(gauss[i] - gaussianPsfWeight(mv, c)) < 1e-6);
  });
  // d W / d c = 1/2 on the fall-off ring (2 < m < 3), 0 elsewhere.
  const g = tf
    .grad((cc: tf.Tensor) => tf.sum(discPsfWeightTensor(m, cc)))(ct)
    .dataSync()[0];
  t.true(Math.abs(g - 0.5 * 2) < 1e-6, `${g}`); // m = 2.2 and 2.9
  tf.dispose([m, ct]);
});

test.serial('kernel tensors have the right shape and leak nothing', async (t) => {
  const k = psfKernelTensor('disc', 6);
  t.deepEqual(k.shape, [7, 7]);
  k.dispose();
  t.is(await leakedTensors(() => psfKernelTensor('gaussian', 3).dispose()), 0);
  const m = tf.tensor1d([0, 1]);
  const c = tf.scalar(2);
  t.is(await leakedTensors(() => discPsfWeightTensor(m, c).dispose()), 0);
  t.is(await leakedTensors(() => gaussianPsfWeightTensor(m, c).dispose()), 0);
  tf.dispose([m, c]);
});

test('bad PSF kind and CoC are errors', (t) => {
  t.is(t.throws(() => psfKernel('box' as never, 3), { instanceOf: ApertureDepthError })!.key, 'psf');
  t.is(t.throws(() => psfKernel('disc', -1), { instanceOf: ApertureDepthError })!.key, 'cocPx');
  t.is(t.throws(() => psfKernel('disc', Number.NaN), { instanceOf: ApertureDepthError })!.key, 'cocPx');
});
