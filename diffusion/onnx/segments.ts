import { sizeOf, type OnnxGraph } from './graph-builder.ts';

/**
 * Checkpointing plan: the forward nodes cut into consecutive segments whose activations fit a memory
 * budget. The forward pass keeps only the values that cross a cut; the backward pass recomputes each
 * segment inside its own forward+VJP graph. Cuts are placed where few bytes are live (block
 * boundaries of a UNet, where only the running tensor and the skips cross), found from the graph alone.
 */

export interface Segment {
  /** Node index range `[start, end)` in the forward graph. */
  readonly start: number;
  readonly end: number;
  /** Values the segment reads that earlier segments or the graph inputs provide. */
  readonly inputs: readonly string[];
  /** Values the segment produces that later segments or the graph outputs read. */
  readonly outputs: readonly string[];
}

/** Bytes produced by each node (float32 outputs), the activation memory a joint VJP graph would keep. */
function producedBytes(g: OnnxGraph, end: number): number[] {
  return g.nodes.slice(0, end).map((n) => n.outputs.reduce((a, o) => a + 4 * sizeOf(g.shape(o)), 0));
}

/**
 * Cuts nodes `[0, end)` into segments of at most about `budgetBytes` produced bytes each, each cut at the
 * position with the fewest live bytes in the second half of the window. `outputs` are the graph's outputs.
 */
export function planSegments(
  g: OnnxGraph,
  end: number,
  outputs: readonly string[],
  budgetBytes: number,
): Segment[] {
  const nodes = g.nodes.slice(0, end);
  const produced = producedBytes(g, end);
  // Last consumer of every node-produced value (graph outputs live to the end).
  const lastUse = new Map<string, number>();
  nodes.forEach((n, k) => n.inputs.forEach((i) => g.producerIndexOf(i) !== undefined && lastUse.set(i, k)));
  for (const o of outputs) lastUse.set(o, end);
  // live[p] = bytes of values produced before p and read at or after p.
  const delta = new Float64Array(end + 2);
  for (const [v, last] of lastUse) {
    const p = g.producerIndexOf(v);
    if (p === undefined || p >= end) continue;
    const bytes = 4 * sizeOf(g.shape(v));
    delta[p + 1] += bytes;
    delta[last + 1] -= bytes;
  }
  const live = new Float64Array(end + 1);
  let acc = 0;
  for (let p = 0; p <= end; p++) {
    acc += delta[p];
    live[p] = acc;
  }

  const cuts: number[] = [0];
  let start = 0;
  let sum = 0;
  for (let k = 0; k < end; k++) {
    sum += produced[k];
    if (sum <= budgetBytes || k + 1 >= end) continue;
    // Window (start, k+1]: cut in its second half where the fewest bytes cross.
    let best = k + 1;
    let running = 0;
    const half = sum / 2;
    for (let p = start + 1; p <= k + 1; p++) {
      running += produced[p - 1];
      if (running < half) continue;
      if (live[p] < live[best]) best = p;
    }
    cuts.push(best);
    start = best;
    sum = 0;
    for (let q = best; q <= k; q++) sum += produced[q];
  }
  cuts.push(end);
  return describeSegments(g, cuts, outputs);
}

/** Segments for given cut positions (`[0, ..., end]`). */
export function describeSegments(
  g: OnnxGraph,
  cuts: readonly number[],
  outputs: readonly string[],
): Segment[] {
  const end = cuts[cuts.length - 1];
  const segments: { start: number; end: number; inputs: Set<string>; outputs: Set<string> }[] = [];
  for (let s = 0; s + 1 < cuts.length; s++) {
    if (cuts[s] === cuts[s + 1]) continue;
    segments.push({ start: cuts[s], end: cuts[s + 1], inputs: new Set(), outputs: new Set() });
  }
  const bySeg = (k: number) => segments.findIndex((s) => s.start <= k && k < s.end);
  for (let k = 0; k < end; k++) {
    const si = bySeg(k);
    for (const i of g.nodes[k].inputs) {
      if (i === '' || g.isInitializer(i)) continue;
      const p = g.producerIndexOf(i);
      if (p !== undefined && p >= segments[si].start) continue;
      segments[si].inputs.add(i);
      if (p !== undefined) segments[bySeg(p)].outputs.add(i);
    }
  }
  for (const o of outputs) {
    const p = g.producerIndexOf(o);
    if (p !== undefined && p < end) segments[bySeg(p)].outputs.add(o);
  }
  return segments.map((s) => ({
    start: s.start,
    end: s.end,
    inputs: [...s.inputs],
    outputs: [...s.outputs],
  }));
}
