import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { tryBasins } from '../../optimizers/basin-trials.ts';
import { FreeMapping } from '../../optimizers/mappings/index.ts';

test.before(async () => {
  await setupEngine();
});

// A loss over the free mapping's scale and shift with two bowls: a shallow one whose start looks better
// (loss 0.30 at (1.2, 0.5)) but whose floor is 0.25 at (1, 0.5), and a steep one whose start looks worse
// (loss 0.35 at (2.6, 2.2)) but whose floor is 0 at (2, 2).
function twoBowls(mapping: FreeMapping) {
  return (params: tf.Tensor1D): tf.Scalar =>
    tf.tidy(() => {
      const depth = mapping.apply(tf.tensor2d([0, 1], [1, 2]), params); // [shift, shift + scale]
      const [near, far] = tf.split(tf.reshape(depth, [2]), 2);
      const bowl = (n: number, f: number, floor: number, k: number) =>
        tf.add(floor, tf.mul(k, tf.add(tf.square(tf.sub(near, n)), tf.square(tf.sub(far, f)))));
      return tf.sum(tf.minimum(bowl(0.5, 1.5, 0.25, 1.25), bowl(2, 4, 0, 0.35 / 0.68))) as tf.Scalar;
    });
}

test('tryBasins: a few Adam steps let the deeper basin win although its start scored worse; no leaks', (t) => {
  const mapping = new FreeMapping();
  const loss = twoBowls(mapping);
  const starts = [
    { scale: 1.2, shift: 0.5, loss: 0.3 },
    { scale: 2.6, shift: 2.2, loss: 0.35 },
  ];
  const before = tf.memory().numTensors;
  // Scored as they are (0 steps): the starts' own order.
  const asIs = tryBasins(starts, { mapping, loss, iterations: 0, lr: 0.05 });
  t.is(asIs[0].start, starts[0]);
  t.true(Math.abs(asIs[0].loss - 0.3) < 1e-4 && Math.abs(asIs[1].loss - 0.35) < 1e-4, `${asIs.map((x) => x.loss)}`);
  // After 150 steps each trial sits near its floor: the steep basin (floor 0) comes first.
  const run = () => tryBasins(starts, { mapping, loss, iterations: 150, lr: 0.05 });
  const trials = run();
  t.is(trials[0].start, starts[1]);
  t.true(trials[0].loss < 0.02, `${trials[0].loss}`);
  t.true(Math.abs(trials[0].shift - 2) < 0.15 && Math.abs(trials[0].shift + trials[0].scale - 4) < 0.15, JSON.stringify(trials[0]));
  t.true(Math.abs(trials[1].loss - 0.25) < 0.02, `${trials[1].loss}`);
  // Deterministic.
  t.deepEqual(run(), trials);
  t.is(tf.memory().numTensors, before);
  t.throws(() => tryBasins([], { mapping, loss, iterations: 1, lr: 0.1 }), { message: /no basins to try/ });
  t.throws(() => tryBasins(starts, { mapping, loss, iterations: -1, lr: 0.1 }), { message: /non-negative integer, got -1/ });
});
