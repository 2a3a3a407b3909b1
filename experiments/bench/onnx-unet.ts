/**
 * Bench: the UNet (or the VAE decoder) traced through OnnxOps and run by onnxruntime-node, forward and
 * forward+input-gradient, with graph build and session creation timed cold and from the disk cache.
 *
 *   npx tsx experiments/bench/onnx-unet.ts --model sd2-tiny --latent 8x6
 *   npx tsx experiments/bench/onnx-unet.ts --model marigold --latent 32x24 --threads 2
 *   npx tsx experiments/bench/onnx-unet.ts --net vae-decoder --model marigold --latent 32x24
 *
 * `--latent WxH` is the latent size (image / 8). `marigold` is the real Marigold/SD2 shape with random
 * weights (UNet 866M parameters, ~3.5 GB float32; VAE decoder 49M). The UNet graph is the one the ONNX
 * prior builds: the timestep's projection is an input (`time_proj`, fed for t = 999), so one graph
 * serves every timestep. Every result line ends with the command that reruns it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createUNet,
  createVae,
  loadUNet,
  loadVae,
  parseUNetConfig,
  readComponentConfig,
  timeProjectionData,
  timeProjectionSpec,
} from '../../diffusion/models/index.ts';
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

/** SD2 / Marigold AutoencoderKL config.json (stabilityai/stable-diffusion-2 vae/config.json). */
export const MARIGOLD_VAE_CONFIG = Object.freeze({
  _class_name: 'AutoencoderKL',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 768,
  scaling_factor: 0.18215,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
});

const { values: args } = parseArgs({
  options: {
    net: { type: 'string', default: 'unet' },
    model: { type: 'string', default: 'sd2-tiny' },
    latent: { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '3' },
    'checkpoint-mb': { type: 'string', default: '0' },
    'conv-grad': { type: 'string', default: 'conv' },
    'cache-dir': { type: 'string', default: '' },
    'no-vjp': { type: 'boolean', default: false },
    optimization: { type: 'string', default: 'extended' },
    'no-spin': { type: 'boolean', default: false },
    'no-prepack': { type: 'boolean', default: false },
    arena: { type: 'string', default: '' },
  },
});

const model = args.model!;
const netName = args.net as 'unet' | 'vae-decoder';
const [lw, lh] = (args.latent || (model === 'marigold' ? '32x24' : '8x6')).split('x').map(Number);
const threads = Number(args.threads);
const reps = Number(args.reps);
const checkpointBytes = Number(args['checkpoint-mb']) * 2 ** 20;
const convGrad = args['conv-grad'] as 'conv' | 'convTranspose';
const withVjp = !args['no-vjp'];
const optimization = args.optimization as 'basic' | 'extended' | 'all';
const rerun =
  `npx tsx experiments/bench/onnx-unet.ts${netName === 'unet' ? '' : ` --net ${netName}`} --model ${model} --latent ${lw}x${lh} --threads ${threads} --reps ${reps}` +
  (checkpointBytes ? ` --checkpoint-mb ${args['checkpoint-mb']}` : '') +
  (convGrad !== 'conv' ? ` --conv-grad ${convGrad}` : '') +
  (withVjp ? '' : ' --no-vjp') +
  (optimization !== 'extended' ? ` --optimization ${optimization}` : '') +
  (args['no-spin'] ? ' --no-spin' : '') +
  (args['no-prepack'] ? ' --no-prepack' : '') +
  (args.arena ? ` --arena ${args.arena}` : '');
const line = (s: string) => console.log(`${s}    # ${rerun}`);

const ownCache = !args['cache-dir'];
const cacheDir = args['cache-dir'] || mkdtempSync(join(tmpdir(), 'aperture-depth-onnx-bench-'));
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const gib = (b: number) => (b / 2 ** 30).toFixed(2);
const peakRss = () => process.resourceUsage().maxRSS * 1024;
/** Process CPU seconds (all threads): robust to other processes sharing the cores. */
const cpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** Wall and CPU time of `f`. */
async function timed<R>(f: () => Promise<R>): Promise<{ wallMs: number; cpuS: number; result: R }> {
  const t0 = performance.now();
  const c0 = cpuS();
  const result = await f();
  return { wallMs: performance.now() - t0, cpuS: cpuS() - c0, result };
}

