/**
 * Bench: design choices of the ONNX executor on real-size pieces of the Marigold UNet, each variant run
 * forward and forward+input-gradient (VJP) by onnxruntime-node, interleaved, min of `--reps`.
 * - attention: per-(batch, head) 2-D products (the networks' `multiHeadAttention`) vs `OnnxOps.attention`
 * - conv input gradient: Conv with the flipped kernel vs ConvTranspose, stride 1 and stride 2
 *
 *   npx tsx experiments/bench/onnx-blocks.ts --latent 32x24 --threads 2 --reps 5
 */
import { parseArgs } from 'node:util';
import { Param } from '../../diffusion/checkpoint/param.ts';
import { mulberry32 } from '../../diffusion/checkpoint/random-source.ts';
import { multiHeadAttention } from '../../diffusion/models/common/multi-head-attention.ts';
import type { OnnxOps, SymbolicTensor } from '../../diffusion/onnx/onnx-ops.ts';
import { OnnxNetwork, type OnnxNetworkOptions } from '../../diffusion/onnx/run-graph.ts';

const { values: args } = parseArgs({
  options: {
    latent: { type: 'string', default: '32x24' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '5' },
    only: { type: 'string', default: '' },
  },
});
const [lw, lh] = args.latent!.split('x').map(Number);
const threads = Number(args.threads);
const reps = Number(args.reps);
const rerun = `npx tsx experiments/bench/onnx-blocks.ts --latent ${lw}x${lh} --threads ${threads} --reps ${reps}`;

function random(n: number, seed: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * next() - 1) * scale);
}
const param = (name: string, shape: number[], layout: Param['layout'], seed: number) =>
  new Param(
    name,
    shape,
    layout,
    random(
      shape.reduce((a, b) => a * b, 1),
      seed,
      1 / Math.sqrt(shape[shape.length - 2] ?? 1),
    ),
  );

interface Variant {
  label: string;
  inputs: { name: string; shape: number[] }[];
  record: (ops: OnnxOps, xs: SymbolicTensor[]) => SymbolicTensor;
  options?: OnnxNetworkOptions;
}

interface Case {
  name: string;
  variants: Variant[];
}

function attentionCase(level: number, channels: number, heads: number, cross: boolean): Case {
  const s = (lw >> level) * (lh >> level);
  const sk = cross ? 2 : s;
  const kvDim = cross ? 1024 : channels;
  const wq = param('wq', [channels, channels], 'linear', 1);
  const wk = param('wk', [kvDim, channels], 'linear', 2);
  const wv = param('wv', [kvDim, channels], 'linear', 3);
  const inputs = [
    { name: 'x', shape: [1, s, channels] },
    { name: 'ctx', shape: [1, sk, kvDim] },
  ];
  const qkv = (o: OnnxOps, x: SymbolicTensor, c: SymbolicTensor) => {
    const kv = cross ? c : x;
    return [o.linear(x, o.param(wq), null), o.linear(kv, o.param(wk), null), o.linear(kv, o.param(wv), null)];
  };
  return {
    name: `${cross ? 'cross' : 'self'}-attention ${s} tokens x ${channels} ch, ${heads} heads${cross ? ', 2 text tokens' : ''}`,
    variants: [
      {
        label: 'per-head 2-D',
        inputs,
        record: (o, [x, c]) => {
          const [q, k, v] = qkv(o, x, c);
          return multiHeadAttention(o, q, k, v, heads, (channels / heads) ** -0.5);
        },
      },
      {
        label: 'batched',
        inputs,
        record: (o, [x, c]) => {
          const [q, k, v] = qkv(o, x, c);
          return o.attention(q, k, v, heads, (channels / heads) ** -0.5);
        },
      },
    ],
  };
}

function convCase(level: number, channels: number, stride: number): Case {
  const h = lh >> level;
  const w = lw >> level;
  const wc = param('w', [3, 3, channels, channels], 'conv', 4);
  const inputs = [{ name: 'x', shape: [1, h, w, channels] }];
  const record = (o: OnnxOps, [x]: SymbolicTensor[]) =>
    o.conv2d(x, o.param(wc), null, { stride, padding: 1 });
  return {
    name: `conv 3x3 ${channels}->${channels} stride ${stride} on ${w}x${h}`,
    variants: [
      { label: 'grad: flipped-kernel Conv', inputs, record, options: { vjpOptions: { convGrad: 'conv' } } },
      {
        label: 'grad: ConvTranspose',
        inputs,
        record,
        options: { vjpOptions: { convGrad: 'convTranspose' } },
      },
    ],
  };
}

const CASES: Case[] = [
  attentionCase(0, 320, 5, false),
  attentionCase(0, 320, 5, true),
  attentionCase(2, 1280, 20, false),
  attentionCase(2, 1280, 20, true),
  convCase(0, 320, 1),
  convCase(1, 640, 1),
  convCase(0, 320, 2),
];

async function main(): Promise<void> {
  for (const c of CASES) {
    if (args.only && !c.name.includes(args.only)) continue;
    const nets = await Promise.all(
      c.variants.map((v) =>
        OnnxNetwork.load(
          { name: v.label, key: null, inputs: v.inputs, record: v.record },
          { cacheDir: null, threads, wrt: v.inputs[0].name, ...v.options },
        ),
      ),
    );
    const feeds = Object.fromEntries(
      c.variants[0].inputs.map((i, k) => [
        i.name,
        random(
          i.shape.reduce((a, b) => a * b, 1),
          10 + k,
        ),
      ]),
    );
    const up = random(
      nets[0].outputShape.reduce((a, b) => a * b, 1),
      20,
    );
    // Wall time and process CPU time (robust when other processes share the cores; use --threads 1).
    const best = nets.map(() => ({ fwd: Infinity, vjp: Infinity, fwdCpu: Infinity, vjpCpu: Infinity }));
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    for (const n of nets) {
      await n.forward(feeds);
      await n.vjp(feeds, up);
    }
    for (let r = 0; r < reps; r++) {
      for (let k = 0; k < nets.length; k++) {
        let t0 = performance.now();
        let c0 = cpuMs();
        await nets[k].forward(feeds);
        best[k].fwd = Math.min(best[k].fwd, performance.now() - t0);
        best[k].fwdCpu = Math.min(best[k].fwdCpu, cpuMs() - c0);
        t0 = performance.now();
        c0 = cpuMs();
        await nets[k].vjp(feeds, up);
        best[k].vjp = Math.min(best[k].vjp, performance.now() - t0);
        best[k].vjpCpu = Math.min(best[k].vjpCpu, cpuMs() - c0);
      }
    }
    nets.forEach((n, k) => {
      const gf = (flops: number, ms: number) => (flops / 1e6 / ms).toFixed(0);
      console.log(
        `${c.name} | ${c.variants[k].label}: forward ${best[k].fwd.toFixed(1)} ms wall, ${best[k].fwdCpu.toFixed(1)} ms cpu ` +
          `(${gf(n.stats.forwardFlops, best[k].fwdCpu)} GFLOP/s per cpu-s); forward+VJP ${best[k].vjp.toFixed(1)} ms wall, ` +
          `${best[k].vjpCpu.toFixed(1)} ms cpu (${gf(n.stats.vjpFlops, best[k].vjpCpu)} GFLOP/s per cpu-s); ${n.stats.nodes} fwd nodes    # ${rerun} --only '${c.name.split(' ')[0]}'`,
      );
    });
    for (const n of nets) await n.dispose();
  }
}

await main();
