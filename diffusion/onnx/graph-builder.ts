import type { ParamOrigin } from '../checkpoint/param.ts';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { inferShapes } from './shape-inference.ts';

/**
 * A small in-memory ONNX graph: nodes (op type, inputs, outputs, attributes), initializers that hold
 * weights by reference (never copied until serialization), graph inputs/outputs, and the static shape of
 * every value. `OnnxOps` records into it, `vjp.ts` extends it with gradient nodes, `model-proto.ts`
 * writes it out. Only float32 values flow; int64 appears as small shape/axes constants.
 */

export type DType = 'float32' | 'int64' | 'bool';

export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A typed ONNX attribute (ONNX distinguishes int from float, so plain numbers are not enough). */
export type Attr =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] };

export type Attrs = Readonly<Record<string, Attr>>;

export interface GraphNode {
  readonly op: string;
  /** Input value names; `''` marks an omitted optional input (ONNX convention). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
}

/**
 * A constant tensor. Float data is held by reference (a network `Param`'s host array); `transform`
 * names a layout change applied only when it is written (e.g. `[kh, kw, in, out]` -> `[out, in, kh, kw]`),
 * so the weights exist once in memory and once on disk.
 */
export interface Initializer {
  readonly name: string;
  readonly dtype: DType;
  /** Shape as stored (after `transform`). */
  readonly shape: readonly number[];
  /**
   * The values before `transform`. May be a getter that reads a checkpoint weight on first use: code that
   * needs only the size or the dtype must not touch it (`isExternal`, `sizeOf(shape)`).
   */
  readonly data: Float32Array | BigInt64Array;
  /** What the data belongs to (a network `Param`): binding the same owner twice is the same initializer. */
  readonly owner?: object;
  /** Layout change applied on write (see `WeightTransform`). */
  readonly transform?: WeightTransform;
  /**
   * A file that already holds exactly the stored bytes (a checkpoint's own tensor): the disk cache links
   * to it instead of writing a copy.
   */
  readonly source?: ParamOrigin;
}

/**
 * stored = transpose(data as `sourceShape`, `perm`), then reversed along the stored axes in `flip`
 * (a convolution's backward kernel is its forward kernel flipped spatially with in/out swapped).
 */
export interface WeightTransform {
  readonly perm: readonly number[];
  readonly sourceShape: readonly number[];
  readonly flip?: readonly number[];
}

export const attr = {
  int: (i: number): Attr => ({ i }),
  float: (f: number): Attr => ({ f }),
  str: (s: string): Attr => ({ s }),
  ints: (ints: readonly number[]): Attr => ({ ints }),
  floats: (floats: readonly number[]): Attr => ({ floats }),
};

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The graph under construction. Names are unique; every value has a static shape. */
export class OnnxGraph {
  readonly values = new Map<string, ValueInfo>();
  readonly nodes: GraphNode[] = [];
  readonly initializers = new Map<string, Initializer>();
  readonly inputs: string[] = [];
  readonly outputs: string[] = [];
  /** Host values of int64 constants, for shape inference and VJP rules. */
  private readonly intConsts = new Map<string, readonly number[]>();
  private readonly intConstByKey = new Map<string, string>();
  private readonly floatScalarByValue = new Map<number, string>();
  /** Producer node index of every node output. */
  private readonly producerIndex = new Map<string, number>();
  private counter = 0;

  /** A fresh value name `prefix_N`. */
  fresh(prefix: string): string {
    const base = prefix.replace(/[^A-Za-z0-9_.:/-]/g, '_');
    let name: string;
    do name = `${base}_${this.counter++}`;
    while (this.values.has(name));
    return name;
  }

  info(name: string): ValueInfo {
    const v = this.values.get(name);
    if (!v) throw new ApertureDepthError(`no value named "${name}" in the graph`, { key: 'onnx graph' });
    return v;
  }

  shape(name: string): readonly number[] {
    return this.info(name).shape;
  }

  addInput(name: string, shape: readonly number[], dtype: DType = 'float32'): string {
    check(!this.values.has(name), () => `graph input "${name}" already exists`, { key: 'onnx graph' });
    this.values.set(name, { name, dtype, shape: [...shape] });
    this.inputs.push(name);
    return name;
  }

  addOutput(name: string): void {
    this.info(name);
    if (!this.outputs.includes(name)) this.outputs.push(name);
  }

  addInitializer(init: Initializer): string {
    const existing = this.initializers.get(init.name);
    if (existing) {
      const same = existing.owner !== undefined || init.owner !== undefined ? existing.owner === init.owner : existing.data === init.data;
      check(same, () => `initializer "${init.name}" bound twice to different data`, {
        key: 'onnx graph',
      });
      return init.name;
    }
    check(!this.values.has(init.name), () => `value "${init.name}" already exists`, { key: 'onnx graph' });
    this.initializers.set(init.name, init);
    this.values.set(init.name, { name: init.name, dtype: init.dtype, shape: [...init.shape] });
    return init.name;
  }

