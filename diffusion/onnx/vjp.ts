import { ApertureDepthError, check } from '../../core/errors.ts';
import { attr, type GraphNode, type OnnxGraph } from './graph-builder.ts';
import { VJP_RULES, type VjpContext, type VjpOptions } from './vjp-rules.ts';

/**
 * Reverse mode over a recorded graph: appends to the SAME graph the nodes that compute the gradient of
 * `sum(seed_k * output_k)` with respect to chosen values (`wrt`), given upstream gradients (`seeds`).
 * Only nodes on a path from a `wrt` value to a seeded output are differentiated: branches that do not
 * depend on `wrt` (time embeddings, text keys/values, weights) are constants and cost nothing backwards.
 *
 * @example
 * const gy = g.addInput('grad_y', g.shape('y'));
 * const { grads } = appendVjp(g, { wrt: ['x'], seeds: new Map([['y', gy]]) });
 * g.addOutput(grads.get('x')!); // the joint graph now returns y and dx
 */

export interface VjpRequest {
  /** Values to differentiate with respect to (graph inputs, or segment inputs). */
  readonly wrt: readonly string[];
  /** Upstream gradient value for each differentiated output (same shape as the output). */
  readonly seeds: ReadonlyMap<string, string>;
  /** Forward nodes to consider, by index into `g.nodes` (default: all nodes present now). */
  readonly nodes?: readonly number[];
  readonly options?: VjpOptions;
}

export interface VjpResult {
  /** Gradient value per `wrt` entry (a zeros tensor when nothing reaches it). */
  readonly grads: ReadonlyMap<string, string>;
  /** Index range `[start, end)` of the nodes appended to `g.nodes`. */
  readonly emitted: readonly [number, number];
  /** How many forward nodes were differentiated. */
  readonly differentiated: number;
}

export function appendVjp(g: OnnxGraph, req: VjpRequest): VjpResult {
  const indices = req.nodes ?? g.nodes.map((_, k) => k);
  const nodes = indices.map((k) => g.nodes[k]);
  for (const w of req.wrt) g.info(w);
  for (const [out, seed] of req.seeds) {
    const so = g.shape(out);
    const ss = g.shape(seed);
    check(
      so.length === ss.length && so.every((d, i) => d === ss[i]),
      () => `seed for "${out}" has shape [${ss}], output is [${so}]`,
      {
        key: 'vjp',
      },
    );
  }

  // Forward reachability from wrt.
  const active = new Set<string>(req.wrt);
  for (const n of nodes) if (n.inputs.some((i) => active.has(i))) for (const o of n.outputs) active.add(o);
  // Backward reachability from the seeded outputs.
  const needed = new Set<string>(req.seeds.keys());
  const onPath: GraphNode[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.outputs.some((o) => needed.has(o) && active.has(o))) continue;
    if (!n.inputs.some((i) => active.has(i))) continue;
    onPath.push(n);
    for (const i of n.inputs) if (active.has(i)) needed.add(i);
  }

  const start = g.nodes.length;
  const contributions = new Map<string, string[]>();
  // Gradients of single-axis slices, kept apart so that slices tiling a tensor (attention heads) are
  // joined by one Concat instead of one full-size Pad + Add per slice.
  const sliceParts = new Map<string, SlicePart[]>();
  const contribute = (value: string, grad: string) => {
    const list = contributions.get(value);
    if (list) list.push(grad);
    else contributions.set(value, [grad]);
  };
  for (const [out, seed] of req.seeds) if (active.has(out)) contribute(out, seed);

  const ctx = makeContext(g, req.options ?? {});
  const total = (value: string): string | undefined => {
    const parts = sliceParts.get(value);
    if (parts) {
      sliceParts.delete(value);
      for (const joined of joinSliceGrads(g, ctx, value, parts)) contribute(value, joined);
    }
    const list = contributions.get(value);
    if (!list || list.length === 0) return undefined;
    // Sum pairwise once; later readers reuse the sum.
    let acc = list[0];
    for (let k = 1; k < list.length; k++) acc = g.op('Add', [acc, list[k]]);
    contributions.set(value, [acc]);
    return acc;
  };

  for (const n of onPath) {
    const gOut = n.outputs.map(total);
    if (gOut.every((x) => x === undefined)) continue;
    const part = n.op === 'Slice' ? singleAxisSlice(g, n, gOut[0]) : undefined;
    if (part) {
      const list = sliceParts.get(n.inputs[0]);
      if (list) list.push(part);
      else sliceParts.set(n.inputs[0], [part]);
      continue;
    }
    const rule = VJP_RULES[n.op];
    if (!rule)
      throw new ApertureDepthError(`no VJP rule for op "${n.op}"; add one to vjp-rules.ts`, { key: 'vjp' });
    const needs = n.inputs.map((i) => i !== '' && active.has(i) && needed.has(i));
    const gIn = rule(ctx, n, gOut, needs);
    n.inputs.forEach((i, k) => {
      if (needs[k] && gIn[k] !== undefined) contribute(i, gIn[k]!);
    });
  }

  const grads = new Map<string, string>();
  for (const w of req.wrt) grads.set(w, total(w) ?? ctx.zeros(g.shape(w)));
  return { grads, emitted: [start, g.nodes.length], differentiated: onPath.length };
}

