import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import {
  BoundedMapping,
  FreeMapping,
  candidateDepths,
  createMapping,
  gridSearchScaleShift,
} from '../../optimizers/mappings/index.ts';
import { ApertureDepthError } from '../../core/errors.ts';

test.before(async () => {
  await setupEngine();
});

test('bounded mapping: paper start and eq. 9', (t) => {
  const m = new BoundedMapping();
  t.deepEqual(m.scaleShift(m.initialParams()), { scale: 1.75, shift: 0.745 });
  const d = m.apply(tf.tensor2d([0, 1], [1, 2]), tf.tensor1d([0, 0]));
  const v = d.dataSync();
  t.true(Math.abs(v[0] - 0.745) < 1e-6 && Math.abs(v[1] - 2.495) < 1e-6);
  const p = m.paramsFor({ scale: 2, shift: 1 });
  const ss = m.scaleShift(p);
  t.true(Math.abs(ss.scale - 2) < 1e-5 && Math.abs(ss.shift - 1) < 1e-5);
  // out of bounds: clamped just inside
  t.true(m.scaleShift(m.paramsFor({ scale: 10, shift: 1 })).scale < 3.5);
});

test('free mapping: any positive scale and shift, exactly', (t) => {
  const m = createMapping('free');
  const p = m.paramsFor({ scale: 25, shift: 0.3 });
  const d = m.apply(tf.tensor2d([0, 0.5, 1], [1, 3]), tf.tensor1d(p)).dataSync();
  t.true(Math.abs(d[0] - 0.3) < 1e-5 && Math.abs(d[1] - 12.8) < 1e-4 && Math.abs(d[2] - 25.3) < 1e-4);
  t.true(new FreeMapping().scaleShift(new FreeMapping().initialParams()).scale === 1);
  t.throws(() => createMapping('nope' as never), {
    instanceOf: ApertureDepthError,
    message: /free, bounded/,
  });
});

test('mappings are differentiable in their parameters', (t) => {
  const rel = tf.tensor2d([0, 0.5, 1], [1, 3]);
  for (const m of [new BoundedMapping(), new FreeMapping()]) {
    const g = tf.grad((p: tf.Tensor) => tf.sum(m.apply(rel, p as tf.Tensor1D)))(
      tf.tensor1d(m.initialParams()),
    );
    t.true(g.dataSync().every((x) => Number.isFinite(x) && x > 0));
  }
});

test('candidate depths cover both sides of the focus plane at the same blur', (t) => {
  // F = 2 m, c_inf = 8 px: blur 4 px at F/(1+0.5) = 1.333 m (near) and F/(1-0.5) = 4 m (far)
  const d = candidateDepths({ focusDistanceM: 2, focalLengthM: 0.05, cocAtInfinityPx: 8, levelsPx: [4] });
  t.deepEqual(
    d.map((x) => Number(x.toFixed(4))),
    [1.3333, 2, 4],
  );
  // a blur level beyond c_inf exists only in front of the focus plane (2 / 3 m); behind F the search then tries
  // blur at fractions of c_inf instead (2 / (1 - r) for r = 1/4, 1/2, 3/4, 9/10)
  t.deepEqual(
    candidateDepths({ focusDistanceM: 2, focalLengthM: 0.05, cocAtInfinityPx: 2, levelsPx: [4] }).map((x) => Number(x.toFixed(4))),
    [0.6667, 2, 2.6667, 4, 8, 20],
  );
});

test('candidate depths behind the focus plane when its blur at infinity is under the pixel levels', (t) => {
  // c_inf 0.8 px (a weak relative blur on the search image): of the default levels only 0.5 px fits behind F.
  const opts = { focusDistanceM: 2, focalLengthM: 0.05, cocAtInfinityPx: 0.8 };
  const behind = candidateDepths({ ...opts, side: 'behind' });
  // F, the 0.5 px level (2 / (1 - 0.625) = 5.33), and blur at 1/4, 1/2, 3/4, 9/10 of c_inf: 2 / (1 - r)
  t.deepEqual(
    behind.map((x) => Number(x.toFixed(4))),
    [2, 2.6667, 4, 5.3333, 8, 20],
  );
  t.notThrows(() => gridSearchScaleShift(({ shift }) => Math.abs(shift - 4), behind));
  // Enough levels behind F: no extra candidates (the default grid as before).
  t.deepEqual(
    candidateDepths({ ...opts, cocAtInfinityPx: 10, side: 'behind' }).map((x) => Number(x.toFixed(4))),
    [2, 2.1053, 2.2222, 2.5, 3.3333, 10],
  );
  // Both sides: every level in front of F (2 / (1 + c / 0.8)) and behind it the same candidates as above.
  t.deepEqual(
    candidateDepths({ ...opts, side: 'both' }).map((x) => Number(x.toFixed(4))),
    [0.0952, 0.1818, 0.3333, 0.5714, 0.8889, 1.2308, 2, 2.6667, 4, 5.3333, 8, 20],
  );
  // In front only: no fractions of c_inf (the blur in front of F is not bounded by it).
  t.deepEqual(
    candidateDepths({ ...opts, side: 'front' }).map((x) => Number(x.toFixed(4))),
    [0.0952, 0.1818, 0.3333, 0.5714, 0.8889, 1.2308, 2],
  );
});

