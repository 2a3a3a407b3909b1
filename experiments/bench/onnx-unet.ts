/**
 * Bench: the UNet traced through OnnxOps and run by onnxruntime-node, forward and forward+input-gradient,
 * with graph build and session creation timed cold and from the disk cache.
 *
 *   npx tsx experiments/bench/onnx-unet.ts --model sd2-tiny --latent 8x6
 *   npx tsx experiments/bench/onnx-unet.ts --model marigold --latent 32x24 --threads 2
 *
 * `--latent WxH` is the latent size (image / 8). `marigold` is the real Marigold/SD2 UNet shape with random
 * weights (866M parameters, ~3.5 GB float32). Every result line ends with the command that reruns it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createUNet, loadUNet, type UNet2DConditionModel } from '../../diffusion/models/index.ts';
import { OnnxNetwork, type NetworkTrace, type OnnxNetworkOptions } from '../../diffusion/onnx/run-graph.ts';
import { mulberry32 } from '../../diffusion/checkpoint/random-source.ts';

/** Marigold (SD2) UNet config.json, as in prs-eth/marigold-depth-v1-0 unet/config.json. */
export const MARIGOLD_UNET_CONFIG = Object.freeze({
  _class_name: 'UNet2DConditionModel',
  act_fn: 'silu',
  attention_head_dim: [5, 10, 20, 20],
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 1024,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 8,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  out_channels: 4,
  sample_size: 96,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  upcast_attention: false,
  use_linear_projection: true,
});

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'sd2-tiny' },
    latent: { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '3' },
    'checkpoint-mb': { type: 'string', default: '0' },
    'conv-grad': { type: 'string', default: 'conv' },
    'cache-dir': { type: 'string', default: '' },
    'no-vjp': { type: 'boolean', default: false },
  },
});

const model = args.model!;
const [lw, lh] = (args.latent || (model === 'marigold' ? '32x24' : '8x6')).split('x').map(Number);
const threads = Number(args.threads);
const reps = Number(args.reps);
const checkpointBytes = Number(args['checkpoint-mb']) * 2 ** 20;
const convGrad = args['conv-grad'] as 'conv' | 'convTranspose';
const withVjp = !args['no-vjp'];
const rerun =
  `npx tsx experiments/bench/onnx-unet.ts --model ${model} --latent ${lw}x${lh} --threads ${threads} --reps ${reps}` +
  (checkpointBytes ? ` --checkpoint-mb ${args['checkpoint-mb']}` : '') +
  (convGrad !== 'conv' ? ` --conv-grad ${convGrad}` : '') +
  (withVjp ? '' : ' --no-vjp');
const line = (s: string) => console.log(`${s}    # ${rerun}`);

const ownCache = !args['cache-dir'];
const cacheDir = args['cache-dir'] || mkdtempSync(join(tmpdir(), 'aperture-depth-onnx-bench-'));
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const gib = (b: number) => (b / 2 ** 30).toFixed(2);
const peakRss = () => process.resourceUsage().maxRSS * 1024;

function random(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => 2 * next() - 1);
}

async function makeUNet(): Promise<UNet2DConditionModel> {
  if (model === 'sd2-tiny') return loadUNet('test/data/diffusers-tiny/sd2-tiny/checkpoint/unet', { bind: null });
  if (model === 'marigold') return createUNet(MARIGOLD_UNET_CONFIG, 0, { bind: null });
  throw new Error(`--model must be sd2-tiny or marigold, got ${model}`);
}

async function main(): Promise<void> {
  const crossDim = model === 'marigold' ? 1024 : 32;
  const sampleShape = [1, lh, lw, 8];
  const ctxShape = [1, 2, crossDim];
  const options: OnnxNetworkOptions = {
    cacheDir,
    threads,
    wrt: withVjp ? 'sample' : undefined,
    checkpointBytes,
    vjpOptions: { convGrad },
  };
  let unet: UNet2DConditionModel | undefined;
  let traced = false;
  const trace: NetworkTrace = {
    name: `unet-${model}`,
    key: { model, seed: 0, t: 999 },
    inputs: [
      { name: 'sample', shape: sampleShape },
      { name: 'context', shape: ctxShape },
    ],
    record: (ops, [sample, context]) => {
      traced = true;
      return unet!.forward(ops, sample, 999, context);
    },
  };

  // 1. cold: weights, trace + VJP + serialization, sessions
  let t0 = performance.now();
  unet = await makeUNet();
  const weightsMs = performance.now() - t0;
  const params = unet.parameterCount();
  const net = await OnnxNetwork.load(trace, options);
  unet.dispose(); // the host weights are on disk now
  unet = undefined;
  t0 = performance.now();
  await net.prepare({ forward: true, vjp: withVjp });
  const sessionMs = performance.now() - t0;
  line(
    `onnx unet ${model} ${lw}x${lh}: ${(params / 1e6).toFixed(1)}M params, ${net.stats.nodes} nodes, ${net.stats.segments} segment(s); ` +
      `cold: weights ${seconds(weightsMs)} s, build ${seconds(net.stats.buildMs)} s, sessions ${seconds(sessionMs)} s`,
  );

  // 2. runs
  const sample = random(sampleShape.reduce((a, b) => a * b, 1), 1);
  const context = random(ctxShape.reduce((a, b) => a * b, 1), 2);
  const upstream = random(lh * lw * 4, 3);
  const time = async (f: () => Promise<unknown>) => {
    await f(); // warm-up
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const s = performance.now();
      await f();
      ts.push(performance.now() - s);
    }
    ts.sort((a, b) => a - b);
    return { min: ts[0], median: ts[Math.floor(ts.length / 2)] };
  };
  const fwd = await time(() => net.forward({ sample, context }));
  line(
    `onnx unet ${model} ${lw}x${lh} forward: ${seconds(fwd.min)} s min, ${seconds(fwd.median)} s median, ` +
      `${(net.stats.forwardFlops / 1e9).toFixed(1)} GFLOP, ${(net.stats.forwardFlops / 1e6 / fwd.min).toFixed(0)} GFLOP/s (${threads} threads)`,
  );
  if (withVjp) {
    const vjp = await time(() => net.vjp({ sample, context }, upstream));
    line(
      `onnx unet ${model} ${lw}x${lh} forward+input-gradient: ${seconds(vjp.min)} s min, ${seconds(vjp.median)} s median, ` +
        `${(net.stats.vjpFlops / 1e9).toFixed(1)} GFLOP, ${(net.stats.vjpFlops / 1e6 / vjp.min).toFixed(0)} GFLOP/s, ` +
        `${(vjp.min / fwd.min).toFixed(2)}x forward`,
    );
  }
  await net.dispose();

  // 3. from the cache: no weights, no tracing
  traced = false;
  t0 = performance.now();
  const again = await OnnxNetwork.load(trace, options);
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  await again.prepare({ forward: true, vjp: withVjp });
  const cachedSessionMs = performance.now() - t0;
  line(
    `onnx unet ${model} ${lw}x${lh} from cache: hit ${again.stats.fromCache && !traced}, load ${seconds(loadMs)} s, ` +
      `sessions ${seconds(cachedSessionMs)} s; peak RSS ${gib(peakRss())} GiB`,
  );
  await again.dispose();
  if (ownCache) rmSync(cacheDir, { recursive: true, force: true });
}

await main();
