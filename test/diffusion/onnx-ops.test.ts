import test from 'ava';
import { setupEngine } from '../helpers/engine.ts';
import { parity, randomParam, randomValues, type OpCase } from './onnx-helpers.ts';
import { OnnxNetwork } from '../../diffusion/onnx/run-graph.ts';
import { OnnxOps, type SymbolicTensor } from '../../diffusion/onnx/onnx-ops.ts';
import { multiHeadAttention } from '../../diffusion/models/common/multi-head-attention.ts';

/**
 * Every Ops primitive recorded by OnnxOps and run by onnxruntime equals the tfjs executor (forward rel L2
 * < 1e-5), and the generated VJP equals tf.grad of sum(out * W) (rel L2 < 1e-4). Small random inputs.
 */

test.before(async () => {
  await setupEngine();
});

const w3 = randomParam('w3', [3, 3, 3, 4], 'conv', 1);
const b4 = randomParam('b4', [4], 'vector', 2);
const w1 = randomParam('w1', [1, 1, 3, 5], 'conv', 3);
const wl = randomParam('wl', [6, 5], 'linear', 4);
const bl = randomParam('bl', [5], 'vector', 5);
const gamma6 = randomParam('gamma6', [6], 'vector', 6);
const beta6 = randomParam('beta6', [6], 'vector', 7);
const table = randomParam('table', [10, 4], 'table', 8);
const w44 = randomParam('w44', [3, 3, 4, 4], 'conv', 11);

/** OnnxOps' batched attention on tensors typed generically (tests may branch on the executor; networks never). */
function batched<T>(o: OnnxOps, [q, k, v, mask]: T[], heads: number, scale: number): T {
  const s = (t: T | undefined) => t as unknown as SymbolicTensor;
  return o.attention(
    s(q),
    s(k),
    s(v),
    heads,
    scale,
    mask === undefined ? undefined : s(mask),
  ) as unknown as T;
}

