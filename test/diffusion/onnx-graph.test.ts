import test from 'ava';
import { ApertureDepthError } from '../../core/errors.ts';
import { OnnxGraph, attr } from '../../diffusion/onnx/graph-builder.ts';
import { transposeF32, encodeModel, memoryWeights } from '../../diffusion/onnx/model-proto.ts';
import { cacheKeyHash, stableJson } from '../../diffusion/onnx/graph-cache.ts';
import { appendVjp } from '../../diffusion/onnx/vjp.ts';
import { planSegments } from '../../diffusion/onnx/segments.ts';
import { createSession, f32Tensor, sessionOptions } from '../../diffusion/onnx/session.ts';
import { OnnxNetwork, type NetworkTrace } from '../../diffusion/onnx/run-graph.ts';
import { onnxDeviceOutputsFromEnv } from '../../core/engine/network-engine.ts';
import { randomValues } from './onnx-helpers.ts';

/** The graph IR, its serialization, the weight transforms, the cache key and the segment planner. */

function naiveTranspose(data: Float32Array, shape: number[], perm: number[], flip: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(data.length);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let o = 0; o < out.length; o++) {
    let rest = o;
    let src = 0;
    for (let a = outShape.length - 1; a >= 0; a--) {
      let idx = rest % outShape[a];
      rest = Math.floor(rest / outShape[a]);
      if (flip.includes(a)) idx = outShape[a] - 1 - idx;
      src += idx * strides[perm[a]];
    }
    out[o] = data[src];
  }
  return out;
}

test('transposeF32 (with flips) equals a naive index map for ranks 1-4', (t) => {
  const cases: [number[], number[], number[]][] = [
    [[5], [0], []],
    [[5], [0], [0]],
    [[3, 4], [1, 0], []],
    [[2, 3, 4], [2, 0, 1], [1]],
    [[3, 3, 4, 5], [3, 2, 0, 1], []],
    [
      [3, 2, 4, 5],
      [2, 3, 0, 1],
      [2, 3],
    ],
    [[1, 1, 4, 5], [3, 2, 0, 1], []],
    // the backward-kernel fast path (channels swapped, spatial axes flipped), across its 32 x 32 tiles
    [[37, 70, 3, 3], [1, 0, 2, 3], [2, 3]],
    [[37, 70, 3, 3], [1, 0, 2, 3], [3, 2]],
    [[33, 5, 1, 1], [1, 0, 2, 3], []],
    [[3, 2, 4, 5], [1, 0, 2, 3], [2]],
  ];
  for (const [shape, perm, flip] of cases) {
    const data = randomValues(
      shape.reduce((a, b) => a * b, 1),
      3,
    );
    t.deepEqual(
      [...transposeF32(data, shape, perm, flip)],
      [...naiveTranspose(data, shape, perm, flip)],
      `[${shape}] perm [${perm}] flip [${flip}]`,
    );
  }
});

test('shape inference: static shapes, and errors that name the op', (t) => {
  const g = new OnnxGraph();
  const x = g.addInput('x', [1, 4, 7, 5]);
  const w = g.constant(randomValues(8 * 4 * 9, 1), [8, 4, 3, 3]);
  const y = g.op('Conv', [x, w], { pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([2, 2]) });
  t.deepEqual([...g.shape(y)], [1, 8, 4, 3]);
  const s = g.op('Slice', [y, g.int64([1]), g.int64([3]), g.int64([2])]);
  t.deepEqual([...g.shape(s)], [1, 8, 2, 3]);
  const r = g.op('Reshape', [s, g.int64([1, -1, 3])]);
  t.deepEqual([...g.shape(r)], [1, 16, 3]);
  t.throws(() => g.op('Add', [r, g.constant(new Float32Array(4), [4])]), {
    instanceOf: ApertureDepthError,
    message: /Add.*do not broadcast/,
  });
  t.throws(() => g.op('NoSuchOp', [x]), { instanceOf: ApertureDepthError, message: /NoSuchOp/ });
  t.is(g.int64([1, -1, 3]), g.int64([1, -1, 3]), 'int64 constants are shared');
});

test('a VJP of an op without a rule is an error naming the op', (t) => {
  const g = new OnnxGraph();
  const x = g.addInput('x', [3]);
  const y = g.op('Abs', [x]);
  const seed = g.addInput('gy', [3]);
  t.throws(() => appendVjp(g, { wrt: [x], seeds: new Map([[y, seed]]) }), {
    instanceOf: ApertureDepthError,
    message: /no VJP rule for op "Abs"/,
  });
});

