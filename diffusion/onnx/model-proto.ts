import { createRequire } from 'node:module';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { onnx as OnnxNs } from 'onnx-proto';
import { check } from '../../core/errors.ts';
import {
  sizeOf,
  type Attr,
  type DType,
  type GraphNode,
  type Initializer,
  type OnnxGraph,
} from './graph-builder.ts';

/**
 * Serialization of an `OnnxGraph` (or a part of it) to an ONNX ModelProto. Weights never go into the
 * protobuf (which is limited to 2 GB): initializers above a small size are EXTERNAL data, either in one
 * side file (`location`/`offset`/`length`, the on-disk cache) or in per-initializer in-memory "files" that
 * onnxruntime-node takes through the `externalData` session option (no disk round trip).
 */

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

/** ONNX opset of every recorded graph (LayerNormalization needs 17; ORT 1.30 runs up to 21+). */
export const OPSET = 17;
/** IR version 8 goes with opset 17. */
export const IR_VERSION = 8;
/** Initializers at least this many bytes are stored as external data. */
export const EXTERNAL_MIN_BYTES = 1024;
/** Alignment of each weight in the side file (lets onnxruntime map it instead of copying). */
const FILE_ALIGN = 4096;

/** Where each external initializer lives: `location` (a file name) plus a byte range. */
export interface ExternalLocation {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

export type WeightsLayout = ReadonlyMap<string, ExternalLocation>;

/** A part of a graph to encode: which nodes, which values are its inputs and outputs. */
export interface GraphView {
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
}

export function isExternal(init: Initializer): boolean {
  return init.dtype === 'float32' && sizeOf(init.shape) * 4 >= EXTERNAL_MIN_BYTES;
}

/** The bytes of an initializer as stored (layout transform applied; shares memory when there is none). */
export function initializerBytes(init: Initializer): Uint8Array {
  let data = init.data;
  if (init.transform)
    data = transposeF32(
      data as Float32Array,
      init.transform.sourceShape,
      init.transform.perm,
      init.transform.flip,
    );
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const samePerm = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Row-major transpose of a float32 array: out shape = perm.map(p => shape[p]); output axes listed in
 * `flip` are then reversed.
 */
export function transposeF32(
  data: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
  flip: readonly number[] = [],
): Float32Array {
  check(shape.length <= 4, () => `transposeF32 handles rank <= 4, got [${shape}]`, { key: 'onnx weights' });
  if (shape.length === 4 && samePerm(perm, [1, 0, 2, 3]) && (flip.length === 0 || samePerm([...flip].sort(), [2, 3])))
    return swapChannels(data, shape[0], shape[1], shape[2] * shape[3], flip.length > 0);
  // Pad to rank 4 with leading unit axes, so one 4-deep loop nest serves every case.
  const pad = 4 - shape.length;
  const s4 = [...Array<number>(pad).fill(1), ...shape];
  const p4 = [...Array.from({ length: pad }, (_, i) => i), ...perm.map((p) => p + pad)];
  const f4 = new Set(flip.map((a) => a + pad));
  const inStrides = [s4[1] * s4[2] * s4[3], s4[2] * s4[3], s4[3], 1];
  const dims = p4.map((p) => s4[p]);
  // Source step per output axis; a flipped axis starts at its far end and steps backwards.
  const st = p4.map((p, a) => (f4.has(a) ? -inStrides[p] : inStrides[p]));
  let base = 0;
  for (const a of f4) base += (dims[a] - 1) * inStrides[p4[a]];
  // Output strides; loop over output axes in order, except that the source-contiguous axis moves to
  // second-innermost: reads then reuse cache lines across it while writes stay in short runs.
  const outStrides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
  const order = [0, 1, 2, 3];
  const contiguous = p4.indexOf(3);
  if (contiguous < 2 && dims[contiguous] > 1) {
    order.splice(order.indexOf(contiguous), 1);
    order.splice(2, 0, contiguous);
  }
  const [d0, d1, d2, d3] = order.map((a) => dims[a]);
  const [t0, t1, t2, t3] = order.map((a) => st[a]);
  const [w0, w1, w2, w3] = order.map((a) => outStrides[a]);
  const out = new Float32Array(data.length);
  for (let i0 = 0, b0 = base, o0 = 0; i0 < d0; i0++, b0 += t0, o0 += w0) {
    for (let i1 = 0, b1 = b0, o1 = o0; i1 < d1; i1++, b1 += t1, o1 += w1) {
      for (let i2 = 0, b2 = b1, o2 = o1; i2 < d2; i2++, b2 += t2, o2 += w2) {
        for (let i3 = 0, b3 = b2, o3 = o2; i3 < d3; i3++, b3 += t3, o3 += w3) out[o3] = data[b3];
      }
    }
  }
  return out;
}

/**
 * `[o, i, kh, kw]` -> `[i, o, kh, kw]`, each `kh * kw` block reversed when `reverse` (both spatial axes
 * flipped): a convolution's backward kernel, the bulk of what a cold graph cache computes. Tiled over
 * (o, i) so that the strided reads stay in cache: 600 against 360 MiB/s for the general loop nest.
 */
function swapChannels(data: Float32Array, o: number, i: number, k: number, reverse: boolean): Float32Array {
  const out = new Float32Array(data.length);
  const T = 32;
  const last = reverse ? k - 1 : 0;
  const step = reverse ? -1 : 1;
  for (let i0 = 0; i0 < i; i0 += T) {
    const i1 = Math.min(i, i0 + T);
    for (let o0 = 0; o0 < o; o0 += T) {
      const o1 = Math.min(o, o0 + T);
      for (let ii = i0; ii < i1; ii++) {
        let dst = (ii * o + o0) * k;
        for (let oo = o0; oo < o1; oo++) {
          let src = (oo * i + ii) * k + last;
          for (let t = 0; t < k; t++, src += step) out[dst++] = data[src];
        }
      }
    }
  }
  return out;
}

/** Every initializer a set of nodes reads. */
export function initializersOf(g: OnnxGraph, nodes: readonly GraphNode[]): Initializer[] {
  const seen = new Set<string>();
  const out: Initializer[] = [];
  for (const n of nodes) {
    for (const i of n.inputs) {
      const init = g.initializers.get(i);
      if (init && !seen.has(i)) {
        seen.add(i);
        out.push(init);
      }
    }
  }
  return out;
}

/** What `writeWeightsFile` put on disk. */
export interface WrittenWeights {
  readonly layout: WeightsLayout;
  /** Bytes written to the weights file (transformed weights, and weights with no checkpoint file). */
  readonly writtenBytes: number;
  /** Bytes read in place from checkpoint files linked into the folder. */
  readonly linkedBytes: number;
  /** Checkpoint files made visible in the folder: hard link, or copy where linking failed (other device). */
  readonly links: readonly { readonly file: string; readonly as: string; readonly mode: 'link' | 'copy' }[];
}

/**
 * Writes every external initializer of `g` once into `dir/location` (page-aligned) and returns their
 * locations. Streams one weight at a time (peak extra memory: one transformed weight). An initializer
 * whose stored bytes are a checkpoint's own (`source`) is not copied: the checkpoint file is hard-linked
 * into `dir` (onnxruntime reads external data only from inside the model's folder and resolves symbolic
 * links, so it must be a hard link) and the layout points at its byte range; across file systems the
 * file is copied once instead (a reflink where the file system can).
 */
export async function writeWeightsFile(g: OnnxGraph, dir: string, location: string): Promise<WrittenWeights> {
  const layout = new Map<string, ExternalLocation>();
  const links: { file: string; as: string; mode: 'link' | 'copy' }[] = [];
  const linkedAs = new Map<string, string>();
  let linkedBytes = 0;
  const fh = await open(join(dir, location), 'w');
  let offset = 0;
  try {
    for (const init of g.initializers.values()) {
      if (!isExternal(init)) continue;
      if (init.source) {
        let as = linkedAs.get(init.source.file);
        if (!as) {
          as = `checkpoint-${linkedAs.size}.safetensors`;
          links.push({ file: init.source.file, as, mode: await linkOrCopy(init.source.file, join(dir, as)) });
          linkedAs.set(init.source.file, as);
        }
        layout.set(init.name, { location: as, offset: init.source.offset, length: init.source.byteLength });
        linkedBytes += init.source.byteLength;
        continue;
      }
      offset = Math.ceil(offset / FILE_ALIGN) * FILE_ALIGN;
      const bytes = initializerBytes(init);
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, written, bytes.length - written, offset + written);
        written += bytesWritten;
      }
      layout.set(init.name, { location, offset, length: bytes.length });
      offset += bytes.length;
    }
  } finally {
    await fh.close();
  }
  return { layout, writtenBytes: offset, linkedBytes, links };
}