const CASES: OpCase[] = [
  {
    name: 'conv2d 3x3 pad 1 + bias',
    shapes: [[1, 6, 5, 3]],
    fn: (o, x) => o.conv2d(x, o.param(w3), o.param(b4), { padding: 1 }),
  },
  {
    name: 'conv2d 3x3 stride 2 pad 1 (odd)',
    shapes: [[2, 7, 5, 3]],
    fn: (o, x) => o.conv2d(x, o.param(w3), null, { stride: 2, padding: 1 }),
  },
  {
    name: 'conv2d stride 2 pad [0,1,0,1] (VAE down)',
    shapes: [[1, 6, 8, 3]],
    fn: (o, x) => o.conv2d(x, o.param(w3), o.param(b4), { stride: 2, padding: [0, 1, 0, 1] }),
  },
  {
    name: 'conv2d with a computed (non-initializer) kernel',
    shapes: [[1, 4, 3, 3]],
    fn: (o, x) => o.conv2d(x, o.scale(o.param(w3), 2), null, { padding: 1 }),
  },
  { name: 'conv2d 1x1', shapes: [[1, 4, 3, 3]], fn: (o, x) => o.conv2d(x, o.param(w1), null) },
  { name: 'linear 3-D', shapes: [[2, 3, 6]], fn: (o, x) => o.linear(x, o.param(wl), o.param(bl)) },
  {
    name: 'matMul 2-D',
    shapes: [
      [4, 6],
      [6, 3],
    ],
    fn: (o, x, c) => o.matMul(x, c),
  },
  {
    name: 'matMul x @ cT (Gemm transB)',
    shapes: [
      [4, 6],
      [3, 6],
    ],
    fn: (o, x, c) => o.matMul(x, o.transpose(c, [1, 0])),
  },
  {
    name: 'matMul cT @ x (Gemm transA)',
    shapes: [
      [4, 3],
      [4, 6],
    ],
    fn: (o, x, c) => o.matMul(o.transpose(c, [1, 0]), x),
  },
  {
    name: 'matMul xT @ c',
    shapes: [
      [6, 4],
      [6, 3],
    ],
    fn: (o, x, c) => o.matMul(o.transpose(x, [1, 0]), c),
  },
  {
    name: 'groupNorm NHWC',
    shapes: [[2, 3, 4, 6]],
    fn: (o, x) => o.groupNorm(x, 3, o.param(gamma6), o.param(beta6), 1e-6),
  },
  {
    name: 'groupNorm after conv',
    shapes: [[1, 5, 4, 3]],
    fn: (o, x) =>
      o.groupNorm(
        o.conv2d(x, o.param(w3), null, { padding: 1 }),
        2,
        o.constant(randomValues(4, 9), [4]),
        o.constant(randomValues(4, 10), [4]),
        1e-5,
      ),
  },
  {
    name: 'layerNorm',
    shapes: [[2, 3, 6]],
    fn: (o, x) => o.layerNorm(x, o.param(gamma6), o.param(beta6), 1e-5),
  },
  { name: 'softmax', shapes: [[2, 3, 5]], fn: (o, x) => o.softmax(o.scale(x, 3)) },
  {
    name: 'softmax on channels of a conv output',
    shapes: [[1, 3, 4, 3]],
    fn: (o, x) => o.softmax(o.conv2d(x, o.param(w3), null, { padding: 1 })),
  },
  { name: 'silu', shapes: [[2, 3, 4, 5]], fn: (o, x) => o.silu(o.scale(x, 4)) },
  { name: 'gelu', shapes: [[2, 7]], fn: (o, x) => o.gelu(o.scale(x, 3)) },
  { name: 'quickGelu', shapes: [[2, 7]], fn: (o, x) => o.quickGelu(o.scale(x, 3)) },
  {
    name: 'upsampleNearest x2',
    shapes: [[1, 3, 2, 3]],
    fn: (o, x) => o.upsampleNearest(o.conv2d(x, o.param(w3), null, { padding: 1 }), [6, 4]),
  },
  { name: 'upsampleNearest 3x2 -> 5x3', shapes: [[1, 3, 2, 2]], fn: (o, x) => o.upsampleNearest(x, [5, 3]) },
  {
    name: 'concat channels (mixed layouts)',
    shapes: [
      [1, 4, 3, 3],
      [1, 4, 3, 2],
    ],
    fn: (o, x, c) => o.concat([o.conv2d(x, o.param(w3), null, { padding: 1 }), c, x], 3),
  },
  {
    name: 'concat axis 1 of tokens',
    shapes: [
      [1, 2, 4],
      [1, 3, 4],
    ],
    fn: (o, x, c) => o.concat([c, x], 1),
  },
  {
    name: 'slice',
    shapes: [[2, 5, 4, 3]],
    fn: (o, x) => o.slice(o.conv2d(x, o.param(w3), null, { padding: 1 }), [1, 1, 0, 2], [1, -1, 3, 2]),
  },
  {
    name: 'split (GEGLU halves)',
    shapes: [[2, 3, 8]],
    fn: (o, x) => {
      const [a, b] = o.split(x, 2, 2);
      return o.mul(a, o.gelu(b));
    },
  },
  { name: 'split sizes, one part unused', shapes: [[2, 6, 3]], fn: (o, x) => o.split(x, [1, 2, 3], 1)[1] },
  {
    name: 'slices tiling an axis, with a gap and an overlap',
    shapes: [[2, 3, 7]],
    fn: (o, x) => {
      const part = (at: number) => o.slice(x, [0, 0, at], [2, 3, 2]);
      return o.concat([part(0), o.mul(part(2), part(1)), part(5)], 2);
    },
  },
  {
    name: 'reshape NHWC -> tokens',
    shapes: [[1, 3, 4, 3]],
    fn: (o, x) => o.reshape(o.conv2d(x, o.param(w3), null, { padding: 1 }), [1, 12, 4]),
  },
  {
    name: 'transpose then reshape',
    shapes: [[2, 3, 4]],
    fn: (o, x) => o.reshape(o.transpose(x, [0, 2, 1]), [8, 3]),
  },
  {
    name: 'add: bias, temb [B,1,1,C], residual',
    shapes: [
      [2, 3, 4, 4],
      [2, 4],
    ],
    fn: (o, x, t) => {
      const h = o.conv2d(x, o.param(w44), null, { padding: 1 });
      return o.add(o.add(h, o.reshape(t, [2, 1, 1, 4])), o.add(x, o.param(b4)));
    },
  },
  {
    name: 'sub and mul broadcasting',
    shapes: [
      [2, 3, 4],
      [3, 1],
    ],
    fn: (o, x, c) => o.mul(o.sub(x, c), o.sub(c, x)),
  },
  { name: 'mul x * x', shapes: [[3, 4]], fn: (o, x) => o.mul(x, x) },
  { name: 'clamp', shapes: [[4, 5]], fn: (o, x) => o.clamp(o.scale(x, 2), -1, 1) },
  {
    name: 'mean over channels',
    shapes: [[1, 4, 3, 3]],
    fn: (o, x) => o.mean(o.conv2d(x, o.param(w3), null, { padding: 1 }), [3]),
  },
  { name: 'mean keepDims', shapes: [[2, 3, 4]], fn: (o, x) => o.mean(x, [1, 2], true) },
  {
    name: 'gatherRows + add (constant branch)',
    shapes: [[2, 4]],
    fn: (o, x) => o.add(x, o.gatherRows(o.param(table), [3, 7])),
  },
  {
    name: 'cross-attention (K/V constant text)',
    shapes: [
      [1, 6, 4],
      [1, 2, 4],
    ],
    fn: (o, x, ctx) =>
      multiHeadAttention(
        o,
        o.linear(x, o.constant(randomValues(16, 12), [4, 4]), null),
        ctx,
        o.scale(ctx, 0.5),
        2,
        0.7,
      ),
  },
  {
    name: 'self-attention',
    shapes: [[2, 5, 4]],
    fn: (o, x) => multiHeadAttention(o, x, o.scale(x, 0.9), o.scale(x, 1.1), 2, 0.5),
  },
  {
    name: 'batched OnnxOps.attention = multiHeadAttention (cross, mask)',
    shapes: [
      [2, 6, 8],
      [2, 3, 8],
    ],
    fn: (o, x, ctx) => {
      const mask = o.constant(randomValues(18, 13), [6, 3]);
      const q = o.linear(x, o.constant(randomValues(64, 12), [8, 8]), null);
      if (o instanceof OnnxOps) return batched(o, [q, ctx, o.scale(ctx, 0.5), mask], 4, 0.7);
      return multiHeadAttention(o, q, ctx, o.scale(ctx, 0.5), 4, 0.7, mask);
    },
  },
  {
    name: 'batched OnnxOps.attention = multiHeadAttention (self)',
    shapes: [[1, 5, 6]],
    fn: (o, x) => {
      const [k, v] = [o.scale(x, 0.9), o.scale(x, 1.1)];
      return o instanceof OnnxOps ? batched(o, [x, k, v], 3, 0.5) : multiHeadAttention(o, x, k, v, 3, 0.5);
    },
  },
];

