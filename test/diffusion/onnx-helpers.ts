import * as tf from '@tensorflow/tfjs';
import type { Ops } from '../../diffusion/ops/ops.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import { OnnxNetwork, type OnnxNetworkOptions } from '../../diffusion/onnx/run-graph.ts';
import { relL2 } from '../helpers/npy-fixture.ts';
import { mulberry32 } from '../../diffusion/checkpoint/random-source.ts';
import { Param, type ParamLayout } from '../../diffusion/checkpoint/param.ts';

/** Seeded uniform values in [-scale, scale). */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * next() - 1) * scale;
  return out;
}

export function randomParam(
  name: string,
  shape: number[],
  layout: ParamLayout,
  seed: number,
  scale = 0.5,
): Param {
  return new Param(
    name,
    shape,
    layout,
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  );
}

/** A function written once against `Ops`, with one differentiable input plus optional constant inputs. */
export interface OpCase {
  name: string;
  /** Shape of the differentiable input, then of any constant inputs. */
  shapes: number[][];
  fn: <T>(ops: Ops<T>, x: T, ...consts: T[]) => T;
  seed?: number;
}

export interface ParityResult {
  forwardRel: number;
  gradRel: number;
  outputShape: readonly number[];
}

/**
 * Runs `c.fn` through tfjs (eager, `tf.grad`) and through OnnxOps + onnxruntime (forward and the VJP
 * graph), with upstream weights W: returns rel L2 of outputs and of d sum(out * W) / dx.
 */
export async function parity(c: OpCase, options: OnnxNetworkOptions = {}): Promise<ParityResult> {
  const seed = c.seed ?? 7;
  const inputs = c.shapes.map((s, k) =>
    randomValues(
      s.reduce((a, b) => a * b, 1),
      seed + 101 * k,
    ),
  );
  const names = c.shapes.map((_, k) => (k === 0 ? 'x' : `c${k}`));
  const net = await OnnxNetwork.load(
    {
      name: `op-${c.name}`,
      key: c.name,
      inputs: c.shapes.map((shape, k) => ({ name: names[k], shape })),
      record: (ops, xs) => c.fn(ops, xs[0], ...xs.slice(1)),
    },
    { cacheDir: null, threads: 1, wrt: 'x', ...options },
  );
  try {
    const feeds = Object.fromEntries(names.map((n, k) => [n, inputs[k]]));
    const onnxOut = await net.forward(feeds);
    const w = randomValues(onnxOut.length, seed + 999);
    const { output, grad } = await net.vjp(feeds, w);

    const consts = c.shapes.slice(1).map((s, k) => tf.tensor(inputs[k + 1], s));
    const x = tf.tensor(inputs[0], c.shapes[0]);
    const wT = tf.tensor(w, [...net.outputShape]);
    const tfOut = tf.tidy(() => c.fn(tfjsOps, x, ...consts));
    const tfGrad = tf.tidy(() =>
      tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(c.fn(tfjsOps, xx, ...consts), wT)))(x),
    );
    const want = tfOut.dataSync();
    const wantGrad = tfGrad.dataSync();
    const result = {
      forwardRel: Math.max(relL2(onnxOut, want), relL2(output, want)),
      gradRel: relL2(grad, wantGrad),
      outputShape: net.outputShape,
    };
    tf.dispose([tfOut, tfGrad, x, wT, ...consts]);
    return result;
  } finally {
    await net.dispose();
  }
}
