import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { createUNet } from '../../diffusion/models/load.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { MICRO, priorConfigs } from '../../experiments/training/model-configs.ts';
import { unetForwardPerSample } from '../../experiments/training/unet-timesteps.ts';

test.before(async () => {
  await setupEngine();
});

test('per-sample timesteps: each batch row equals a forward at its own timestep', (t) => {
  const cfg = priorConfigs(MICRO);
  const unet = createUNet(cfg.unet, 3);
  const x = tf.randomNormal([3, 8, 8, 8], 0, 1, 'float32', 1);
  const ctx = tf.randomNormal([3, 2, MICRO.crossDim], 0, 1, 'float32', 2);
  const ts = [999, 10, 500];
  const mixed = unetForwardPerSample(unet, tfjsOps, x, ts, ctx);
  ts.forEach((ti, k) => {
    const single = unet.forward(tfjsOps, tf.slice(x, [k], [1]), ti, tf.slice(ctx, [k], [1]));
    const diff = tf.max(tf.abs(tf.sub(tf.slice(mixed, [k], [1]), single))).dataSync()[0]!;
    t.true(diff < 1e-5, `row ${k} (t = ${ti}): ${diff}`);
  });
  // A plain number still means one timestep for the whole batch.
  const same = unet.forward(tfjsOps, x, 999, ctx);
  const viaList = unetForwardPerSample(unet, tfjsOps, x, [999, 999, 999], ctx);
  t.is(tf.max(tf.abs(tf.sub(same, viaList))).dataSync()[0], 0);
  unet.dispose();
});
