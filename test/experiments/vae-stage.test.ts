import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { randomSceneDataset } from '../helpers/random-scenes.ts';
import { checkGradient } from '../helpers/check-gradient.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { createVae } from '../../diffusion/models/load.ts';
import { MICRO, TINY, TINY_GN, priorConfigs } from '../../experiments/training/model-configs.ts';
import { chromaL1, drawVaeItems, vaeItemsLoss, type VaeStageSettings } from '../../experiments/training/stages/vae-stage.ts';

test.before(async () => {
  await setupEngine();
});

test('chromaL1: 0 for a grey error, the mean |error - channel mean| by hand, per pixel and pooled to cells', (t) => {
  const before = tf.memory().numTensors;
  const grey = tf.tensor4d([0.5, 0.5, 0.5, -2, -2, -2], [1, 1, 2, 3]);
  const g = chromaL1(grey);
  t.true(Math.abs(g.dataSync()[0]!) < 1e-7);
  // [1, 2, 3] - 2 = [-1, 0, 1] -> 2/3; [0, 0, 3] - 1 = [-1, -1, 2] -> 4/3; mean over the 6 values = 1.
  const colour = tf.tensor4d([1, 2, 3, 0, 0, 3], [1, 1, 2, 3]);
  const c = chromaL1(colour);
  t.true(Math.abs(c.dataSync()[0]! - 1) < 1e-6, `${c.dataSync()[0]}`);
  // A 2x2 cell of red and cyan errors in a checker: they cancel to grey in the cell mean, so the term pooled
  // to the cell is 0 while the per-pixel one is not.
  const checker = tf.tensor4d([1, -1, -1, -1, 1, 1, -1, 1, 1, 1, -1, -1], [1, 2, 2, 3]);
  const [perPixel, pooled] = [chromaL1(checker), chromaL1(checker, 2)];
  t.true(Math.abs(perPixel.dataSync()[0]! - 8 / 9) < 1e-6); // [1, -1, -1] + 1/3 = [4/3, -2/3, -2/3]
  t.true(Math.abs(pooled.dataSync()[0]!) < 1e-7);
  // A uniform colour error survives pooling unchanged.
  const uniform = tf.tensor4d(Array.from({ length: 4 }, () => [1, 2, 3]).flat(), [1, 2, 2, 3]);
  const u = chromaL1(uniform, 2);
  t.true(Math.abs(u.dataSync()[0]! - 2 / 3) < 1e-6);
  tf.dispose([grey, g, colour, c, checker, perPixel, pooled, uniform, u]);
  t.is(tf.memory().numTensors, before);
});

test('chromaL1 pooled: its gradient matches central finite differences', (t) => {
  const rng = new Rng(11);
  const x0 = rng.normalArray(4 * 4 * 3);
  const f = (x: tf.Tensor) => chromaL1(x as tf.Tensor4D, 2);
  const before = tf.memory().numTensors;
  const grad = checkGradient(t, f, x0, [1, 4, 4, 3], 1e-3, 2e-3);
  t.true(grad.some((g) => Math.abs(g) > 1e-3));
  t.is(tf.memory().numTensors, before);
});

test('vaeItemsLoss: chromaWeight w adds exactly w x l1_chroma and leaves the other terms as they were', (t) => {
  const [w, h, n] = [8, 8, 3];
  const ds = randomSceneDataset(3, w, h, n);
  const vae = createVae(priorConfigs(MICRO).vae, 0, { trainable: true });
  const before = tf.memory().numTensors;
  const base: VaeStageSettings = { steps: 1, batch: 2, crop: 4, lr: 1e-3, klWeight: 0.01, depthWeight: 2 };
  const items = drawVaeItems(new Rng(9), ds, base, 4, 2);
  const read = (s: VaeStageSettings) =>
    tf.tidy(() => {
      const { loss, parts } = vaeItemsLoss(vae, ds, s, items)();
      return { loss: loss.dataSync()[0]!, parts: Object.fromEntries(Object.entries(parts ?? {}).map(([k, v]) => [k, v.dataSync()[0]!])) };
    });
  const off = read(base);
  const on = read({ ...base, chromaWeight: 3 });
  t.false('l1_chroma' in off.parts);
  const { l1_rgb, l1_depth, kl, l1_chroma } = on.parts as Record<string, number>;
  t.true(l1_chroma! > 0.01 && l1_chroma! < l1_rgb! * 2, `chroma ${l1_chroma} rgb ${l1_rgb}`);
  t.true(Math.abs(l1_rgb! - off.parts.l1_rgb!) < 1e-6 && Math.abs(l1_depth! - off.parts.l1_depth!) < 1e-6 && Math.abs(kl! - off.parts.kl!) < 1e-6);
  t.true(Math.abs(off.loss - (l1_rgb! + 2 * l1_depth! + 0.01 * kl!)) < 1e-5);
  t.true(Math.abs(on.loss - off.loss - 3 * l1_chroma!) < 1e-5, `${on.loss} - ${off.loss} vs 3 x ${l1_chroma}`);
  t.is(tf.memory().numTensors, before);
  vae.dispose();
});

test('preset tiny-gn: the tiny VAE with 4 GroupNorm groups (4-16 channels each, not 1-4); same parameters, same UNet', (t) => {
  const [tiny, gn] = [priorConfigs(TINY, 0.5), priorConfigs(TINY_GN, 0.5)];
  t.is(tiny.vae.norm_num_groups, 16);
  t.is(gn.vae.norm_num_groups, 4);
  t.deepEqual(gn.unet, tiny.unet);
  t.deepEqual({ ...gn.vae, norm_num_groups: 16 }, tiny.vae);
  const before = tf.memory().numTensors;
  const vae = createVae(gn.vae, 0);
  t.is(vae.parameters().reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0), 681911);
  vae.dispose();
  t.is(tf.memory().numTensors, before);
});
