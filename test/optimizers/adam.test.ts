import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { Adam } from '../../optimizers/adam.ts';
import { createSchedule } from '../../optimizers/schedules.ts';
import { PlateauStopper } from '../../optimizers/early-stopping.ts';
import { ApertureDepthError } from '../../core/errors.ts';

test('one step matches the Adam formula by hand', async (t) => {
  await setupEngine();
  const adam = new Adam([{ name: 'x', lr: 0.1 }]);
  const x = tf.tensor1d([1, -2]);
  const g = tf.tensor1d([0.5, -4]);
  const next = adam.step({ x }, { x: g });
  // step 1: m_hat = g, v_hat = g^2 -> x - lr * g / (|g| + eps) = x - 0.1 * sign(g)
  const v = next.x.dataSync();
  t.true(Math.abs(v[0] - 0.9) < 1e-6);
  t.true(Math.abs(v[1] - -1.9) < 1e-6);
  tf.dispose([x, g, next.x]);
  adam.dispose();
});

test.serial('matches tf.train.adam over 20 steps, each group with its own rate', async (t) => {
  await setupEngine();
  const target = tf.tensor1d([3, -1, 2]);
  const f = (p: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.sub(p, target)));
  const ref1 = tf.variable(tf.tensor1d([0, 0, 0]));
  const ref2 = tf.variable(tf.tensor1d([0, 0, 0]));
  const o1 = tf.train.adam(0.05, 0.9, 0.999, 1e-8);
  const o2 = tf.train.adam(0.2, 0.9, 0.999, 1e-8);
  let a = tf.tensor1d([0, 0, 0]);
  let b = tf.tensor1d([0, 0, 0]);
  const adam = new Adam([
    { name: 'a', lr: 0.05 },
    { name: 'b', lr: 0.2 },
  ]);
  for (let i = 0; i < 20; i++) {
    o1.minimize(() => f(ref1));
    o2.minimize(() => f(ref2));
  }
  const step = (): void => {
    const ga = tf.grad(f)(a);
    const gb = tf.grad(f)(b);
    const next = adam.step({ a, b }, { a: ga, b: gb });
    tf.dispose([a, b, ga, gb]);
    a = next.a as tf.Tensor1D;
    b = next.b as tf.Tensor1D;
  };
  step(); // creates the moments (state, not a leak)
  const leaked = await leakedTensors(() => {
    for (let i = 1; i < 20; i++) step();
  });
  t.is(leaked, 0);
  const close = (p: tf.Tensor, q: tf.Tensor): boolean =>
    tf.tidy(() => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]) < 1e-4;
  t.true(close(a, ref1));
  t.true(close(b, ref2));
  t.is(adam.stepCount, 20);
  adam.dispose();
  o1.dispose();
  o2.dispose();
});

test('state round trip continues bit-identically', async (t) => {
  await setupEngine();
  const g = tf.tensor1d([0.3, -0.7, 1.1]);
  const run = (adam: Adam, p: tf.Tensor, n: number): tf.Tensor => {
    for (let i = 0; i < n; i++) {
      const next = adam.step({ p }, { p: tf.tidy(() => tf.mul(g, i + 1)) }).p;
      p.dispose();
      p = next;
    }
    return p;
  };
  const a = new Adam([{ name: 'p', lr: 0.01 }]);
  const full = run(a, tf.tensor1d([1, 2, 3]), 6);
  const b = new Adam([{ name: 'p', lr: 0.01 }]);
  const half = run(b, tf.tensor1d([1, 2, 3]), 3);
  const c = new Adam([{ name: 'p', lr: 0.01 }]);
  c.setState(b.getState());
  // the gradient sequence depends on i, so continue with the same i offsets
  let p = half;
  for (let i = 3; i < 6; i++) {
    const next = c.step({ p }, { p: tf.tidy(() => tf.mul(g, i + 1)) }).p;
    p.dispose();
    p = next;
  }
  t.deepEqual(Array.from(p.dataSync()), Array.from(full.dataSync()));
  tf.dispose([p, full, g]);
  [a, b, c].forEach((x) => x.dispose());
});

test('bad groups are rejected by name', (t) => {
  t.throws(() => new Adam([{ name: 'z', lr: -1 }]), { instanceOf: ApertureDepthError, message: /lr\.z/ });
  t.throws(
    () =>
      new Adam([
        { name: 'z', lr: 1 },
        { name: 'z', lr: 1 },
      ]),
    { instanceOf: ApertureDepthError, message: /duplicate/ },
  );
});

test('schedules', (t) => {
  t.is(createSchedule({ kind: 'constant' })(50, 100), 1);
  const cos = createSchedule({ kind: 'cosine', minFactor: 0.1 });
  t.is(cos(0, 100), 1);
  t.true(Math.abs(cos(50, 100) - 0.55) < 1e-12);
  t.true(Math.abs(cos(100, 100) - 0.1) < 1e-12);
  const warm = createSchedule({ kind: 'cosine', warmup: 4 });
  t.is(warm(0, 100), 0.25);
  const step = createSchedule({ kind: 'step', every: 10, gamma: 0.5 });
  t.is(step(9, 100), 1);
  t.is(step(25, 100), 0.25);
  t.throws(() => createSchedule({ kind: 'nope' } as never), { instanceOf: ApertureDepthError });
});

test('plateau stopper stops after patience without progress and restores its state', (t) => {
  const s = new PlateauStopper({ patience: 3, minRelDelta: 0.01 });
  t.false(s.update(1));
  t.false(s.update(0.5));
  t.false(s.update(0.499));
  t.false(s.update(0.498));
  const saved = JSON.parse(JSON.stringify(s.state()));
  t.true(s.update(0.497));
  const r = new PlateauStopper({ patience: 3, minRelDelta: 0.01 });
  r.setState(saved);
  t.true(r.update(0.497));
});