function random(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => 2 * next() - 1);
}

/** The network under test: its weights (host only) and how to record it. */
interface Subject {
  params: number;
  record: NetworkTrace['record'];
  dispose(): void;
}

const TINY = 'test/data/diffusers-tiny/sd2-tiny/checkpoint';
/** The timestep the UNet is fed (its projection is a graph input, not part of the graph). */
const T = 999;

async function makeSubject(): Promise<Subject> {
  const tiny = TINY;
  if (model !== 'sd2-tiny' && model !== 'marigold')
    throw new Error(`--model must be sd2-tiny or marigold, got ${model}`);
  if (netName === 'unet') {
    const unet =
      model === 'sd2-tiny'
        ? await loadUNet(`${tiny}/unet`, { bind: null })
        : createUNet(MARIGOLD_UNET_CONFIG, 0, { bind: null });
    return {
      params: unet.parameterCount(),
      record: (ops, [s, c, projection]) => unet.forward(ops, s, { projection }, c),
      dispose: () => unet.dispose(),
    };
  }
  const vae =
    model === 'sd2-tiny'
      ? await loadVae(`${tiny}/vae`, { bind: null })
      : createVae(MARIGOLD_VAE_CONFIG, 0, { bind: null });
  // Only the decoder's weights are recorded; the encoder's stay unused.
  return {
    params: vae.parameterCount(),
    record: (ops, [z]) => vae.decode(ops, z),
    dispose: () => vae.dispose(),
  };
}

