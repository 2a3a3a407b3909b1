/**
 * A safetensors WRITER for network weights: the inverse of `CheckpointSource`. Each `Param` (project layout)
 * is converted back to its torch layout and name, so `loadUNet` / `loadVae` (and diffusers itself, for
 * configs whose `linear` parameters are real `nn.Linear`s, e.g. `use_linear_projection: true`) read the
 * file back. Written atomically.
 */
import { check } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';
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

/**
 * Encodes weights as safetensors bytes (tensors in the given order, `__metadata__.format = "pt"`).
 * `dtype` F16 halves the size (values round to nearest even; overflow is an error naming the tensor).
 */
export function encodeSafetensors(
  weights: readonly NamedWeight[],
  dtype: SaveDtype = 'F32',
  metadata: Record<string, string> = {},
): Uint8Array {
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
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  let pos = 8 + jsonBytes.length;
  for (const w of weights) {
    const torch = toTorch(w.data, w.shape, w.layout);
    if (dtype === 'F32') {
      for (let i = 0; i < torch.length; i++, pos += 4) view.setFloat32(pos, torch[i]!, true);
    } else {
      for (let i = 0; i < torch.length; i++, pos += 2) {
        const v = torch[i]!;
        check(Math.abs(v) <= 65504 || !Number.isFinite(v), () => `value ${v} overflows float16`, { key: w.name });
        view.setUint16(pos, numberToFloat16(v), true);
      }
    }
  }
  return out;
}

/** Writes `weights` to `path` as safetensors, atomically. */
export function saveSafetensors(
  path: string,
  weights: readonly NamedWeight[],
  dtype: SaveDtype = 'F32',
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(weights, dtype, metadata));
}
