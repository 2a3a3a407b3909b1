/**
 * A safetensors WRITER for network weights: the inverse of `CheckpointSource`. Each `Param` (project layout)
 * is converted back to its torch layout and name, so `loadUNet` / `loadVae` (and diffusers itself, for
 * configs whose `linear` parameters are real `nn.Linear`s, e.g. `use_linear_projection: true`) read the
 * file back. Written atomically (temp name, then rename).
 */
import { check } from '../../core/errors.ts';
import { closeSync, openSync, writeSync } from 'node:fs';
import { withAtomicPathSync } from '../../core/io/atomic.ts';
import { numberToFloat16 } from '../../core/io/ndarray.ts';
import { torchShape } from './layout.ts';
import type { ParamLayout } from './param.ts';

/** One tensor to write: values in project layout, named as in the checkpoint. */
export interface NamedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layout: ParamLayout;
  readonly data: Float32Array;
}

export type SaveDtype = 'F32' | 'F16';

/** torch layout values from project layout (`[kh, kw, in, out]` -> `[out, in, kh, kw]`, `[in, out]` -> `[out, in]`). */
export function toTorch(src: Float32Array, shape: readonly number[], layout: ParamLayout): Float32Array {
  if (layout === 'conv') {
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    const out = new Float32Array(src.length);
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        for (let i = 0; i < ci; i++) {
          for (let o = 0; o < co; o++) out[((o * ci + i) * kh + a) * kw + b] = src[((a * kw + b) * ci + i) * co + o]!;
        }
      }
    }
    return out;
  }
  if (layout === 'linear') {
    const [inDim, outDim] = shape as [number, number];
    const out = new Float32Array(src.length);
    for (let r = 0; r < inDim; r++) for (let c = 0; c < outDim; c++) out[c * inDim + r] = src[r * outDim + c]!;
    return out;
  }
  return src;
}

/** The header (length prefix + padded JSON) of a safetensors file holding `weights` as `dtype`. */
function safetensorsHeader(
  weights: readonly NamedWeight[],
  dtype: SaveDtype,
  metadata: Record<string, string>,
): { head: Uint8Array; dataBytes: number } {
  const bytesPer = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  const names = new Set<string>();
  for (const w of weights) {
    check(!names.has(w.name), () => `duplicate tensor name "${w.name}"`, { key: w.name });
    names.add(w.name);
    const n = w.shape.reduce((a, b) => a * b, 1);
    check(n === w.data.length, () => `shape [${w.shape}] has ${n} elements, data ${w.data.length}`, { key: w.name });
    const len = n * bytesPer;
    header[w.name] = { dtype, shape: torchShape(w.shape, w.layout), data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
  const jsonBytes0 = new TextEncoder().encode(json);
  json += ' '.repeat((8 - (jsonBytes0.length % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + jsonBytes.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  head.set(jsonBytes, 8);
  return { head, dataBytes: offset };
}

/** One tensor's stored bytes (torch layout, little-endian `dtype`). */
function tensorBytes(w: NamedWeight, dtype: SaveDtype): Uint8Array {
  const torch = toTorch(w.data, w.shape, w.layout);
  const out = new Uint8Array(torch.length * (dtype === 'F32' ? 4 : 2));
  const view = new DataView(out.buffer);
  if (dtype === 'F32') {
    for (let i = 0; i < torch.length; i++) view.setFloat32(4 * i, torch[i]!, true);
  } else {
    for (let i = 0; i < torch.length; i++) {
      const v = torch[i]!;
      check(Math.abs(v) <= 65504 || !Number.isFinite(v), () => `value ${v} overflows float16`, { key: w.name });
      view.setUint16(2 * i, numberToFloat16(v), true);
    }
  }
  return out;
}

/**
 * Encodes weights as safetensors bytes (tensors in the given order, `__metadata__.format = "pt"`).
 * `dtype` F16 halves the size (values round to nearest even; overflow is an error naming the tensor).
 */
export function encodeSafetensors(
  weights: readonly NamedWeight[],
  dtype: SaveDtype = 'F32',
  metadata: Record<string, string> = {},
): Uint8Array {
  const { head, dataBytes } = safetensorsHeader(weights, dtype, metadata);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head, 0);
  let pos = head.length;
  for (const w of weights) {
    const bytes = tensorBytes(w, dtype);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

/**
 * Writes `weights` to `path` as safetensors (the bytes of `encodeSafetensors`), atomically, one tensor
 * at a time: a multi-GB network never needs a second whole copy in memory.
 */
export function saveSafetensors(
  path: string,
  weights: readonly NamedWeight[],
  dtype: SaveDtype = 'F32',
  metadata: Record<string, string> = {},
): void {
  const { head } = safetensorsHeader(weights, dtype, metadata);
  withAtomicPathSync(path, (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, head);
      for (const w of weights) writeAll(fd, tensorBytes(w, dtype));
    } finally {
      closeSync(fd);
    }
  });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}