async function main(): Promise<void> {
  const crossDim = model === 'marigold' ? 1024 : 32;
  const unetConfig =
    model === 'marigold'
      ? parseUNetConfig(MARIGOLD_UNET_CONFIG, 'MARIGOLD_UNET_CONFIG')
      : (() => {
          const { raw, file } = readComponentConfig(`${TINY}/unet`);
          return parseUNetConfig(raw, file);
        })();
  const timeSpec = timeProjectionSpec(unetConfig);
  const inputs =
    netName === 'unet'
      ? [
          { name: 'sample', shape: [1, lh, lw, 8] },
          { name: 'context', shape: [1, 2, crossDim] },
          { name: 'time_proj', shape: [1, timeSpec.dim] },
        ]
      : [{ name: 'z', shape: [1, lh, lw, 4] }];
  const options: OnnxNetworkOptions = {
    cacheDir,
    threads,
    optimization,
    spinning: !args['no-spin'],
    prepacking: !args['no-prepack'],
    cpuArena: args.arena ? args.arena === 'on' : undefined,
    wrt: withVjp ? inputs[0].name : undefined,
    checkpointBytes,
    vjpOptions: { convGrad },
  };
  let subject: Subject | undefined;
  let traced = false;
  const trace: NetworkTrace = {
    name: `${netName}-${model}`,
    key: { netName, model, seed: 0 },
    inputs,
    record: (ops, xs) => {
      traced = true;
      return subject!.record(ops, xs);
    },
  };

  // 1. cold: weights, trace + VJP + serialization
  const t0 = performance.now();
  subject = await makeSubject();
  const weightsMs = performance.now() - t0;
  const params = subject.params;
  const net = await OnnxNetwork.load(trace, options);
  subject.dispose(); // the host weights are on disk now
  subject = undefined;
  line(
    `onnx ${netName} ${model} ${lw}x${lh}: ${(params / 1e6).toFixed(1)}M params, ${net.stats.nodes} nodes, ${net.stats.segments} segment(s); ` +
      `cold: weights ${seconds(weightsMs)} s, build ${seconds(net.stats.buildMs)} s (trace ${seconds(net.stats.buildPhasesMs.trace)}, ` +
      `vjp ${seconds(net.stats.buildPhasesMs.vjp)}, write ${seconds(net.stats.buildPhasesMs.write)}; ${gib(net.stats.weightsBytes)} GiB on disk) [${optimization}]`,
  );

  // 2. runs, one kind of session at a time (a caller of vjp never needs the forward sessions):
  //    min over reps of wall time and of process CPU time (GFLOP per cpu-second = per-core rate)
  const feeds = Object.fromEntries(
    inputs.map((i, k) => [
      i.name,
      i.name === 'time_proj'
        ? timeProjectionData(T, 1, timeSpec)
        : random(
            i.shape.reduce((a, b) => a * b, 1),
            1 + k,
          ),
    ]),
  );
  const upstream = random(
    net.outputShape.reduce((a, b) => a * b, 1),
    3,
  );
  const time = async (f: () => Promise<unknown>) => {
    await f(); // warm-up
    let wall = Infinity;
    let cpu = Infinity;
    for (let r = 0; r < reps; r++) {
      const t = await timed(f);
      wall = Math.min(wall, t.wallMs);
      cpu = Math.min(cpu, t.cpuS);
    }
    return { wall, cpu };
  };
  const rate = (flops: number, t: { wall: number; cpu: number }) =>
    `${(flops / 1e6 / t.wall).toFixed(0)} GFLOP/s wall (${threads} threads), ${(flops / 1e9 / t.cpu).toFixed(0)} GFLOP per cpu-s`;
  const session = (t: { wallMs: number; cpuS: number }) =>
    `${seconds(t.wallMs)} s (${t.cpuS.toFixed(1)} cpu-s)`;
  const rss = () => gib(process.memoryUsage().rss);

  const fwdSession = await timed(() => net.prepare({ forward: true }));
  const fwd = await time(() => net.forward(feeds));
  line(
    `onnx ${netName} ${model} ${lw}x${lh} forward: ${seconds(fwd.wall)} s wall, ${fwd.cpu.toFixed(2)} cpu-s, ` +
      `${(net.stats.forwardFlops / 1e9).toFixed(1)} GFLOP, ${rate(net.stats.forwardFlops, fwd)}; cold sessions ${session(fwdSession)}, ` +
      `RSS ${rss()} GiB; load ${loadavg()[0].toFixed(1)}`,
  );
  await net.dispose();
  if (withVjp) {
    const vjpSession = await timed(() => net.prepare({ vjp: true }));
    const vjp = await time(() => net.vjp(feeds, upstream));
    line(
      `onnx ${netName} ${model} ${lw}x${lh} forward+input-gradient: ${seconds(vjp.wall)} s wall, ${vjp.cpu.toFixed(2)} cpu-s, ` +
        `${(net.stats.vjpFlops / 1e9).toFixed(1)} GFLOP, ${rate(net.stats.vjpFlops, vjp)}, ${(vjp.cpu / fwd.cpu).toFixed(2)}x forward cpu; ` +
        `cold sessions ${session(vjpSession)}, RSS ${rss()} GiB; load ${loadavg()[0].toFixed(1)}`,
    );
    await net.dispose();
  }

  // 3. from the cache: no weights, no tracing
  traced = false;
  const load = await timed(() => OnnxNetwork.load(trace, options));
  const again = load.result;
  const fwdAgain = await timed(() => again.prepare({ forward: true }));
  await again.dispose();
  const vjpAgain = withVjp ? await timed(() => again.prepare({ vjp: true })) : undefined;
  await again.dispose();
  line(
    `onnx ${netName} ${model} ${lw}x${lh} from cache: hit ${again.stats.fromCache && !traced}, load ${seconds(load.wallMs)} s, ` +
      `sessions: forward ${session(fwdAgain)}` +
      (vjpAgain ? `, vjp ${session(vjpAgain)}` : '') +
      `; peak RSS ${gib(peakRss())} GiB`,
  );
  if (ownCache) rmSync(cacheDir, { recursive: true, force: true });
}

await main();