  isInitializer(name: string): boolean {
    return this.initializers.has(name);
  }

  /** A (deduplicated) int64 constant. */
  int64(values: readonly number[]): string {
    const key = values.join(',');
    const found = this.intConstByKey.get(key);
    if (found) return found;
    const name = this.fresh('i64');
    this.addInitializer({
      name,
      dtype: 'int64',
      shape: [values.length],
      data: BigInt64Array.from(values, (v) => BigInt(v)),
    });
    this.intConsts.set(name, [...values]);
    this.intConstByKey.set(key, name);
    return name;
  }

  /** A (deduplicated) float32 scalar constant of shape `[]`. */
  scalar(value: number): string {
    const key = Math.fround(value);
    const found = this.floatScalarByValue.get(key);
    if (found) return found;
    const name = this.fresh('f32');
    this.addInitializer({ name, dtype: 'float32', shape: [], data: Float32Array.of(value) });
    this.floatScalarByValue.set(key, name);
    return name;
  }

  /** A float32 constant holding `data` by reference. */
  constant(data: Float32Array, shape: readonly number[], prefix = 'const'): string {
    check(
      data.length === sizeOf(shape),
      () => `constant of shape [${shape}] needs ${sizeOf(shape)} values, got ${data.length}`,
      {
        key: prefix,
      },
    );
    return this.addInitializer({ name: this.fresh(prefix), dtype: 'float32', shape: [...shape], data });
  }

  /** The host values of an int64 constant made by `int64`. */
  intValues(name: string): readonly number[] {
    const v = this.intConsts.get(name);
    if (!v)
      throw new ApertureDepthError(`"${name}" is not an int64 constant of this graph`, { key: 'onnx graph' });
    return v;
  }

  /** The value of a float scalar initializer, or undefined when `name` is none. */
  scalarValue(name: string): number | undefined {
    const init = this.initializers.get(name);
    if (!init || init.dtype !== 'float32' || sizeOf(init.shape) !== 1 || init.shape.length > 1)
      return undefined;
    return (init.data as Float32Array)[0];
  }

  /**
   * Appends a node whose output shapes are inferred from its inputs; returns the output names.
   * `outputs` may name them (defaults to fresh names from the op type).
   */
  node(
    op: string,
    inputs: readonly string[],
    attrs: Attrs = {},
    outputCount = 1,
    outputs?: readonly string[],
  ): string[] {
    for (const i of inputs) if (i !== '') this.info(i);
    const shapes = inferShapes(this, op, inputs, attrs, outputCount);
    const names = outputs ? [...outputs] : shapes.map(() => this.fresh(op));
    check(
      names.length === shapes.length,
      () => `${op}: ${names.length} output names for ${shapes.length} outputs`,
      {
        key: 'onnx graph',
      },
    );
    names.forEach((name, k) => {
      check(!this.values.has(name), () => `value "${name}" already exists`, { key: 'onnx graph' });
      this.values.set(name, { name, dtype: shapes[k].dtype, shape: shapes[k].shape });
      this.producerIndex.set(name, this.nodes.length);
    });
    this.nodes.push({ op, inputs: [...inputs], outputs: names, attrs });
    return names;
  }

  /** Shorthand for single-output nodes. */
  op(op: string, inputs: readonly string[], attrs: Attrs = {}): string {
    return this.node(op, inputs, attrs, 1)[0];
  }

  /** The node that produces `name`, or undefined for inputs and initializers. */
  producer(name: string): GraphNode | undefined {
    const k = this.producerIndex.get(name);
    return k === undefined ? undefined : this.nodes[k];
  }

  producerIndexOf(name: string): number | undefined {
    return this.producerIndex.get(name);
  }

  /** Floating-point operations of a node, multiply-add = 2 (for GFLOP/s reports; elementwise ops count 1). */
  nodeFlops(node: GraphNode): number {
    const out = this.values.get(node.outputs[0]);
    if (!out) return 0;
    const outSize = sizeOf(out.shape);
    if (node.op === 'Conv') return 2 * outSize * sizeOf(this.shape(node.inputs[1]).slice(1));
    // ConvTranspose: every input element meets (out / group) x kh x kw weights.
    if (node.op === 'ConvTranspose')
      return 2 * sizeOf(this.shape(node.inputs[0])) * sizeOf(this.shape(node.inputs[1]).slice(1));
    if (node.op === 'MatMul' || node.op === 'Gemm') {
      const a = this.shape(node.inputs[0]);
      const transA = node.op === 'Gemm' && (node.attrs.transA as { i: number } | undefined)?.i === 1;
      const k = transA ? a[a.length - 2] : a[a.length - 1];
      return 2 * outSize * k;
    }
    return outSize;
  }

  totalFlops(): number {
    let f = 0;
    for (const n of this.nodes) f += this.nodeFlops(n);
    return f;
  }
}