async function linkOrCopy(file: string, dest: string): Promise<'link' | 'copy'> {
  try {
    await link(file, dest);
    return 'link';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    check(code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP', () => `cannot link the checkpoint into the graph cache: ${(err as Error).message}`, { file });
    await copyFile(file, dest, fsConstants.COPYFILE_FICLONE);
    return 'copy';
  }
}

/**
 * In-memory external data: one pseudo-file per external initializer (no copy for untransformed
 * weights). Returns the layout for `encodeModel` and the `externalData` list for the session options.
 */
export function memoryWeights(
  g: OnnxGraph,
  names?: Iterable<string>,
): {
  layout: WeightsLayout;
  files: { path: string; data: Uint8Array }[];
} {
  const layout = new Map<string, ExternalLocation>();
  const files: { path: string; data: Uint8Array }[] = [];
  const wanted = names ? new Set(names) : undefined;
  let k = 0;
  for (const init of g.initializers.values()) {
    if (!isExternal(init) || (wanted && !wanted.has(init.name))) continue;
    const data = initializerBytes(init);
    const path = `w${k++}.bin`;
    files.push({ path, data });
    layout.set(init.name, { location: path, offset: 0, length: data.length });
  }
  return { layout, files };
}

function attrProto(name: string, a: Attr): OnnxNs.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('s' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: T.INTS, ints: [...a.ints] };
  return { name, type: T.FLOATS, floats: [...a.floats] };
}

