import { ApertureDepthError, check } from '../../core/errors.ts';
import { readOriginValues } from '../checkpoint/checkpoint-source.ts';
import { fromTorch, torchPerm } from '../checkpoint/layout.ts';
import type { Param } from '../checkpoint/param.ts';
import { explicitPadding, type Conv2dOptions, type Ops } from '../ops/ops.ts';
import { attr, sizeOf, type Initializer, type OnnxGraph } from './graph-builder.ts';

/**
 * `Ops` that records ONNX nodes instead of computing. Networks see the project's logical layout (NHWC
 * feature maps, `[kh, kw, in, out]` filters); underneath, each tensor carries the permutation of its
 * PHYSICAL layout, so convolutions and group norms run on NCHW as onnxruntime wants and a transpose is
 * only emitted where an op needs another order (a reshape to tokens, a linear layer). `transpose` itself
 * never emits a node. Shapes are static: `shape()` answers while the network is traced.
 */
export class SymbolicTensor {
  constructor(
    /** Name of the physical value in the graph. */
    readonly name: string,
    /** The shape the network sees. */
    readonly shape: readonly number[],
    /** physical shape[i] = logical shape[perm[i]]. */
    readonly perm: readonly number[],
    /** Set when this tensor is a network weight not yet bound to an initializer. */
    readonly param?: Param,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
}

const ONNX_BINDING = Symbol('onnx');
const identity = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const isIdentity = (p: readonly number[]): boolean => p.every((v, i) => v === i);
const samePerm = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
const invert = (p: readonly number[]): number[] => {
  const inv = new Array<number>(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
};
/** NHWC logical -> NCHW physical (and in general: channels-last -> channels-first). */
const channelsFirst = (rank: number): number[] => [0, rank - 1, ...identity(rank).slice(1, rank - 1)];

/**
 * A Param's values for its initializers, bound to the Param once (one read, shared by every initializer
 * of that weight). Any other weight is pinned now, since the Param may drop its host copy later. A
 * checkpoint weight (`origin`) not yet in memory is read from its file on first use (a transformed copy,
 * in-memory sessions): one the disk cache links from the file is never loaded.
 */
function paramValues(p: Param): () => Float32Array {
  return p.bind<() => Float32Array>(ONNX_BINDING, () => {
    const origin = p.origin;
    let values = origin ? undefined : p.hostData();
    return {
      value: () => (values ??= fromTorch(readOriginValues(origin!, p.name), p.shape, p.layout)),
      dispose: () => undefined,
    };
  });
}

/** An initializer over a Param's values (read through {@link paramValues} when first needed). */
function paramInit(p: Param, init: Omit<Initializer, 'dtype' | 'data' | 'owner'>): Initializer {
  const values = paramValues(p);
  return {
    ...init,
    dtype: 'float32',
    owner: p,
    get data() {
      return values();
    },
  };
}

export class OnnxOps implements Ops<SymbolicTensor> {
  readonly name = 'onnx';
  /** Cache of layout conversions: `${value}|${perm}` -> value. */
  private readonly converted = new Map<string, string>();

  constructor(
    readonly graph: OnnxGraph,
    /**
     * Point float32 checkpoint weights at their file's bytes (the disk cache links the file instead of
     * writing a copy; linear layers then run as Gemm on the torch-order weights). Off by default: see
     * `OnnxNetworkOptions.linkCheckpoint`.
     */
    private readonly linkCheckpoint = false,
  ) {}

  // ---- graph boundary -------------------------------------------------------------------------

  /** A graph input in logical layout (what callers feed, e.g. an NHWC latent). */
  input(name: string, shape: readonly number[]): SymbolicTensor {
    this.graph.addInput(name, shape);
    return new SymbolicTensor(name, [...shape], identity(shape.length));
  }

  /** Marks `x` (in logical layout unless `perm` says otherwise) as a graph output named `name`. */
  output(x: SymbolicTensor, name: string, perm: readonly number[] = identity(x.rank)): string {
    // A named Identity: graph outputs keep stable names across rebuilds.
    const named = this.graph.node('Identity', [this.physical(x, perm)], {}, 1, [name])[0];
    this.graph.addOutput(named);
    return named;
  }

  // ---- Ops -------------------------------------------------------------------------------------

  param(p: Param): SymbolicTensor {
    return new SymbolicTensor('', [...p.shape], identity(p.shape.length), p);
  }

  constant(data: Float32Array, shape: readonly number[]): SymbolicTensor {
    const name = this.graph.constant(data, shape);
    return new SymbolicTensor(name, [...shape], identity(shape.length));
  }

  shape(x: SymbolicTensor): number[] {
    return [...x.shape];
  }

  conv2d(
    x: SymbolicTensor,
    w: SymbolicTensor,
    b: SymbolicTensor | null,
    options: Conv2dOptions = {},
  ): SymbolicTensor {
    check(
      x.rank === 4 && w.rank === 4,
      () => `conv2d expects NHWC x and [kh, kw, in, out] w, got [${x.shape}] and [${w.shape}]`,
      {
        key: 'conv2d',
      },
    );
    check(
      x.shape[3] === w.shape[2],
      () => `conv2d: x has ${x.shape[3]} channels, filter expects ${w.shape[2]}`,
      {
        key: 'conv2d',
      },
    );
    const [top, bottom, left, right] = explicitPadding(options.padding);
    const stride = options.stride ?? 1;
    const inputs = [this.physical(x, [0, 3, 1, 2]), this.physical(w, [3, 2, 0, 1])];
    if (b) inputs.push(this.physical(b, [0]));
    const y = this.graph.op('Conv', inputs, {
      kernel_shape: attr.ints([w.shape[0], w.shape[1]]),
      pads: attr.ints([top, left, bottom, right]),
      strides: attr.ints([stride, stride]),
    });
    const [n, c, h, wd] = this.graph.shape(y);
    return new SymbolicTensor(y, [n, h, wd, c], [0, 3, 1, 2]);
  }

  linear(x: SymbolicTensor, w: SymbolicTensor, b: SymbolicTensor | null): SymbolicTensor {
    const inDim = x.shape[x.rank - 1];
    check(
      w.rank === 2 && w.shape[0] === inDim,
      () => `linear: x [${x.shape}] does not match weight [${w.shape}] ([in, out])`,
      {
        key: 'linear',
      },
    );
    const outDim = w.shape[1];
    const outShape = [...x.shape.slice(0, -1), outDim];
    let y: string;
    if (this.linkCheckpoint && w.param?.origin) {
      // A checkpoint weight in torch order [out, in] (the file's own bytes, linked by the disk cache) read
      // through Gemm's transB: no transposed copy, and the input gradient is a plain Gemm on the same bytes.
      // Gemm is 2-D, so the leading axes are folded into rows (Reshape is free). Other weights keep MatMul:
      // the two round differently, and the defocus optimization's scale/shift grid search can flip between
      // near-tied candidates on such differences (the demo scene moved from abs_rel 0.091 to 0.151), so
      // results of weights with no file (random, float16) stay as they were.
      const x2 = x.rank === 2 ? this.physical(x, [0, 1]) : this.graph.op('Reshape', [this.physical(x, identity(x.rank)), this.graph.int64([-1, inDim])]);
      y = this.graph.op('Gemm', [x2, this.physical(w, [1, 0])], { transB: attr.int(1) });
      if (x.rank !== 2) y = this.graph.op('Reshape', [y, this.graph.int64(outShape)]);
    } else {
      y = this.graph.op('MatMul', [this.physical(x, identity(x.rank)), this.physical(w, [0, 1])]);
    }
    if (b) y = this.graph.op('Add', [y, this.physical(b, [0])]);
    return new SymbolicTensor(y, outShape, identity(x.rank));
  }

  matMul(a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor {
    check(
      a.rank === 2 && b.rank === 2 && a.shape[1] === b.shape[0],
      () => `matMul: [${a.shape}] @ [${b.shape}]`,
      {
        key: 'matMul',
      },
    );
    // A lazily transposed operand becomes a Gemm flag instead of a copy.
    const ta = a.param === undefined && samePerm(a.perm, [1, 0]);
    const tb = b.param === undefined && samePerm(b.perm, [1, 0]);
    const pa = ta ? a.name : this.physical(a, [0, 1]);
    const pb = tb ? b.name : this.physical(b, [0, 1]);
    const y =
      ta || tb
        ? this.graph.op('Gemm', [pa, pb], { transA: attr.int(ta ? 1 : 0), transB: attr.int(tb ? 1 : 0) })
        : this.graph.op('MatMul', [pa, pb]);
    return new SymbolicTensor(y, [a.shape[0], b.shape[1]], [0, 1]);
  }

  groupNorm(
    x: SymbolicTensor,
    groups: number,
    gamma: SymbolicTensor,
    beta: SymbolicTensor,
    eps: number,
  ): SymbolicTensor {
    const c = x.shape[x.rank - 1];
    check(c % groups === 0, () => `groupNorm: ${c} channels not divisible into ${groups} groups`, {
      key: 'groupNorm',
    });
    const perm = channelsFirst(x.rank);
    const phys = this.physical(x, perm);
    const physShape = this.graph.shape(phys);
    const g = this.graph;
    // [B, C, ...] -> [B, G, C/G * ...]: InstanceNormalization normalizes each (b, g) row.
    const rows = g.op('Reshape', [phys, g.int64([x.shape[0], groups, -1])]);
    const ones = g.constant(new Float32Array(groups).fill(1), [groups], 'gn_ones');
    const zeros = g.constant(new Float32Array(groups), [groups], 'gn_zeros');
    const normed = g.op('InstanceNormalization', [rows, ones, zeros], { epsilon: attr.float(eps) });
    const back = g.op('Reshape', [normed, g.int64(physShape)]);
    const bshape = [c, ...Array<number>(x.rank - 2).fill(1)];
    const scaled = g.op('Mul', [back, this.reshapedParam(gamma, bshape)]);
    const y = g.op('Add', [scaled, this.reshapedParam(beta, bshape)]);
    return new SymbolicTensor(y, [...x.shape], perm);
  }

  layerNorm(x: SymbolicTensor, gamma: SymbolicTensor, beta: SymbolicTensor, eps: number): SymbolicTensor {
    const phys = this.physical(x, identity(x.rank));
    // Mean and InvStdDev are requested so the VJP rule can reuse them.
    const [y] = this.graph.node(
      'LayerNormalization',
      [phys, this.physical(gamma, [0]), this.physical(beta, [0])],
      { axis: attr.int(-1), epsilon: attr.float(eps) },
      3,
    );
    return new SymbolicTensor(y, [...x.shape], identity(x.rank));
  }

  softmax(x: SymbolicTensor): SymbolicTensor {
    const axis = x.perm.indexOf(x.rank - 1);
    const y = this.graph.op('Softmax', [this.physical(x, x.perm)], { axis: attr.int(axis) });
    return new SymbolicTensor(y, [...x.shape], x.perm);
  }

  silu(x: SymbolicTensor): SymbolicTensor {
    const p = this.physical(x, x.perm);
    return this.like(x, this.graph.op('Mul', [p, this.graph.op('Sigmoid', [p])]));
  }

  gelu(x: SymbolicTensor): SymbolicTensor {
    const g = this.graph;
    const p = this.physical(x, x.perm);
    const e = g.op('Erf', [g.op('Mul', [p, g.scalar(Math.SQRT1_2)])]);
    const y = g.op('Mul', [g.op('Mul', [p, g.scalar(0.5)]), g.op('Add', [e, g.scalar(1)])]);
    return this.like(x, y);
  }

  quickGelu(x: SymbolicTensor): SymbolicTensor {
    const g = this.graph;
    const p = this.physical(x, x.perm);
    return this.like(x, g.op('Mul', [p, g.op('Sigmoid', [g.op('Mul', [p, g.scalar(1.702)])])]));
  }

  upsampleNearest(x: SymbolicTensor, size: readonly [number, number]): SymbolicTensor {
    check(x.rank === 4, () => `upsampleNearest expects NHWC, got [${x.shape}]`, { key: 'upsampleNearest' });
    const [n, h, w, c] = x.shape;
    if (h === size[0] && w === size[1]) return x;
    const phys = this.physical(x, [0, 3, 1, 2]);
    const g = this.graph;
    const y = g.op('Resize', [phys, '', '', g.int64([n, c, size[0], size[1]])], {
      mode: attr.str('nearest'),
      coordinate_transformation_mode: attr.str('asymmetric'),
      nearest_mode: attr.str('floor'),
    });
    return new SymbolicTensor(y, [n, size[0], size[1], c], [0, 3, 1, 2]);
  }

  concat(xs: readonly SymbolicTensor[], axis: number): SymbolicTensor {
    check(xs.length > 0, () => 'concat of no tensors', { key: 'concat' });
    if (xs.length === 1) return xs[0];
    // Join in the layout of the biggest part (usually the feature map, not a broadcast constant).
    const lead = xs.reduce((a, b) => (sizeOf(b.shape) > sizeOf(a.shape) ? b : a));
    const perm = lead.param ? identity(lead.rank) : lead.perm;
    const names = xs.map((t) => this.physical(t, perm));
    const y = this.graph.op('Concat', names, { axis: attr.int(perm.indexOf(axis)) });
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
    return new SymbolicTensor(y, shape, [...perm]);
  }

  reshape(x: SymbolicTensor, shape: readonly number[]): SymbolicTensor {
    const total = sizeOf(x.shape);
    const known = shape.reduce((a, d) => a * (d === -1 ? 1 : d), 1);
    const target = shape.map((d) => (d === -1 ? total / known : d));
    check(sizeOf(target) === total, () => `reshape: [${x.shape}] cannot become [${shape}]`, {
      key: 'reshape',
    });
    if (x.param) {
      const init = this.paramInitializer(x.param, identity(x.rank));
      const y = this.graph.op('Reshape', [init, this.graph.int64(target)]);
      return new SymbolicTensor(y, target, identity(target.length));
    }
    const y = this.graph.op('Reshape', [this.physical(x, identity(x.rank)), this.graph.int64(target)]);
    return new SymbolicTensor(y, target, identity(target.length));
  }

  transpose(x: SymbolicTensor, perm: readonly number[]): SymbolicTensor {
    check(
      perm.length === x.rank && [...perm].sort().every((v, i) => v === i),
      () => `transpose: bad perm [${perm}]`,
      {
        key: 'transpose',
      },
    );
    const shape = perm.map((p) => x.shape[p]);
    if (x.param) {
      // Weights are bound in their own layout; a transposed weight is just a differently laid out initializer.
      const name = this.paramInitializer(x.param, perm);
      return new SymbolicTensor(name, shape, identity(x.rank));
    }
    const inv = invert(perm);
    return new SymbolicTensor(
      x.name,
      shape,
      x.perm.map((p) => inv[p]),
    );
  }

  slice(x: SymbolicTensor, begin: readonly number[], size: readonly number[]): SymbolicTensor {
    const shape = x.shape.map((d, i) => (size[i] === -1 ? d - begin[i] : size[i]));
    shape.forEach((d, i) =>
      check(
        begin[i] >= 0 && d >= 0 && begin[i] + d <= x.shape[i],
        () => `slice: [${begin}]+[${size}] outside [${x.shape}]`,
        {
          key: 'slice',
        },
      ),
    );
    const perm = x.param ? identity(x.rank) : x.perm;
    const phys = this.physical(x, perm);
    const axes: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    perm.forEach((l, p) => {
      if (begin[l] === 0 && shape[l] === x.shape[l]) return;
      axes.push(p);
      starts.push(begin[l]);
      ends.push(begin[l] + shape[l]);
    });
    if (axes.length === 0) return x;
    const g = this.graph;
    const y = g.op('Slice', [phys, g.int64(starts), g.int64(ends), g.int64(axes)]);
    return new SymbolicTensor(y, shape, [...perm]);
  }

  split(x: SymbolicTensor, parts: number | readonly number[], axis: number): SymbolicTensor[] {
    const d = x.shape[axis];
    const sizes = typeof parts === 'number' ? Array<number>(parts).fill(d / parts) : [...parts];
    check(
      sizes.every((s) => Number.isInteger(s) && s > 0) && sizes.reduce((a, b) => a + b, 0) === d,
      () => `split: ${d} along axis ${axis} cannot split into [${sizes}]`,
      { key: 'split' },
    );
    const perm = x.param ? identity(x.rank) : x.perm;
    const g = this.graph;
    const outs = g.node(
      'Split',
      [this.physical(x, perm), g.int64(sizes)],
      { axis: attr.int(perm.indexOf(axis)) },
      sizes.length,
    );
    return outs.map(
      (name, k) =>
        new SymbolicTensor(
          name,
          x.shape.map((v, i) => (i === axis ? sizes[k] : v)),
          [...perm],
        ),
    );
  }

  add(a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor {
    return this.binary('Add', a, b);
  }

  sub(a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor {
    return this.binary('Sub', a, b);
  }

  mul(a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor {
    return this.binary('Mul', a, b);
  }

  scale(x: SymbolicTensor, s: number): SymbolicTensor {
    const p = this.physical(x, x.param ? identity(x.rank) : x.perm);
    return new SymbolicTensor(
      this.graph.op('Mul', [p, this.graph.scalar(s)]),
      [...x.shape],
      x.param ? identity(x.rank) : [...x.perm],
    );
  }

  clamp(x: SymbolicTensor, lo: number, hi: number): SymbolicTensor {
    const p = this.physical(x, x.param ? identity(x.rank) : x.perm);
    const y = this.graph.op('Clip', [p, this.graph.scalar(lo), this.graph.scalar(hi)]);
    return new SymbolicTensor(y, [...x.shape], x.param ? identity(x.rank) : [...x.perm]);
  }

  mean(x: SymbolicTensor, axes: readonly number[], keepDims = false): SymbolicTensor {
    const perm = x.param ? identity(x.rank) : x.perm;
    const phys = this.physical(x, perm);
    const physAxes = axes.map((a) => perm.indexOf(a)).sort((p, q) => p - q);
    const y = this.graph.op('ReduceMean', [phys], {
      axes: attr.ints(physAxes),
      keepdims: attr.int(keepDims ? 1 : 0),
    });
    const reduced = new Set(axes);
    const shape = keepDims
      ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d))
      : x.shape.filter((_, i) => !reduced.has(i));
    if (keepDims) return new SymbolicTensor(y, shape, [...perm]);
    // Relabel the surviving logical axes in order.
    const kept = identity(x.rank).filter((i) => !reduced.has(i));
    const newPerm = perm.filter((l) => !reduced.has(l)).map((l) => kept.indexOf(l));
    return new SymbolicTensor(y, shape, newPerm);
  }

  gatherRows(table: SymbolicTensor, ids: readonly number[]): SymbolicTensor {
    check(table.rank === 2, () => `gatherRows: table must be [rows, dim], got [${table.shape}]`, {
      key: 'gatherRows',
    });
    const rows = table.shape[0];
    for (const id of ids) {
      check(Number.isInteger(id) && id >= 0 && id < rows, () => `id ${id} outside the table's ${rows} rows`, {
        key: 'gatherRows',
      });
    }
    const y = this.graph.op('Gather', [this.physical(table, [0, 1]), this.graph.int64(ids)], {
      axis: attr.int(0),
    });
    return new SymbolicTensor(y, [ids.length, table.shape[1]], [0, 1]);
  }

  /**
   * Batched multi-head attention, the same math as `multiHeadAttention` (scale applied to q first):
   * q `[B, S, H·d]`, k, v `[B, S', H·d]`, optional additive mask `[S, S']` -> `[B, S, H·d]`. One MatMul
   * per product over `[B, H, ...]` instead of a 2-D product per (batch, head): far fewer nodes.
   */
  attention(
    q: SymbolicTensor,
    k: SymbolicTensor,
    v: SymbolicTensor,
    heads: number,
    scale: number,
    mask?: SymbolicTensor,
  ): SymbolicTensor {
    const [b, s, inner] = q.shape;
    const sk = k.shape[1];
    check(
      q.rank === 3 && k.rank === 3 && v.rank === 3 && inner % heads === 0,
      () => `attention: q [${q.shape}], k [${k.shape}], v [${v.shape}], ${heads} heads`,
      {
        key: 'attention',
      },
    );
    const d = inner / heads;
    const g = this.graph;
    const split = (t: SymbolicTensor, len: number, perm: number[]) =>
      g.op('Transpose', [g.op('Reshape', [this.physical(t, [0, 1, 2]), g.int64([b, len, heads, d])])], {
        perm: attr.ints(perm),
      });
    const qs = this.scale(q, scale);
    const qh = split(qs, s, [0, 2, 1, 3]); // [B, H, S, d]
    const kT = split(k, sk, [0, 2, 3, 1]); // [B, H, d, S']
    const vh = split(v, sk, [0, 2, 1, 3]); // [B, H, S', d]
    let scores = g.op('MatMul', [qh, kT]); // [B, H, S, S']
    if (mask) scores = g.op('Add', [scores, this.physical(mask, [0, 1])]);
    const probs = g.op('Softmax', [scores], { axis: attr.int(-1) });
    const o = g.op('MatMul', [probs, vh]); // [B, H, S, d]
    // [B, H, S, d] seen as [B, S, H, d]: the reshape to [B, S, H·d] materializes the order.
    return this.reshape(new SymbolicTensor(o, [b, s, heads, d], [0, 2, 1, 3]), [b, s, inner]);
  }

  // ---- layout machinery ------------------------------------------------------------------------

  /** The graph value holding `x` in physical layout `perm` (emitting a Transpose/Reshape if needed). */
  physical(x: SymbolicTensor, perm: readonly number[]): string {
    check(perm.length === x.rank, () => `layout of rank ${perm.length} asked for a rank-${x.rank} tensor`, {
      key: 'onnx layout',
    });
    if (x.param) return this.paramInitializer(x.param, perm);
    if (samePerm(perm, x.perm)) return x.name;
    const key = `${x.name}|${perm.join(',')}`;
    const hit = this.converted.get(key);
    if (hit) return hit;
    const g = this.graph;
    const targetShape = perm.map((l) => x.shape[l]);
    // Reordering only unit axes needs no data movement: a Reshape does it.
    const order = (p: readonly number[]) => p.filter((l) => x.shape[l] !== 1);
    let y: string;
    if (samePerm(order(perm), order(x.perm))) y = g.op('Reshape', [x.name, g.int64(targetShape)]);
    else {
      const t = perm.map((l) => x.perm.indexOf(l));
      y = g.op('Transpose', [x.name], { perm: attr.ints(t) });
    }
    this.converted.set(key, y);
    return y;
  }

  /** The initializer of a weight in physical layout `perm` of its project-layout shape (written transposed). */
  private paramInitializer(p: Param, perm: readonly number[]): string {
    const shape = perm.map((i) => p.shape[i]);
    const trivial = p.shape.filter((d) => d !== 1).length <= 1;
    // Stored in the checkpoint's own axis order: the bytes are the file's, to be linked rather than copied.
    const source = this.linkCheckpoint && (trivial || samePerm(perm, torchPerm(p.layout, p.shape.length))) ? p.origin : undefined;
    const plain = isIdentity(perm) || trivial;
    return this.graph.addInitializer(
      paramInit(p, {
        name: isIdentity(perm) ? p.name : `${p.name}:${perm.join('')}`,
        shape,
        ...(plain ? {} : { transform: { perm: [...perm], sourceShape: [...p.shape] } }),
        source,
      }),
    );
  }

  /** A vector weight as a broadcastable `[C, 1, 1]`-like initializer view (same data, other dims). */
  private reshapedParam(v: SymbolicTensor, shape: readonly number[]): string {
    check(sizeOf(v.shape) === sizeOf(shape), () => `[${v.shape}] cannot be viewed as [${shape}]`, {
      key: 'onnx layout',
    });
    if (v.param) {
      return this.graph.addInitializer(
        paramInit(v.param, { name: `${v.param.name}:[${shape.join('x')}]`, shape: [...shape], source: this.linkCheckpoint ? v.param.origin : undefined }),
      );
    }
    return this.graph.op('Reshape', [this.physical(v, identity(v.rank)), this.graph.int64(shape)]);
  }

  private like(x: SymbolicTensor, y: string): SymbolicTensor {
    return new SymbolicTensor(y, [...x.shape], x.param ? identity(x.rank) : [...x.perm]);
  }

  /** Elementwise op with numpy broadcasting, computed in the layout of the bigger operand. */
  private binary(op: 'Add' | 'Sub' | 'Mul', a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor {
    const rank = Math.max(a.rank, b.rank);
    const shape: number[] = [];
    for (let i = 0; i < rank; i++) {
      const da = a.shape[a.rank - rank + i] ?? 1;
      const db = b.shape[b.rank - rank + i] ?? 1;
      if (da !== db && da !== 1 && db !== 1) {
        throw new ApertureDepthError(`${op.toLowerCase()}: [${a.shape}] and [${b.shape}] do not broadcast`, {
          key: op.toLowerCase(),
        });
      }
      shape.push(da === 1 ? db : da);
    }
    const full = (t: SymbolicTensor) => t.rank === rank && !t.param;
    const candidates = [a, b].filter(full);
    let perm = identity(rank);
    if (candidates.length > 0) {
      const best = candidates.reduce((p, q) => {
        const sp = sizeOf(p.shape);
        const sq = sizeOf(q.shape);
        if (sq !== sp) return sq > sp ? q : p;
        return isIdentity(p.perm) && !isIdentity(q.perm) ? q : p;
      });
      perm = [...best.perm];
    }
    const y = this.graph.op(op, [this.toRank(a, rank, perm), this.toRank(b, rank, perm)]);
    return new SymbolicTensor(y, shape, perm);
  }

  /** `t` broadcast-aligned to `rank` (leading unit axes) in physical layout `perm`. */
  private toRank(t: SymbolicTensor, rank: number, perm: readonly number[]): string {
    if (t.rank === rank) return this.physical(t, perm);
    // numpy right-alignment: pad with leading unit axes, then lay the view out in `perm`.
    const padded = [...Array<number>(rank - t.rank).fill(1), ...t.shape];
    const physShape = perm.map((l) => padded[l]);
    if (padded.filter((d) => d !== 1).length <= 1) {
      // A scalar or a vector: one Reshape (or a re-dimensioned initializer) is the whole conversion.
      if (t.param) return this.reshapedParam(t, physShape);
      return this.graph.op('Reshape', [this.physical(t, identity(t.rank)), this.graph.int64(physShape)]);
    }
    const base = t.param
      ? this.paramInitializer(t.param, identity(t.rank))
      : this.physical(t, identity(t.rank));
    const view = new SymbolicTensor(
      this.graph.op('Reshape', [base, this.graph.int64(padded)]),
      padded,
      identity(rank),
    );
    return this.physical(view, perm);
  }
}
