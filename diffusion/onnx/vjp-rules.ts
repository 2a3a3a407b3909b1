import { ApertureDepthError, check } from '../../core/errors.ts';
import { readOriginValues } from '../checkpoint/checkpoint-source.ts';
import { attr, sizeOf, type GraphNode, type OnnxGraph } from './graph-builder.ts';
import { floatAttr, intAttr, intsAttr, strAttr } from './shape-inference.ts';

/**
 * Vector-Jacobian products of the ONNX ops that networks record, one rule per op type. A rule gets the
 * forward node, the upstream gradient of each output (undefined where nothing flows back) and which
 * inputs need a gradient; it emits nodes and returns the gradient of each input. Weights never need
 * one (only input gradients are asked for), so Conv/MatMul rules skip their weight side when it is
 * constant.
 */

export interface VjpOptions {
  /**
   * How a convolution's input gradient is computed: `conv` = a Conv with the flipped, in/out-swapped
   * kernel (stride > 1 by zero insertion), `convTranspose` = ConvTranspose with the forward kernel,
   * `auto` = `conv` at stride 1 (1.15-1.25x faster than ConvTranspose here), ConvTranspose at stride 2
   * (zero insertion would do 4x the work). Measured by experiments/bench/onnx-blocks.ts.
   * @default 'auto'
   */
  readonly convGrad?: 'auto' | 'conv' | 'convTranspose';
}

export interface VjpContext {
  readonly g: OnnxGraph;
  readonly options: VjpOptions;
  /** A zeros tensor of `shape`. */
  zeros(shape: readonly number[]): string;
  /** Sums a broadcast gradient back to an operand's shape (numpy broadcasting undone). */
  sumTo(grad: string, shape: readonly number[]): string;
}

export type VjpRule = (
  ctx: VjpContext,
  node: GraphNode,
  gOut: readonly (string | undefined)[],
  needs: readonly boolean[],
) => (string | undefined)[];

const need = (node: GraphNode, needs: readonly boolean[]) => node.inputs.map((_, k) => needs[k]);

function upstream(node: GraphNode, gOut: readonly (string | undefined)[]): string {
  const gy = gOut[0];
  if (gy === undefined)
    throw new ApertureDepthError(`${node.op}: only the first output is differentiable`, { key: 'vjp' });
  return gy;
}

function rank(g: OnnxGraph, name: string): number {
  return g.shape(name).length;
}

/** Swap of the last two axes as a Transpose perm. */
function swapLast(r: number): number[] {
  const p = Array.from({ length: r }, (_, i) => i);
  [p[r - 2], p[r - 1]] = [p[r - 1], p[r - 2]];
  return p;
}

const elementwise =
  (f: (ctx: VjpContext, node: GraphNode, gy: string) => string): VjpRule =>
  (ctx, node, gOut, needs) => {
    const out: (string | undefined)[] = need(node, needs).map(() => undefined);
    if (needs[0]) out[0] = f(ctx, node, upstream(node, gOut));
    return out;
  };

/**
 * The backward kernel W'[i, o, a, b] = W[o, i, kh-1-a, kw-1-b]. For a weight initializer it is another
 * initializer written transformed (disk holds it, sessions open without folding ~GBs of constants);
 * otherwise a Transpose + reversing Slice.
 */
function flippedKernel(g: OnnxGraph, w: string): string {
  const init = g.initializers.get(w);
  const [o, i, kh, kw] = g.shape(w);
  if (init && init.dtype === 'float32') {
    check(!init.transform?.flip?.length, () => `kernel "${w}" is already flipped`, { key: 'vjp' });
    const flipped = { name: `${w}:flipped`, dtype: 'float32' as const, shape: [i, o, kh, kw], owner: init.owner ?? init };
    if (init.source) {
      // The forward kernel is the checkpoint's torch [out, in, kh, kw]: one transpose of the file's values.
      const source = init.source;
      return g.addInitializer({
        ...flipped,
        get data() {
          return readOriginValues(source);
        },
        transform: { perm: [1, 0, 2, 3], sourceShape: [o, i, kh, kw], flip: [2, 3] },
      });
    }
    // Compose with the forward weight's own transform (project layout [kh, kw, in, out] -> [out, in, kh, kw]).
    const src = init.transform?.sourceShape ?? init.shape;
    const fwdPerm = init.transform?.perm ?? [0, 1, 2, 3];
    const perm = [1, 0, 2, 3].map((a) => fwdPerm[a]);
    return g.addInitializer({
      ...flipped,
      get data() {
        return init.data;
      },
      transform: { perm, sourceShape: [...src], flip: [2, 3] },
    });
  }
  const swapped = g.op('Transpose', [w], { perm: attr.ints([1, 0, 2, 3]) });
  return g.op('Slice', [
    swapped,
    g.int64([-1, -1]),
    g.int64([-(kh + 1), -(kw + 1)]),
    g.int64([2, 3]),
    g.int64([-1, -1]),
  ]);
}

