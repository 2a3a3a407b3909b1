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

// The update as the trainer did it before the host Adam (sessions 1-18): the clipped gradient copied, tensor Adam,
// the weights read back for the EMA; on a second copy of the network, from the same flat gradient.
const twin = createUNet(cfg.unet, 1, { trainable: true });
const params = twin.parameters().filter((p) => p.trainable);
const adam = new Adam(params.map((p) => ({ name: p.name, lr: 1e-3 })));
const ema = params.map((p) => (tfjsOps.param(p).dataSync() as Float32Array).slice());
const flat = rng.normalArray(trainer.size);
const tensorSteps: number[] = [];
for (let i = 0; i < steps + 2; i++) {
  const t0 = performance.now();
  let sq = 0;
  for (let k = 0; k < flat.length; k++) sq += flat[k]! * flat[k]!;
  const scale = Math.sqrt(sq) > 1 ? 1 / Math.sqrt(sq) : 1;
  const pMap: Record<string, tf.Tensor> = {};
  const gMap: Record<string, tf.Tensor> = {};
  let offset = 0;
  for (const p of params) {
    pMap[p.name] = tfjsOps.param(p) as tf.Tensor;
    const g = flat.subarray(offset, offset + p.size);
    gMap[p.name] = tf.tensor(scale === 1 ? g : g.map((v) => v * scale), [...p.shape]);
    offset += p.size;
  }
  const next = adam.step(pMap, gMap, 1);
  const d = Math.min(0.999, (1 + adam.stepCount) / (10 + adam.stepCount));
  params.forEach((p, k) => {
    const v = tfjsOps.param(p) as tf.Variable;
    v.assign(next[p.name]!);
    next[p.name]!.dispose();
    gMap[p.name]!.dispose();
    const w = v.dataSync() as Float32Array;
    const e = ema[k]!;
    for (let q = 0; q < e.length; q++) e[q] = d * e[q]! + (1 - d) * w[q]!;
  });
  if (i >= 2) tensorSteps.push(performance.now() - t0);
}
adam.dispose();
twin.dispose();
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
process.stdout.write(
  `stage B step, one worker's share (8 x 16x16 latents, ${trainer.size} weights, mean of ${steps}): gradient ${fmt(mean(grads))}, ` +
    `update (clip, Adam, EMA) ${fmt(mean(updates))} with the host Adam, ${fmt(mean(tensorSteps))} the way it was done with the tensor Adam\n`,
);
