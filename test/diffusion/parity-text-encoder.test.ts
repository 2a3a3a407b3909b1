import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { FIXTURES, fixture, relL2, maxAbsDiff } from '../helpers/npy-fixture.ts';
import { loadTextEncoder, tfjsOps } from '../../diffusion/models/index.ts';

const SETS = ['marigold-test', 'sd2-tiny'] as const;

test.before(async () => {
  await setupEngine();
});

for (const set of SETS) {
  test.serial(`${set}: text encoder last_hidden_state matches diffusers`, async (t) => {
    const enc = await loadTextEncoder(`${FIXTURES}/${set}/checkpoint/text_encoder`);
    try {
      const ids = Array.from(fixture(`${set}/arrays/text_encoder/input_ids.npy`).data);
      const want = fixture(`${set}/arrays/text_encoder/last_hidden_state.npy`);
      const out = tf.tidy(() => enc.forward(tfjsOps, ids));
      t.deepEqual(out.shape, want.shape);
      const got = out.dataSync();
      out.dispose();
      const rel = relL2(got, want.data);
      t.log(`${set} text_encoder last_hidden_state: relL2 ${rel.toExponential(2)}, max|d| ${maxAbsDiff(got, want.data).toExponential(2)}`);
      t.true(rel < 1e-4, `relL2 ${rel}`);
      t.is(await leakedTensors(() => tf.tidy(() => enc.forward(tfjsOps, ids)).dispose()), 0);
    } finally {
      enc.dispose();
    }
  });
}
