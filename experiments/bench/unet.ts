/**
 * UNet forward and forward + input-gradient timing, with GFLOP/s from an analytic FLOP count
 * (conv / linear / matMul only).
 *
 *   npx tsx experiments/bench/unet.ts --model sd2-tiny --backend wasm --latent 32x24 --reps 3
 *   npx tsx experiments/bench/unet.ts --model marigold --backend cpu --latent 32x24 --reps 1
 *
 * `--model sd2-tiny` loads the fixture checkpoint; `--model marigold` builds the real Marigold (SD2) UNet
 * config (experiments/bench/configs/marigold-depth-v1-0-unet.json) with seeded random weights;
 * `--model marigold-quarter` the same topology with a quarter of the channels.
 * `--grad-method transpose` uses tfjs conv2dTranspose for conv input gradients instead of the default
 * flipped-kernel conv; `--no-cache` re-derives flipped / transposed weights on every backward pass.
 * `--reps 0` times the first call only (for the full model on the slow cpu backend).
 * Every output line starts with the command that produced it.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackend } from '../../core/engine/backend.ts';
import { countingOps } from '../../diffusion/ops/flop-counting-ops.ts';
import { setConvInputGradMethod } from '../../diffusion/ops/grad/conv2d.ts';
import { setDerivedWeightCache } from '../../diffusion/ops/grad/weight-cache.ts';
import { createUNet, loadUNet, tfjsOps, type UNet2DConditionModel } from '../../diffusion/models/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const cmd = `npx tsx experiments/bench/unet.ts ${process.argv.slice(2).join(' ')}`.trim();
const say = (line: string) => console.log(`[${cmd}] ${line}`);

const model = arg('model', 'sd2-tiny');
const backend = parseBackend(arg('backend', 'wasm'), '--backend');
const [lh, lw] = arg('latent', model === 'sd2-tiny' ? '8x6' : '32x24').split('x').map(Number) as [number, number];
const reps = Number(arg('reps', '3'));
const gradMethod = arg('grad-method', 'flipped-conv') as 'flipped-conv' | 'transpose';
const skipGrad = flag('no-grad');
setConvInputGradMethod(gradMethod);
if (flag('no-cache')) setDerivedWeightCache(false);

await initEngine(backend);
const t0 = performance.now();
let unet: UNet2DConditionModel;
if (model === 'sd2-tiny') {
  unet = await loadUNet('test/data/diffusers-tiny/sd2-tiny/checkpoint/unet');
} else if (model === 'marigold' || model === 'marigold-quarter') {
  const raw = JSON.parse(fs.readFileSync('experiments/bench/configs/marigold-depth-v1-0-unet.json', 'utf8'));
  if (model === 'marigold-quarter') {
    // Same topology, a quarter of the channels (1/16 of the weights): fits wasm's 4 GiB with XNNPACK packing.
    raw.block_out_channels = raw.block_out_channels.map((ch: number) => ch / 4);
    raw.norm_num_groups = 16;
  }
  unet = createUNet(raw, 0);
} else {
  throw new Error(`--model must be sd2-tiny, marigold or marigold-quarter, got ${model}`);
}
const c = unet.config;
say(
  `model=${model} backend=${backend} params=${(unet.parameterCount() / 1e6).toFixed(1)}M ` +
    `(${((unet.parameterCount() * 4) / 2 ** 30).toFixed(2)} GiB fp32) built in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
    `latent ${lh}x${lw}, grad-method ${gradMethod}, weight-derivative cache ${flag('no-cache') ? 'off' : 'on'}`,
);

const sample = tf.randomNormal([1, lh, lw, c.in_channels], 0, 1, 'float32', 1);
const ehs = tf.randomNormal([1, 2, c.cross_attention_dim[0]!], 0, 1, 'float32', 2);
const W = tf.randomNormal([1, lh, lw, c.out_channels], 0, 1, 'float32', 3);
const counter = countingOps(tfjsOps);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Runs `fn` 1 + reps times (the first with the FLOP-counting executor); returns the timed runs. */
/** CPU milliseconds of this process per timed run (the machine may be shared: wall time overstates). */
const cpuMs: Record<string, number[]> = {};
function time(label: string, fn: (ops: typeof tfjsOps) => tf.Tensor): number[] {
  const ms: number[] = [];
  cpuMs[label] = [];
  for (let i = 0; i <= Math.max(reps, 0); i++) {
    const s = performance.now();
    const c0 = process.cpuUsage();
    const out = tf.tidy(() => fn(i === 0 ? counter.ops : tfjsOps));
    out.dataSync();
    out.dispose();
    const dt = performance.now() - s;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000;
    if (i === 0) say(`${label}: first call (operator setup, kernel caches) ${dt.toFixed(0)} ms (cpu ${cpu.toFixed(0)} ms)`);
    if (i > 0 || reps === 0) {
      ms.push(dt);
      cpuMs[label]!.push(cpu);
    }
  }
  return ms;
}

// Forward.
counter.reset();
const fwd = time('forward', (ops) => unet.forward(ops, sample, 999, ehs));
const { forward: fwdFlops, inputGrad: gradFlops } = { ...counter.count };
const fwdMs = median(fwd);
say(
  `forward: median ${fwdMs.toFixed(0)} ms over ${fwd.length} (${fwd.map((x) => x.toFixed(0)).join(', ')}); ` +
    `${(fwdFlops / 1e9).toPrecision(3)} GFLOP -> ${(fwdFlops / 1e6 / fwdMs).toPrecision(3)} GFLOP/s wall, ` +
    `${(fwdFlops / 1e6 / median(cpuMs.forward!)).toPrecision(3)} GFLOP per cpu-second`,
);

if (!skipGrad) {
  const g = time('forward+input-grad', (ops) =>
    tf.grad((x: tf.Tensor) => tf.sum(tf.mul(unet.forward(ops, x, 999, ehs), W)))(sample),
  );
  const gMs = median(g);
  const total = fwdFlops + gradFlops;
  say(
    `forward+input-grad: median ${gMs.toFixed(0)} ms over ${g.length} (${g.map((x) => x.toFixed(0)).join(', ')}); ` +
      `${(total / 1e9).toPrecision(3)} GFLOP -> ${(total / 1e6 / gMs).toPrecision(3)} GFLOP/s wall, ` +
      `${(total / 1e6 / median(cpuMs['forward+input-grad']!)).toPrecision(3)} GFLOP per cpu-second; ratio to forward ${(gMs / fwdMs).toFixed(2)}`,
  );
}
const mem = tf.memory();
say(
  `memory: ${mem.numTensors} tensors, ${(mem.numBytes / 2 ** 30).toFixed(2)} GiB in tfjs, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`,
);
tf.dispose([sample, ehs, W]);
unet.dispose();