function convInputGrad(ctx: VjpContext, node: GraphNode, gy: string): string {
  const { g } = ctx;
  const x = g.shape(node.inputs[0]);
  const w = g.shape(node.inputs[1]);
  const spatial = x.length - 2;
  check(spatial === 2, () => `Conv VJP supports 2-D convolutions, got ${spatial}-D`, { key: 'vjp' });
  check(intAttr(node.attrs, 'group', 1) === 1, () => 'Conv VJP supports group = 1 only', { key: 'vjp' });
  const dil = intsAttr(node.attrs, 'dilations') ?? [1, 1];
  check(
    dil.every((d) => d === 1),
    () => 'Conv VJP supports dilation 1 only',
    { key: 'vjp' },
  );
  const strides = intsAttr(node.attrs, 'strides') ?? [1, 1];
  const pads = intsAttr(node.attrs, 'pads') ?? [0, 0, 0, 0];
  const outShape = g.shape(gy);
  const k = [w[2], w[3]];
  // Rows/cols of the padded input that no output window reaches: their gradient is zero.
  const rest = [0, 1].map(
    (i) => x[2 + i] + pads[i] + pads[i + 2] - ((outShape[2 + i] - 1) * strides[i] + k[i]),
  );

  const mode = ctx.options.convGrad ?? 'auto';
  if (mode === 'convTranspose' || (mode === 'auto' && strides.some((s) => s > 1))) {
    return g.op('ConvTranspose', [gy, node.inputs[1]], {
      kernel_shape: attr.ints(k),
      strides: attr.ints(strides),
      pads: attr.ints(pads),
      output_padding: attr.ints(rest),
    });
  }
  const flipped = flippedKernel(g, node.inputs[1]);
  let src = gy;
  if (strides.some((s) => s > 1)) {
    // Zero insertion: [N, C, Ho, Wo] -> [N, C, (Ho-1)*sh+1, (Wo-1)*sw+1].
    const [n, c, ho, wo] = outShape;
    const [sh, sw] = strides;
    const six = g.op('Reshape', [gy, g.int64([n, c, ho, 1, wo, 1])]);
    const padded = g.op('Pad', [six, g.int64([0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1])]);
    const spread = g.op('Reshape', [padded, g.int64([n, c, ho * sh, wo * sw])]);
    src = g.op('Slice', [
      spread,
      g.int64([0, 0]),
      g.int64([(ho - 1) * sh + 1, (wo - 1) * sw + 1]),
      g.int64([2, 3]),
    ]);
  }
  const p = [
    k[0] - 1 - pads[0],
    k[1] - 1 - pads[1],
    k[0] - 1 - pads[2] + rest[0],
    k[1] - 1 - pads[3] + rest[1],
  ];
  check(
    p.every((v) => v >= 0),
    () => `Conv VJP: padding [${pads}] larger than kernel-1 is not supported`,
    { key: 'vjp' },
  );
  return g.op('Conv', [src, flipped], { kernel_shape: attr.ints(k), pads: attr.ints(p) });
}

/** Gradient of a normalization over `axes` given xhat-like inputs: rstd * (gs - mean(gs) - xhat * mean(gs * xhat)). */
function normGrad(g: OnnxGraph, gs: string, xhat: string, rstd: string, axes: readonly number[]): string {
  const mean = (v: string) => g.op('ReduceMean', [v], { axes: attr.ints(axes), keepdims: attr.int(1) });
  const a = g.op('Sub', [gs, mean(gs)]);
  const b = g.op('Mul', [xhat, mean(g.op('Mul', [gs, xhat]))]);
  return g.op('Mul', [g.op('Sub', [a, b]), rstd]);
}

