/**
 * Bench check: the onnx engine on another onnxruntime execution provider (a GPU: `webgpu`, or `cuda` where
 * its provider library is installed) against the CPU provider, on the embedded prior. For one seeded latent
 * and one random upstream gradient it prints the relative L2 difference of the relative depth and of the
 * gradient with respect to the latent (one `predictWithVjp` + `backward`), and the time of each provider.
 *
 *   npx tsx experiments/bench/provider-parity.ts --providers webgpu,cpu
 *
 * Exits 1 when the providers disagree by more than `--tol` (default 1e-3 relative L2: GPU kernels may sum
 * in another order), 75 (EX_TEMPFAIL; `npm run bench` reports it as skipped) when the provider cannot start
 * here, e.g. on a machine without a GPU. Measured on an H200 (BENCHMARKS.md): 1.6e-5.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../../core/engine/backend.ts';
import { defaultModelPath } from '../../core/pipeline/default-model.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { OnnxMarigoldPrior } from '../../diffusion/marigold/onnx-prior.ts';
import { MarigoldDepthPrior } from '../../optimizers/priors/marigold-depth-prior.ts';
import { NOT_HERE } from './exit-status.ts';

const { values: args } = parseArgs({
  options: {
    providers: { type: 'string', default: process.env.APERTURE_DEPTH_ONNX_PROVIDERS ?? 'webgpu,cpu' },
    model: { type: 'string', default: '' },
    tol: { type: 'string', default: '1e-3' },
    reps: { type: 'string', default: '3' },
    // A small budget cuts the networks into many checkpoint segments: exercises the values they hand on.
    'checkpoint-mb': { type: 'string', default: '' },
  },
});

const providers = args
  .providers!.split(',')
  .map((p) => p.trim())
  .filter(Boolean);
const tol = Number(args.tol);
const reps = Number(args.reps);
const checkpointBytes = args['checkpoint-mb'] ? Number(args['checkpoint-mb']) * 2 ** 20 : undefined;
const deviceEnv = process.env.APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS ? `APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS=${process.env.APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS} ` : '';
const cmd = `${deviceEnv}npx tsx experiments/bench/provider-parity.ts --providers ${providers.join(',')}${checkpointBytes ? ` --checkpoint-mb ${args['checkpoint-mb']}` : ''}`;

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** A seeded sRGB image in [0, 1] with some structure (gradients + noise), `[H, W, 3]`. */
function image(W: number, H: number): tf.Tensor3D {
  const rng = new Rng(3);
  const v = new Float32Array(H * W * 3);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      for (let c = 0; c < 3; c++) {
        v[(i * W + j) * 3 + c] = Math.min(
          1,
          Math.max(0, 0.3 + (0.4 * (j / W) * (c + 1)) / 3 + 0.2 * (i / H) + 0.1 * rng.normal()),
        );
      }
    }
  }
  return tf.tensor3d(v, [H, W, 3]);
}

interface Pass {
  depth: Float32Array;
  grad: Float32Array;
  ms: number;
  loadMs: number;
}

async function pass(model: string, provs: string[], cacheDir: string): Promise<Pass> {
  const t0 = performance.now();
  const onnx = await OnnxMarigoldPrior.load(model, { cacheDir, providers: provs, checkpointBytes, keepActivationBytes: checkpointBytes });
  const res = onnx.processingResolution;
  const W = res;
  const H = Math.round((res * 3) / 4);
  const img = image(W, H);
  const prior = await MarigoldDepthPrior.createAsync(onnx, img);
  await onnx.prepare({ steps: onnx.steps });
  const loadMs = performance.now() - t0;
  const z = prior.initialLatent(0);
  const w = tf.randomNormal([...prior.outputShape], 0, 1, 'float32', 2) as tf.Tensor2D;
  let out: { depth: Float32Array; grad: Float32Array } | undefined;
  let ms = Infinity;
  for (let r = 0; r < reps + 1; r++) {
    const t1 = performance.now();
    const p = await prior.predictWithVjp!(z);
    const g = await p.backward(w);
    const depth = (await p.depth.data()) as Float32Array;
    const grad = (await g.data()) as Float32Array;
    tf.dispose([p.depth, g]);
    if (r > 0) ms = Math.min(ms, performance.now() - t1); // the first run warms the provider up
    out = { depth, grad };
  }
  tf.dispose([z, w, img]);
  prior.dispose();
  return { ...out!, ms, loadMs };
}

async function main(): Promise<void> {
  await initEngine('wasm');
  const model =
    args.model ||
    defaultModelPath() ||
    join(import.meta.dirname, '../../test/data/diffusers-tiny/sd2-tiny/checkpoint');
  const cacheDir = mkdtempSync(join(tmpdir(), 'aperture-depth-parity-'));
  try {
    const cpu = await pass(model, ['cpu'], cacheDir);
    let other: Pass;
    try {
      other = await pass(model, providers, cacheDir);
    } catch (err) {
      console.log(
        `providers ${providers.join(',')}: could not start (${(err as Error).message.split('\n')[0]})    # ${cmd}`,
      );
      process.exitCode = NOT_HERE;
      return;
    }
    const dDepth = relL2(other.depth, cpu.depth);
    const dGrad = relL2(other.grad, cpu.grad);
    const ok = dDepth <= tol && dGrad <= tol;
    console.log(
      `providers ${providers.join(',')} vs cpu, ${model}: relative L2 of depth ${dDepth.toExponential(2)}, of the latent gradient ` +
        `${dGrad.toExponential(2)} (tolerance ${tol}); forward + gradient ${other.ms.toFixed(1)} ms vs ${cpu.ms.toFixed(1)} ms on cpu; ` +
        `load + prepare ${(other.loadMs / 1000).toFixed(2)} s vs ${(cpu.loadMs / 1000).toFixed(2)} s${ok ? '' : '  DISAGREE'}    # ${cmd}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

await main();