function makeContext(g: OnnxGraph, options: VjpOptions): VjpContext {
  return {
    g,
    options,
    zeros(shape) {
      return g.op('Expand', [g.scalar(0), g.int64(shape)]);
    },
    sumTo(grad, shape) {
      const gs = g.shape(grad);
      if (gs.length === shape.length && gs.every((d, i) => d === shape[i])) return grad;
      const lead = gs.length - shape.length;
      const axes: number[] = [];
      gs.forEach((d, i) => {
        if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
      });
      let r = axes.length > 0 ? g.op('ReduceSum', [grad, g.int64(axes)], { keepdims: { i: 1 } }) : grad;
      const rs = g.shape(r);
      if (rs.length !== shape.length || rs.some((d, i) => d !== shape[i]))
        r = g.op('Reshape', [r, g.int64(shape)]);
      return r;
    },
  };
}

interface SlicePart {
  readonly axis: number;
  readonly start: number;
  readonly end: number;
  readonly grad: string;
}

/** A Slice along one axis with step 1 (the input-gradient side only), as a part to join later. */
function singleAxisSlice(g: OnnxGraph, n: GraphNode, gy: string | undefined): SlicePart | undefined {
  if (gy === undefined) return undefined;
  const x = g.shape(n.inputs[0]);
  const starts = g.intValues(n.inputs[1]);
  const ends = g.intValues(n.inputs[2]);
  const axes = n.inputs[3] ? g.intValues(n.inputs[3]) : starts.map((_, i) => i);
  const steps = n.inputs[4] ? g.intValues(n.inputs[4]) : starts.map(() => 1);
  if (axes.length !== 1 || steps[0] !== 1) return undefined;
  const axis = axes[0] < 0 ? axes[0] + x.length : axes[0];
  const d = x[axis];
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
  return { axis, start: norm(starts[0]), end: norm(ends[0]), grad: gy };
}

/**
 * Gradient contributions of slices of `value`: per axis, disjoint slices become one Concat (zeros in
 * the gaps); overlapping ones fall back to zero-padding each.
 */
function joinSliceGrads(
  g: OnnxGraph,
  ctx: { zeros(shape: readonly number[]): string },
  value: string,
  parts: SlicePart[],
): string[] {
  const shape = g.shape(value);
  const out: string[] = [];
  const byAxis = new Map<number, SlicePart[]>();
  for (const p of parts) byAxis.set(p.axis, [...(byAxis.get(p.axis) ?? []), p]);
  for (const [axis, list] of byAxis) {
    list.sort((a, b) => a.start - b.start);
    const disjoint = list.every((p, k) => k === 0 || list[k - 1].end <= p.start);
    if (!disjoint || list.length === 1) {
      for (const p of list) {
        const pads = new Array<number>(2 * shape.length).fill(0);
        pads[axis] = p.start;
        pads[axis + shape.length] = shape[axis] - p.end;
        out.push(g.op('Pad', [p.grad, g.int64(pads)]));
      }
      continue;
    }
    const pieces: string[] = [];
    let at = 0;
    const gap = (from: number, to: number) =>
      pieces.push(ctx.zeros(shape.map((v, i) => (i === axis ? to - from : v))));
    for (const p of list) {
      if (p.start > at) gap(at, p.start);
      pieces.push(p.grad);
      at = p.end;
    }
    if (at < shape[axis]) gap(at, shape[axis]);
    out.push(g.op('Concat', pieces, { axis: attr.int(axis) }));
  }
  return out;
}
