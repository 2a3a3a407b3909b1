import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { createUNet, createVae } from '../../diffusion/models/load.ts';
import { SMALL, TINY, priorConfigs } from '../../experiments/training/model-configs.ts';

test.before(async () => {
  await setupEngine();
});

function parameterCount(net: { parameters(): readonly { shape: readonly number[] }[] }): number {
  return net.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

test('presets: tiny and small share the VAE; small is the 1.5x wider UNet; both fit the 25 MB cap in fp16', (t) => {
  const before = tf.memory().numTensors;
  const tiny = priorConfigs(TINY, 0.5);
  const small = priorConfigs(SMALL, 0.5);
  t.deepEqual(small.vae, tiny.vae);
  t.deepEqual(small.unet.block_out_channels, [48, 96, 192]);
  const vae = createVae(tiny.vae, 0);
  const [unetTiny, unetSmall] = [createUNet(tiny.unet, 0), createUNet(small.unet, 0)];
  const [v, ut, us] = [parameterCount(vae), parameterCount(unetTiny), parameterCount(unetSmall)];
  // The counts the training logs print (train-prior's "[vae] ... parameters" and "[unet] ... parameters").
  t.is(v, 681911);
  t.is(ut, 3826852);
  t.is(us, 8568820);
  t.true(ut / 1e6 > 2 && us / ut > 2 && us / ut < 2.5);
  // Exported in fp16 (2 bytes per weight) the small model stays under the 25 MB for the whole folder.
  t.true(2 * (v + us) < 20e6, `${2 * (v + us)} bytes`);
  vae.dispose();
  unetTiny.dispose();
  unetSmall.dispose();
  t.is(tf.memory().numTensors, before);
});