test('a hand-built graph and its VJP run from in-memory external data', async (t) => {
  const g = new OnnxGraph();
  const x = g.addInput('x', [2, 3]);
  const w = g.constant(randomValues(3 * 300, 2), [3, 300]); // 3.6 KB: external
  const y = g.op('Sigmoid', [g.op('MatMul', [x, w])]);
  const gy = g.addInput('gy', [2, 300]);
  const { grads } = appendVjp(g, { wrt: [x], seeds: new Map([[y, gy]]) });
  const dx = g.node('Identity', [grads.get(x)!], {}, 1, ['dx'])[0];
  const mem = memoryWeights(g);
  t.is(mem.files.length, 1);
  const bytes = encodeModel(g, { nodes: g.nodes, inputs: [x, gy], outputs: [y, dx] }, mem.layout);
  const session = await createSession({ bytes, externalData: mem.files }, { threads: 1 });
  const xv = randomValues(6, 3);
  const gv = randomValues(600, 4);
  const out = await session.run({ x: f32Tensor(xv, [2, 3]), gy: f32Tensor(gv, [2, 300]) });
  // dx[i][k] = sum_j gy[i][j] s(1 - s)[i][j] w[k][j]
  const wv = g.initializers.get(w)!.data as Float32Array;
  const yv = out[y].data as Float32Array;
  let worst = 0;
  for (let i = 0; i < 2; i++) {
    for (let k = 0; k < 3; k++) {
      let sum = 0;
      for (let j = 0; j < 300; j++)
        sum += gv[i * 300 + j] * yv[i * 300 + j] * (1 - yv[i * 300 + j]) * wv[k * 300 + j];
      worst = Math.max(worst, Math.abs(sum - (out[dx].data as Float32Array)[i * 3 + k]));
    }
  }
  t.true(worst < 1e-5, `max |d| ${worst}`);
  await session.release();
});

test('cache keys are stable under key order and change with any value', (t) => {
  t.is(stableJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  t.is(cacheKeyHash({ a: 1, b: 2 }), cacheKeyHash({ b: 2, a: 1 }));
  t.not(cacheKeyHash({ a: 1, b: 2 }), cacheKeyHash({ a: 1, b: 3 }));
});

test('segments: cuts fall where few bytes are live, and every value crossing a cut is passed on', (t) => {
  // A chain with one long skip: x -> a -> b -> c -> d, out = d + a.
  const g = new OnnxGraph();
  const x = g.addInput('x', [1, 1000]);
  const a = g.op('Sigmoid', [x]);
  const b = g.op('Sigmoid', [a]);
  const c = g.op('Sigmoid', [b]);
  const d = g.op('Sigmoid', [c]);
  const out = g.node('Add', [d, a], {}, 1, ['output'])[0];
  const segs = planSegments(g, g.nodes.length, [out], 8000);
  t.true(segs.length >= 2);
  t.is(segs[0].start, 0);
  t.is(segs[segs.length - 1].end, g.nodes.length);
  for (let k = 1; k < segs.length; k++) t.is(segs[k].start, segs[k - 1].end);
  // `a` is produced first and read last: it must cross every later cut.
  const last = segs[segs.length - 1];
  t.true(last.inputs.includes(a));
  t.true(segs[0].outputs.includes(a));
  t.true(last.outputs.includes(out));
});

test('device outputs: the env switch parses strictly, applies only behind a GPU provider, and maps to preferredOutputLocation', async (t) => {
  t.is(onnxDeviceOutputsFromEnv({}), undefined);
  t.is(onnxDeviceOutputsFromEnv({ APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS: '1' }), true);
  t.is(onnxDeviceOutputsFromEnv({ APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS: '0' }), false);
  const err = t.throws(() => onnxDeviceOutputsFromEnv({ APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS: 'yes' }), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS.*1 or 0.*"yes"/s);

  t.is(sessionOptions({}).preferredOutputLocation, undefined);
  t.deepEqual(sessionOptions({ outputLocations: { a: 'gpu-buffer', out: 'cpu' } }).preferredOutputLocation, { a: 'gpu-buffer', out: 'cpu' });

  const trace: NetworkTrace = {
    name: 'two-silus',
    key: 'device-outputs-test',
    inputs: [{ name: 'x', shape: [1, 4] }],
    record: (ops, [x]) => ops.silu(ops.silu(x!)),
  };
  const onCpu = await OnnxNetwork.load(trace, { cacheDir: null, deviceOutputs: true, providers: ['cpu'] });
  const onGpu = await OnnxNetwork.load(trace, { cacheDir: null, deviceOutputs: true, providers: ['webgpu', 'cpu'] });
  const off = await OnnxNetwork.load(trace, { cacheDir: null, deviceOutputs: false, providers: ['webgpu', 'cpu'] });
  const saved = process.env.APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS;
  delete process.env.APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS;
  const byDefault = await OnnxNetwork.load(trace, { cacheDir: null, providers: ['webgpu', 'cpu'] });
  const cudaDefault = await OnnxNetwork.load(trace, { cacheDir: null, providers: ['cuda', 'cpu'] });
  if (saved !== undefined) process.env.APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS = saved;
  t.true(byDefault.deviceOutputs, 'on by default behind WebGPU');
  t.false(cudaDefault.deviceOutputs, 'opt-in behind other GPU providers (not tried)');
  t.false(onCpu.deviceOutputs, 'nothing to keep on a device when the CPU provider comes first');
  t.true(onGpu.deviceOutputs);
  t.false(off.deviceOutputs);
  // Inert on the CPU provider: the same numbers as SiLU twice.
  const y = await onCpu.forward({ x: new Float32Array([-2, 0, 1, 3]) });
  const silu = (v: number) => v / (1 + Math.exp(-v));
  [-2, 0, 1, 3].forEach((v, i) => t.true(Math.abs(y[i]! - silu(silu(v))) < 1e-6, `x = ${v}: ${y[i]} vs ${silu(silu(v))}`));
  await Promise.all([onCpu, onGpu, off, byDefault, cudaDefault].map((n) => n.dispose()));
});