function elemType(dtype: DType): number {
  const T = onnx.TensorProto.DataType;
  return dtype === 'float32' ? T.FLOAT : dtype === 'int64' ? T.INT64 : T.BOOL;
}

function tensorProto(init: Initializer, layout: WeightsLayout | undefined): OnnxNs.ITensorProto {
  const base = { name: init.name, dataType: elemType(init.dtype), dims: [...init.shape] };
  if (isExternal(init)) {
    const loc = layout?.get(init.name);
    check(loc, () => `initializer "${init.name}" is external but has no location (write the weights first)`, {
      key: 'onnx model',
    });
    return {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: loc.location },
        { key: 'offset', value: String(loc.offset) },
        { key: 'length', value: String(loc.length) },
      ],
    };
  }
  return { ...base, rawData: initializerBytes(init).slice() };
}

function valueInfo(g: OnnxGraph, name: string): OnnxNs.IValueInfoProto {
  const v = g.info(name);
  return {
    name,
    type: {
      tensorType: { elemType: elemType(v.dtype), shape: { dim: v.shape.map((d) => ({ dimValue: d })) } },
    },
  };
}

/** Encodes a view of `g` as a ModelProto; external initializers point at `layout`. */
export function encodeModel(g: OnnxGraph, view: GraphView, layout?: WeightsLayout): Uint8Array {
  const inits = initializersOf(g, view.nodes);
  const initNames = new Set(inits.map((i) => i.name));
  const inputs = view.inputs.filter((n) => !initNames.has(n));
  const produced = new Set(view.nodes.flatMap((n) => n.outputs));
  const model: OnnxNs.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'aperture-depth',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: view.name ?? 'graph',
      node: view.nodes.map((n, k) => ({
        name: `n${k}_${n.op}`,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs).map(([name, a]) => attrProto(name, a)),
      })),
      initializer: inits.map((i) => tensorProto(i, layout)),
      input: inputs.map((n) => valueInfo(g, n)),
      output: view.outputs.map((n) => valueInfo(g, n)),
      // Intermediate shapes help onnxruntime plan memory without re-inferring them.
      valueInfo: [...produced].filter((n) => !view.outputs.includes(n)).map((n) => valueInfo(g, n)),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Bytes of the external weights a view reads (for reports). */
export function externalBytes(g: OnnxGraph, nodes: readonly GraphNode[]): number {
  return initializersOf(g, nodes)
    .filter(isExternal)
    .reduce((a, i) => a + sizeOf(i.shape) * 4, 0);
}