test('grid search finds the minimum of a two-basin loss and refines it', (t) => {
  // a loss with a false basin (higher floor) at (near 1, far 1.5) and the true minimum at (near 3, far 6)
  const loss = ({ scale, shift }: { scale: number; shift: number }): number => {
    const far = shift + scale;
    const trueBasin = (Math.log(shift / 3) ** 2 + Math.log(far / 6) ** 2) * 1;
    const falseBasin = 0.5 + Math.log(shift / 1) ** 2 + Math.log(far / 1.5) ** 2;
    return Math.min(trueBasin, falseBasin);
  };
  const depths = candidateDepths({ focusDistanceM: 2, focalLengthM: 0.05, cocAtInfinityPx: 10 });
  const r = gridSearchScaleShift(loss, depths);
  t.true(Math.abs(r.shift - 3) / 3 < 0.1, `shift ${r.shift}`);
  t.true(Math.abs(r.shift + r.scale - 6) / 6 < 0.1, `far ${r.shift + r.scale}`);
  t.true(r.evaluated.length > depths.length);
  t.throws(() => gridSearchScaleShift(() => Number.NaN, depths), { instanceOf: ApertureDepthError });
});

test('grid search with basins: distinct refined starts, best first; basins 1 evaluates exactly as before', (t) => {
  // Three basins of different floors: (3, 6) floor 0, (1, 1.5) floor 0.5, (0.7, 12) floor 0.8.
  const loss = ({ scale, shift }: { scale: number; shift: number }): number => {
    const far = shift + scale;
    const bowl = (n: number, f: number, floor: number) => floor + Math.log(shift / n) ** 2 + Math.log(far / f) ** 2;
    return Math.min(bowl(3, 6, 0), bowl(1, 1.5, 0.5), bowl(0.7, 12, 0.8));
  };
  const depths = candidateDepths({ focusDistanceM: 2, focalLengthM: 0.05, cocAtInfinityPx: 10 });
  const one = gridSearchScaleShift(loss, depths);
  const dflt = gridSearchScaleShift(loss, depths, { basins: 1 });
  t.deepEqual(dflt.evaluated, one.evaluated);
  t.is(one.basins.length, 1);
  t.deepEqual(one.basins[0], { scale: one.scale, shift: one.shift, loss: one.loss });
  const three = gridSearchScaleShift(loss, depths, { basins: 3 });
  t.log(three.basins.map((b) => `near ${b.shift.toFixed(3)} far ${(b.shift + b.scale).toFixed(3)} loss ${b.loss.toFixed(4)}`).join('; '));
  t.is(three.basins.length, 3);
  // The best basin is at least as good as a single search's; the others are refined too, in loss order.
  t.true(three.basins[0].loss <= one.loss);
  t.true(Math.abs(three.basins[0].shift - 3) / 3 < 0.1 && Math.abs(three.basins[0].shift + three.basins[0].scale - 6) / 6 < 0.1);
  t.true(three.basins[0].loss <= three.basins[1].loss && three.basins[1].loss <= three.basins[2].loss);
  const far = (c: { scale: number; shift: number }) => c.shift + c.scale;
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const a = three.basins[i], b = three.basins[j];
      t.true(Math.abs(Math.log(a.shift / b.shift)) > 0.1 || Math.abs(Math.log(far(a) / far(b))) > 0.1, `${i} ${j}`);
    }
  }
  // The second basin's refinement reaches the (1, 1.5) bowl's floor.
  t.true(Math.abs(three.basins[1].loss - 0.5) < 0.02, `${three.basins[1].loss}`);
  t.true(three.evaluated.length > one.evaluated.length);
  t.throws(() => gridSearchScaleShift(loss, depths, { basins: 0 }), { message: /basins must be a positive integer, got 0/ });
});