/** True when an initializer holds only `value` (e.g. the unit scale of a decomposed GroupNorm). */
function isConstantFill(g: OnnxGraph, name: string, value: number): boolean {
  const init = g.initializers.get(name);
  if (!init || init.dtype !== 'float32') return false;
  return (init.data as Float32Array).every((v) => v === value);
}

export const VJP_RULES: Readonly<Record<string, VjpRule>> = Object.freeze({
  Identity: elementwise((_c, _n, gy) => gy),
  Neg: elementwise(({ g }, _n, gy) => g.op('Neg', [gy])),

  Add: (ctx, node, gOut, needs) => {
    const gy = upstream(node, gOut);
    return node.inputs.map((i, k) => (needs[k] ? ctx.sumTo(gy, ctx.g.shape(i)) : undefined));
  },
  Sub: (ctx, node, gOut, needs) => {
    const gy = upstream(node, gOut);
    return [
      needs[0] ? ctx.sumTo(gy, ctx.g.shape(node.inputs[0])) : undefined,
      needs[1] ? ctx.sumTo(ctx.g.op('Neg', [gy]), ctx.g.shape(node.inputs[1])) : undefined,
    ];
  },
  Mul: (ctx, node, gOut, needs) => {
    const gy = upstream(node, gOut);
    const [a, b] = node.inputs;
    return [
      needs[0] ? ctx.sumTo(ctx.g.op('Mul', [gy, b]), ctx.g.shape(a)) : undefined,
      needs[1] ? ctx.sumTo(ctx.g.op('Mul', [gy, a]), ctx.g.shape(b)) : undefined,
    ];
  },
  Div: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    const gy = upstream(node, gOut);
    const [a, b] = node.inputs;
    const y = node.outputs[0];
    return [
      needs[0] ? ctx.sumTo(g.op('Div', [gy, b]), g.shape(a)) : undefined,
      needs[1] ? ctx.sumTo(g.op('Neg', [g.op('Div', [g.op('Mul', [gy, y]), b])]), g.shape(b)) : undefined,
    ];
  },

  Sigmoid: elementwise(({ g }, node, gy) => {
    const y = node.outputs[0];
    return g.op('Mul', [gy, g.op('Mul', [y, g.op('Sub', [g.scalar(1), y])])]);
  }),
  Tanh: elementwise(({ g }, node, gy) => {
    const y = node.outputs[0];
    return g.op('Mul', [gy, g.op('Sub', [g.scalar(1), g.op('Mul', [y, y])])]);
  }),
  Exp: elementwise(({ g }, node, gy) => g.op('Mul', [gy, node.outputs[0]])),
  Sqrt: elementwise(({ g }, node, gy) => g.op('Div', [g.op('Mul', [gy, g.scalar(0.5)]), node.outputs[0]])),
  Reciprocal: elementwise(({ g }, node, gy) => {
    const y = node.outputs[0];
    return g.op('Neg', [g.op('Mul', [gy, g.op('Mul', [y, y])])]);
  }),
  Erf: elementwise(({ g }, node, gy) => {
    // d erf(u) / du = 2 / sqrt(pi) * exp(-u^2)
    const u = node.inputs[0];
    const e = g.op('Exp', [g.op('Neg', [g.op('Mul', [u, u])])]);
    return g.op('Mul', [gy, g.op('Mul', [e, g.scalar(2 / Math.sqrt(Math.PI))])]);
  }),
  Clip: elementwise(({ g }, node, gy) => {
    // torch and tfjs pass the gradient where lo <= x <= hi (inclusive).
    const x = node.inputs[0];
    let mask: string | undefined;
    if (node.inputs[1]) mask = g.op('GreaterOrEqual', [x, node.inputs[1]]);
    if (node.inputs[2]) {
      const le = g.op('LessOrEqual', [x, node.inputs[2]]);
      mask = mask ? g.op('And', [mask, le]) : le;
    }
    return mask ? g.op('Where', [mask, gy, g.scalar(0)]) : gy;
  }),

  Softmax: elementwise(({ g }, node, gy) => {
    const y = node.outputs[0];
    const axis = intAttr(node.attrs, 'axis', -1);
    const s = g.op('ReduceSum', [g.op('Mul', [gy, y]), g.int64([axis])], { keepdims: attr.int(1) });
    return g.op('Mul', [y, g.op('Sub', [gy, s])]);
  }),

  MatMul: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    const gy = upstream(node, gOut);
    const [a, b] = node.inputs;
    const ra = rank(g, a);
    const rb = rank(g, b);
    let ga: string | undefined;
    let gb: string | undefined;
    if (needs[0]) {
      if (rb === 2) {
        // [..., M, N] x [K, N]^T as one 2-D Gemm: no transposed copy of a (possibly huge) weight.
        const n = g.shape(gy)[g.shape(gy).length - 1];
        const flat = g.op('Reshape', [gy, g.int64([-1, n])]);
        const prod = g.op('Gemm', [flat, b], { transB: attr.int(1) });
        ga = ctx.sumTo(
          g.op('Reshape', [prod, g.int64([...g.shape(gy).slice(0, -1), g.shape(b)[0]])]),
          g.shape(a),
        );
      } else {
        ga = ctx.sumTo(
          g.op('MatMul', [gy, g.op('Transpose', [b], { perm: attr.ints(swapLast(rb)) })]),
          g.shape(a),
        );
      }
    }
    if (needs[1]) {
      gb = ctx.sumTo(
        g.op('MatMul', [g.op('Transpose', [a], { perm: attr.ints(swapLast(ra)) }), gy]),
        g.shape(b),
      );
    }
    return [ga, gb];
  },

  Gemm: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    const gy = upstream(node, gOut);
    check(
      floatAttr(node.attrs, 'alpha', 1) === 1 && floatAttr(node.attrs, 'beta', 1) === 1,
      () => 'Gemm VJP needs alpha = beta = 1',
      {
        key: 'vjp',
      },
    );
    const ta = intAttr(node.attrs, 'transA', 0);
    const tb = intAttr(node.attrs, 'transB', 0);
    const [a, b, c] = node.inputs;
    const out: (string | undefined)[] = [undefined, undefined, undefined];
    if (needs[0]) {
      out[0] = ta
        ? g.op('Gemm', [b, gy], { transA: attr.int(tb), transB: attr.int(1) })
        : g.op('Gemm', [gy, b], { transB: attr.int(tb ? 0 : 1) });
    }
    if (needs[1]) {
      out[1] = tb
        ? g.op('Gemm', [gy, a], { transA: attr.int(1), transB: attr.int(ta) })
        : g.op('Gemm', [a, gy], { transA: attr.int(ta ? 0 : 1) });
    }
    if (c && needs[2]) out[2] = ctx.sumTo(gy, g.shape(c));
    return out.slice(0, node.inputs.length);
  },

  Conv: (ctx, node, gOut, needs) => {
    check(!needs[1] && !needs[2], () => 'Conv VJP: gradients of weights or bias are not supported', {
      key: 'vjp',
    });
    return [
      needs[0] ? convInputGrad(ctx, node, upstream(node, gOut)) : undefined,
      undefined,
      undefined,
    ].slice(0, node.inputs.length);
  },

  InstanceNormalization: (ctx, node, gOut, needs) => {
    check(!needs[1] && !needs[2], () => 'InstanceNormalization VJP: scale/bias gradients are not supported', {
      key: 'vjp',
    });
    const { g } = ctx;
    if (!needs[0]) return [undefined, undefined, undefined];
    const gy = upstream(node, gOut);
    const [x, scale] = node.inputs;
    const shape = g.shape(x);
    const axes = shape.map((_, i) => i).slice(2);
    const eps = floatAttr(node.attrs, 'epsilon', 1e-5);
    // Statistics are recomputed (cheap, memory-bound) rather than kept from the forward.
    const mean = g.op('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.int(1) });
    const xc = g.op('Sub', [x, mean]);
    const v = g.op('ReduceMean', [g.op('Mul', [xc, xc])], { axes: attr.ints(axes), keepdims: attr.int(1) });
    const rstd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [v, g.scalar(eps)])])]);
    const xhat = g.op('Mul', [xc, rstd]);
    let gs = gy;
    if (!isConstantFill(g, scale, 1)) {
      const cshape = [shape[1], ...axes.map(() => 1)];
      gs = g.op('Mul', [gy, g.op('Reshape', [scale, g.int64(cshape)])]);
    }
    return [normGrad(g, gs, xhat, rstd, axes), undefined, undefined];
  },

  LayerNormalization: (ctx, node, gOut, needs) => {
    check(!needs[1] && !needs[2], () => 'LayerNormalization VJP: scale/bias gradients are not supported', {
      key: 'vjp',
    });
    const { g } = ctx;
    if (!needs[0]) return node.inputs.map(() => undefined);
    check(node.outputs.length === 3, () => 'LayerNormalization VJP needs the Mean and InvStdDev outputs', {
      key: 'vjp',
    });
    check(
      gOut[1] === undefined && gOut[2] === undefined,
      () => 'LayerNormalization VJP: Mean/InvStdDev are not differentiable here',
      {
        key: 'vjp',
      },
    );
    const gy = upstream(node, gOut);
    const [x, scale] = node.inputs;
    const r = rank(g, x);
    const axis0 = intAttr(node.attrs, 'axis', -1);
    const axis = axis0 < 0 ? axis0 + r : axis0;
    const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
    const [, mean, rstd] = node.outputs;
    const xhat = g.op('Mul', [g.op('Sub', [x, mean]), rstd]);
    const gs = isConstantFill(g, scale, 1) ? gy : g.op('Mul', [gy, scale]);
    return [normGrad(g, gs, xhat, rstd, axes), undefined, undefined];
  },

  Resize: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    const gy = upstream(node, gOut);
    check(
      strAttr(node.attrs, 'mode', 'nearest') === 'nearest',
      () => 'Resize VJP supports mode "nearest" only',
      { key: 'vjp' },
    );
    check(
      strAttr(node.attrs, 'coordinate_transformation_mode', '') === 'asymmetric' &&
        strAttr(node.attrs, 'nearest_mode', '') === 'floor',
      () => 'Resize VJP supports asymmetric/floor nearest only (torch "nearest")',
      { key: 'vjp' },
    );
    if (!needs[0]) return node.inputs.map(() => undefined);
    const [n, c, h, w] = g.shape(node.inputs[0]);
    const [, , ho, wo] = g.shape(gy);
    let gx: string;
    if (ho % h === 0 && wo % w === 0) {
      // Integer factors: every input pixel owns an fh x fw block -> sum-pool it.
      const fh = ho / h;
      const fw = wo / w;
      const six = g.op('Reshape', [gy, g.int64([n, c, h, fh, w, fw])]);
      gx = g.op('ReduceSum', [six, g.int64([3, 5])], { keepdims: attr.int(0) });
    } else {
      // General sizes: scatter-add as two small 0/1 matrix products, indices as onnxruntime computes them.
      const sel = (inDim: number, outDim: number): Float32Array => {
        const m = new Float32Array(outDim * inDim);
        const scale = Math.fround(outDim / inDim);
        for (let j = 0; j < outDim; j++) {
          const src = Math.min(inDim - 1, Math.floor(Math.fround(j / scale)));
          m[j * inDim + src] = 1;
        }
        return m;
      };
      const mw = g.constant(sel(w, wo), [wo, w], 'resize_sel_w'); // [Wo, W]
      const mhT = g.constant(transpose2d(sel(h, ho), ho, h), [h, ho], 'resize_sel_hT'); // [H, Ho]
      gx = g.op('MatMul', [mhT, g.op('MatMul', [gy, mw])]);
    }
    return [gx, ...node.inputs.slice(1).map(() => undefined)];
  },

  Concat: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    const gy = upstream(node, gOut);
    const r = rank(g, gy);
    const axis0 = intAttr(node.attrs, 'axis', 0);
    const axis = axis0 < 0 ? axis0 + r : axis0;
    let offset = 0;
    return node.inputs.map((i, k) => {
      const d = g.shape(i)[axis];
      const start = offset;
      offset += d;
      if (!needs[k]) return undefined;
      return g.op('Slice', [gy, g.int64([start]), g.int64([start + d]), g.int64([axis])]);
    });
  },

  Split: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    if (!needs[0]) return node.inputs.map(() => undefined);
    const r = rank(g, node.inputs[0]);
    const axis0 = intAttr(node.attrs, 'axis', 0);
    const axis = axis0 < 0 ? axis0 + r : axis0;
    const parts = node.outputs.map((o, k) => gOut[k] ?? ctx.zeros(g.shape(o)));
    return [g.op('Concat', parts, { axis: attr.int(axis) }), ...node.inputs.slice(1).map(() => undefined)];
  },

  Slice: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    if (!needs[0]) return node.inputs.map(() => undefined);
    const gy = upstream(node, gOut);
    const x = g.shape(node.inputs[0]);
    const starts = g.intValues(node.inputs[1]);
    const ends = g.intValues(node.inputs[2]);
    const axes = node.inputs[3] ? g.intValues(node.inputs[3]) : starts.map((_, i) => i);
    const steps = node.inputs[4] ? g.intValues(node.inputs[4]) : starts.map(() => 1);
    check(
      steps.every((s) => s === 1),
      () => 'Slice VJP supports step 1 only',
      { key: 'vjp' },
    );
    const pads = new Array<number>(2 * x.length).fill(0);
    axes.forEach((a0, k) => {
      const a = a0 < 0 ? a0 + x.length : a0;
      const d = x[a];
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      pads[a] = norm(starts[k]);
      pads[a + x.length] = d - norm(ends[k]);
    });
    return [g.op('Pad', [gy, g.int64(pads)]), ...node.inputs.slice(1).map(() => undefined)];
  },

  Reshape: (ctx, node, gOut, needs) => [
    needs[0]
      ? ctx.g.op('Reshape', [upstream(node, gOut), ctx.g.int64(ctx.g.shape(node.inputs[0]))])
      : undefined,
    undefined,
  ],
  Unsqueeze: (ctx, node, gOut, needs) => [
    needs[0]
      ? ctx.g.op('Reshape', [upstream(node, gOut), ctx.g.int64(ctx.g.shape(node.inputs[0]))])
      : undefined,
    undefined,
  ],
  Squeeze: (ctx, node, gOut, needs) => [
    needs[0]
      ? ctx.g.op('Reshape', [upstream(node, gOut), ctx.g.int64(ctx.g.shape(node.inputs[0]))])
      : undefined,
    undefined,
  ],
  Transpose: elementwise(({ g }, node, gy) => {
    const r = rank(g, node.inputs[0]);
    const perm = intsAttr(node.attrs, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return g.op('Transpose', [gy], { perm: attr.ints(inv) });
  }),
  Expand: (ctx, node, gOut, needs) => [
    needs[0] ? ctx.sumTo(upstream(node, gOut), ctx.g.shape(node.inputs[0])) : undefined,
    undefined,
  ],

  ReduceMean: elementwise(({ g }, node, gy) => {
    const x = g.shape(node.inputs[0]);
    const axes = (intsAttr(node.attrs, 'axes') ?? x.map((_, i) => i)).map((a) => (a < 0 ? a + x.length : a));
    const count = axes.reduce((p, a) => p * x[a], 1);
    const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
    const g1 = intAttr(node.attrs, 'keepdims', 1) ? gy : g.op('Reshape', [gy, g.int64(kept)]);
    return g.op('Expand', [g.op('Mul', [g1, g.scalar(1 / count)]), g.int64(x)]);
  }),
  ReduceSum: (ctx, node, gOut, needs) => {
    const { g } = ctx;
    if (!needs[0]) return node.inputs.map(() => undefined);
    const gy = upstream(node, gOut);
    const x = g.shape(node.inputs[0]);
    const axes = (node.inputs[1] ? g.intValues(node.inputs[1]) : x.map((_, i) => i)).map((a) =>
      a < 0 ? a + x.length : a,
    );
    const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
    const g1 = intAttr(node.attrs, 'keepdims', 1) ? gy : g.op('Reshape', [gy, g.int64(kept)]);
    return [g.op('Expand', [g1, g.int64(x)]), undefined];
  },
});

function transpose2d(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
  return out;
}

/** Size of a value, for reports. */
export function valueSize(g: OnnxGraph, name: string): number {
  return sizeOf(g.shape(name));
}
