import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { setupEngine } from '../helpers/engine.ts';
import { randomSceneDataset } from '../helpers/random-scenes.ts';
import { checkGradient } from '../helpers/check-gradient.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { affineInvariantL1, drawE2EItems, e2eDepthLoss, e2eItemsLoss } from '../../experiments/training/stages/e2e-stage.ts';
import { createUNet, createVae } from '../../diffusion/models/load.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { MICRO, priorConfigs } from '../../experiments/training/model-configs.ts';
import { emptyPromptContext } from '../../experiments/training/stages/replica.ts';
import { ParamTrainer } from '../../experiments/training/trainer/param-trainer.ts';

test.before(async () => {
  await setupEngine();
});

test('affineInvariantL1: 0 for any per-row scale and shift of the target, the aligned L1 otherwise', (t) => {
  const target = [
    [0, 1, 2, 3],
    [-1, 0.5, 0.25, 2],
  ];
  const before = tf.memory().numTensors;
  const affine = tf.tensor2d(target.map((r, i) => r.map((v) => (i ? -0.5 : 3) * v + (i ? 7 : -2))));
  const tt = tf.tensor2d(target);
  const zero = affineInvariantL1(affine, tt);
  t.true(zero.dataSync()[0]! < 1e-5);
  // Row [0, 0, 0, 1] against [0, 1, 2, 3]: centred p = [-.25, -.25, -.25, .75], t = [-1.5, -.5, .5, 1.5];
  // scale = (p.t) / (p.p) = 1.5 / 0.75 = 2 -> aligned [-.5, -.5, -.5, 1.5]; |error| = [1, 0, 1, 0] -> mean 0.5.
  const [p1, t1] = [tf.tensor2d([[0, 0, 0, 1]]), tf.tensor2d([target[0]!])];
  const one = affineInvariantL1(p1, t1);
  t.true(Math.abs(one.dataSync()[0]! - 0.5) < 1e-5);
  tf.dispose([affine, tt, zero, p1, t1, one]);
  t.is(tf.memory().numTensors, before);
});

test('affineInvariantL1: its gradient in the prediction matches central finite differences', (t) => {
  const rng = new Rng(5);
  const p0 = rng.normalArray(12);
  const target = tf.tensor2d(rng.normalArray(12), [2, 6]);
  checkGradient(t, (p) => affineInvariantL1(p as tf.Tensor2D, target), p0, [2, 6], 1e-2, 2e-3);
  target.dispose();
});

test('e2eDepthLoss: 0 for an affine copy; adds the mean |x/y differences| of the aligned error, by hand', (t) => {
  const before = tf.memory().numTensors;
  // A 2x3 map, row-major [[0, 1, 2], [3, 4, 5]].
  const target = tf.tensor2d([[0, 1, 2, 3, 4, 5]]);
  const affine = tf.tensor2d([[1, -1, -3, -5, -7, -9]]); // 1 - 2 t
  const zero = e2eDepthLoss(affine, target, 2, 3, 2);
  t.true(zero.dataSync()[0]! < 1e-5);
  // Prediction [0, 0, 0, 0, 0, 1] vs target 0..5: centred p = (-1/6)*[1, 1, 1, 1, 1, -5], t = [-2.5 .. 2.5];
  // p.t = (1/6)(2.5 + 1.5 + 0.5 - 0.5 - 1.5 + 12.5) = 2.5, p.p = 30/36 -> scale 3 -> aligned p = -0.5*[1, 1, 1, 1, 1, -5];
  // error = [2, 1, 0, -1, -2, 0.0] (aligned - centred target): |e| mean = 1; x-differences [-1, -1, -1, 2]
  // -> mean 1.25; y-differences [-3, -3, 0] -> mean 2. Loss with weight 0.5: 1 + 0.5 * 3.25 = 2.625.
  const pred = tf.tensor2d([[0, 0, 0, 0, 0, 1]]);
  const l0 = e2eDepthLoss(pred, target, 2, 3, 0);
  const lw = e2eDepthLoss(pred, target, 2, 3, 0.5);
  t.true(Math.abs(l0.dataSync()[0]! - 1) < 1e-5, `${l0.dataSync()[0]}`);
  t.true(Math.abs(lw.dataSync()[0]! - 2.625) < 1e-5, `${lw.dataSync()[0]}`);
  // Weight 0 is the affine-invariant L1 itself.
  const ai = affineInvariantL1(pred, target);
  t.is(ai.dataSync()[0], l0.dataSync()[0]);
  t.throws(() => e2eDepthLoss(pred, target, 2, 3, -1), { message: /gradWeight must be >= 0/ });
  t.throws(() => e2eDepthLoss(pred, target, 3, 3, 1), { message: /6 values are not 3x3/ });
  tf.dispose([target, affine, zero, pred, l0, lw, ai]);
  t.is(tf.memory().numTensors, before);
});

test('e2eDepthLoss: its gradient in the prediction matches central finite differences (weight 0.7)', (t) => {
  const rng = new Rng(9);
  const p0 = rng.normalArray(24);
  const target = tf.tensor2d(rng.normalArray(24), [2, 12]);
  checkGradient(t, (p) => e2eDepthLoss(p as tf.Tensor2D, target, 3, 4, 0.7), p0, [2, 12], 1e-3, 3e-3);
  target.dispose();
});

test('e2eItemsLoss: one trainer step changes the UNet only; the loss is finite and the same for the same items', (t) => {
  const cfg = priorConfigs(MICRO, 0.5);
  const unet = createUNet(cfg.unet, 2, { trainable: true });
  const vae = createVae(cfg.vae, 1, { trainable: true });
  const context = emptyPromptContext(cfg.textEncoder, 3);
  const [w, h, n] = [12, 8, 3];
  const ds = randomSceneDataset(9, w, h, n);
  const items = drawE2EItems(new Rng(4), n, (w / 2) * (h / 2) * 4, 2);
  t.deepEqual(
    items.map((it) => it.noise.length),
    [96, 96],
  );
  const trainer = new ParamTrainer(unet.parameters(), { lr: 1e-2, clipNorm: 1 });
  const frozen = { vae, scalingFactor: 0.5, context };
  const snap = (ps: typeof vae.parameters extends () => infer R ? R : never) => ps.map((p) => Float32Array.from(tfjsOps.param(p).dataSync() as Float32Array));
  const vaeBefore = snap(vae.parameters());
  const unetBefore = snap(unet.parameters());
  const first = trainer.computeGrads(e2eItemsLoss(unet, frozen, ds, items));
  // Counted after the first pass (which creates the networks' lazily cached constants).
  const before = tf.memory().numTensors;
  const again = trainer.computeGrads(e2eItemsLoss(unet, frozen, ds, items));
  t.true(Number.isFinite(first.loss) && first.loss > 0);
  t.is(again.loss, first.loss);
  t.true(first.grads.some((g) => g !== 0));
  t.is(tf.memory().numTensors, before);
  trainer.applyGrads(first.grads);
  t.deepEqual(snap(vae.parameters()), vaeBefore);
  t.true(snap(unet.parameters()).some((v, i) => v.some((x, j) => x !== unetBefore[i]![j])));
  trainer.dispose();
  unet.dispose();
  vae.dispose();
  context.dispose();
});