for (const c of CASES) {
  test(`onnx ${c.name}: forward and VJP equal tfjs`, async (t) => {
    const r = await parity(c);
    t.log(
      `${c.name}: forward relL2 ${r.forwardRel.toExponential(2)}, grad relL2 ${r.gradRel.toExponential(2)} [${r.outputShape}]`,
    );
    t.true(r.forwardRel < 1e-5, `forward relL2 ${r.forwardRel}`);
    t.true(r.gradRel < 1e-4, `grad relL2 ${r.gradRel}`);
  });
}

for (const c of CASES.filter((k) => k.name.startsWith('conv2d'))) {
  for (const convGrad of ['conv', 'convTranspose'] as const) {
    test(`onnx ${c.name}: input gradient by ${convGrad} equals tfjs too`, async (t) => {
      const r = await parity(c, { vjpOptions: { convGrad } });
      t.true(r.forwardRel < 1e-5 && r.gradRel < 1e-4, `forward ${r.forwardRel}, grad ${r.gradRel}`);
    });
  }
}

test('onnx: a VJP that nothing reaches is zeros; unused inputs are fine', async (t) => {
  const net = await OnnxNetwork.load(
    {
      name: 'unreached',
      key: 'unreached',
      inputs: [
        { name: 'x', shape: [2, 3] },
        { name: 'c', shape: [2, 3] },
      ],
      record: (o, [, c]) => o.silu(c),
    },
    { cacheDir: null, threads: 1, wrt: 'x' },
  );
  const c = randomValues(6, 3);
  const { output, grad } = await net.vjp({ x: randomValues(6, 4), c }, new Float32Array(6).fill(1));
  t.deepEqual([...grad], [0, 0, 0, 0, 0, 0]);
  t.true(Math.abs(output[0] - c[0] / (1 + Math.exp(-c[0]))) < 1e-6);
  await net.dispose();
});
