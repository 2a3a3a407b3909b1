/**
 * One training step of the embedded prior's stage B, as one worker of `train-prior` runs it (the tiny-gn UNet,
 * 8 items of 16x16 latents: half of the default batch of 16 over 2 workers): the gradient, then the update
 * (clipping, Adam, weight EMA) with the host Adam the trainer uses, against the tensor Adam it replaced
 * (`optimizers/adam.ts`, the same arithmetic in tfjs kernels: bit-identical results, see
 * test/optimizers/host-adam.test.ts).
 *
 *   npx tsx experiments/bench/train-step.ts [--steps 8]
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../core/engine/backend.ts';
import { createUNet } from '../../diffusion/models/load.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { noiseSchedule } from '../../diffusion/schedulers/noise-schedule.ts';
import { parseSchedulerConfig } from '../../diffusion/schedulers/scheduler-config.ts';
import { Adam } from '../../optimizers/adam.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { priorConfigs, TINY_GN } from '../training/model-configs.ts';
import { emptyPromptContext } from '../training/stages/replica.ts';
import { unetItemsLoss, type UNetItem } from '../training/stages/unet-stage.ts';
import { ParamTrainer } from '../training/trainer/param-trainer.ts';

const stepsArg = process.argv.indexOf('--steps');
const steps = stepsArg >= 0 ? Number(process.argv[stepsArg + 1]) : 8;
await initEngine('wasm');
const cfg = priorConfigs(TINY_GN, 0.32);
const unet = createUNet(cfg.unet, 1, { trainable: true });
const trainer = new ParamTrainer(unet.parameters(), { lr: 1e-3, clipNorm: 1, emaDecay: 0.999 });
const context = emptyPromptContext(cfg.textEncoder, 3);
const alphas = noiseSchedule(parseSchedulerConfig(cfg.scheduler, '<scheduler config>')).alphasCumprod;
const rng = new Rng(7);
const h = 16;
const per = h * h * 4;
const count = 64;
const set = { count, h, w: h, c: 4, rgb: rng.normalArray(count * per), depth: rng.normalArray(count * per) };
const items = (): UNetItem[] =>
  Array.from({ length: 8 }, (_, k) => ({
    item: k,
    t: k % 4 === 0 ? 300 + k : 999,
    noise: rng.normalArray(per),
  }));

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const grads: number[] = [];
const updates: number[] = [];
for (let i = 0; i < steps + 2; i++) {
  const t0 = performance.now();
  const g = trainer.computeGrads(unetItemsLoss(unet, set, alphas, context, items(), 1));
  const t1 = performance.now();
  trainer.applyGrads(g.grads, 1);
  const t2 = performance.now();
  if (i >= 2) {
    grads.push(t1 - t0);
    updates.push(t2 - t1);
  }
}

// The tensor Adam on the same parameters and a gradient of the same size (update only, no clipping or EMA).
const params = unet.parameters().filter((p) => p.trainable);
const adam = new Adam(params.map((p) => ({ name: p.name, lr: 1e-3 })));
const flat = rng.normalArray(trainer.size);
const tensorSteps: number[] = [];
for (let i = 0; i < steps + 2; i++) {
  const t0 = performance.now();
  const pMap: Record<string, tf.Tensor> = {};
  const gMap: Record<string, tf.Tensor> = {};
  let offset = 0;
  for (const p of params) {
    pMap[p.name] = tfjsOps.param(p) as tf.Tensor;
    gMap[p.name] = tf.tensor(flat.subarray(offset, offset + p.size), [...p.shape]);
    offset += p.size;
  }
  const next = adam.step(pMap, gMap, 1);
  params.forEach((p) => {
    (tfjsOps.param(p) as tf.Variable).assign(next[p.name]!);
    next[p.name]!.dispose();
    gMap[p.name]!.dispose();
  });
  if (i >= 2) tensorSteps.push(performance.now() - t0);
}
adam.dispose();
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
process.stdout.write(
  `stage B step, one worker's share (8 x 16x16 latents, ${trainer.size} weights, mean of ${steps}): gradient ${fmt(mean(grads))}, ` +
    `update ${fmt(mean(updates))} (host Adam + clip + EMA); the tensor Adam's update alone ${fmt(mean(tensorSteps))}\n`,
);
