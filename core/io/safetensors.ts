import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { readJsonFile } from './json-file.ts';

/**
 * Reader for safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }`, then the
 * tensor bytes (offsets relative to the end of the header). Each tensor is read on demand with `fs.readSync`
 * at its offset, so a multi-GB checkpoint is never held in memory at once.
 *
 * Floating dtypes (F64, F32, F16, BF16) and the integer dtypes torch checkpoints carry (I64 `position_ids`,
 * I32, I16, I8, U8, BOOL) are all returned as float32. A sharded checkpoint is opened through its
 * `*.safetensors.index.json` (`{ weight_map: { name: shard file } }`).
 */

/** Element sizes in bytes of the dtypes this reader converts to float32. */
export const SAFETENSORS_DTYPE_BYTES = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const);
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
  /** The file holding the bytes (for a sharded checkpoint: the shard). */
  file: string;
  /** Absolute byte offset of the tensor's bytes in `file`. */
  offset: number;
}

export interface SafetensorsFile {
  /** The file opened (for an index: the index file). */
  readonly path: string;
  /** Tensor names in file order (by data offset), `__metadata__` excluded. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): SafetensorsTensorInfo;
  /** The tensor's values converted to float32 (row-major, torch layout). */
  read(name: string): Float32Array;
  /** `__metadata__` of the file (or of the index), string to string. */
  metadata(): Record<string, string>;
  close(): void;
}

interface Entry {
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
  /** Absolute byte offset in the file. */
  start: number;
}

/** Largest single `readSync`: Node refuses reads over 2 GiB. */
const MAX_READ_BYTES = 1 << 30;

/** Opens a `.safetensors` file or a sharded checkpoint's `.safetensors.index.json`. */
export function openSafetensors(filePath: string): SafetensorsFile {
  if (filePath.endsWith('.index.json')) return openSharded(filePath);
  return openSingle(filePath);
}

function openSingle(file: string): SafetensorsFile {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new ApertureDepthError(`cannot open safetensors file: ${(err as Error).message}`, { file, cause: err });
  }
  try {
    const { entries, meta } = readHeader(fd, file);
    return singleFile(fd, file, entries, meta);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

function readHeader(fd: number, file: string): { entries: Map<string, Entry>; meta: Record<string, string> } {
  const fileSize = fs.fstatSync(fd).size;
  check(fileSize >= 8, () => `truncated: ${fileSize} bytes, shorter than the 8-byte header length`, { file });
  const lenBuf = Buffer.alloc(8);
  readFully(fd, lenBuf, 0, file, 'header length');
  const headerLen = lenBuf.readBigUInt64LE(0);
  check(
    headerLen <= BigInt(fileSize - 8),
    () => `header length ${headerLen} runs past the end of the file (${fileSize} bytes): truncated or not safetensors`,
    { file },
  );
  const n = Number(headerLen);
  const headerBuf = Buffer.alloc(n);
  readFully(fd, headerBuf, 8, file, 'header');
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (err) {
    throw new ApertureDepthError(`header is not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  check(header !== null && typeof header === 'object' && !Array.isArray(header), () => 'header is not a JSON object', {
    file,
  });
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const entries = new Map<string, Entry>();
  let meta: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      meta = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const ctx = { file, key: name };
    check(raw !== null && typeof raw === 'object', () => 'header entry is not an object', ctx);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    check(
      typeof dtype === 'string' && dtype in SAFETENSORS_DTYPE_BYTES,
      () => `unsupported dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`,
      ctx,
    );
    check(
      Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0),
      () => `shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
      ctx,
    );
    check(
      Array.isArray(offsets) &&
        offsets.length === 2 &&
        offsets.every((o) => Number.isSafeInteger(o) && o >= 0) &&
        offsets[0] <= offsets[1],
      () => `data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`,
      ctx,
    );
    const [begin, end] = offsets as [number, number];
    check(
      end <= dataLen,
      () => `data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): truncated file`,
      ctx,
    );
    const elemBytes = SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    check(
      count * elemBytes === end - begin,
      () =>
        `shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${count * elemBytes} bytes, ` +
        `data_offsets give ${end - begin}`,
      ctx,
    );
    entries.set(name, { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], byteLength: end - begin, start: dataStart + begin });
    spans.push({ name, begin, end });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    check(
      cur.begin >= prev.end || cur.begin === cur.end || prev.begin === prev.end,
      () => `data_offsets [${cur.begin}, ${cur.end}] overlap those of "${prev.name}" [${prev.begin}, ${prev.end}]`,
      { file, key: cur.name },
    );
  }
  // Keep names in data order: the order a checkpoint was written in.
  const ordered = new Map<string, Entry>();
  for (const s of spans) ordered.set(s.name, entries.get(s.name)!);
  return { entries: ordered, meta };
}

/**
 * Fills `buf` from `fd` at `position` (in reads of at most 1 GiB); a short file is an error naming `file`
 * and `what`, worded by `short` (bytes read so far, bytes wanted).
 */
export function readFully(
  fd: number,
  buf: Buffer | Uint8Array,
  position: number,
  file: string,
  what: string,
  short: (done: number, total: number) => string = (done, total) => `truncated while reading ${what} (${done} of ${total} bytes)`,
): void {
  let done = 0;
  while (done < buf.byteLength) {
    const len = Math.min(MAX_READ_BYTES, buf.byteLength - done);
    const got = fs.readSync(fd, buf, done, len, position + done);
    check(got > 0, () => short(done, buf.byteLength), { file, key: what });
    done += got;
  }
}

function singleFile(
  fd: number,
  file: string,
  entries: Map<string, Entry>,
  meta: Record<string, string>,
): SafetensorsFile {
  let open = true;
  const entry = (name: string): Entry => {
    const e = entries.get(name);
    check(e, () => `no tensor named "${name}" in this file`, { file, key: name });
    return e;
  };
  return {
    path: file,
    names: () => [...entries.keys()],
    has: (name) => entries.has(name),
    info: (name) => {
      const { dtype, shape, byteLength, start } = entry(name);
      return { dtype, shape: [...shape], byteLength, file, offset: start };
    },
    read: (name) => {
      check(open, () => 'read after close()', { file, key: name });
      const e = entry(name);
      // Own buffer per tensor (Buffer.alloc may hand out a pooled, unaligned slice).
      const bytes = new Uint8Array(new ArrayBuffer(e.byteLength));
      readFully(fd, bytes, e.start, file, name);
      return toFloat32(bytes, e.dtype);
    },
    metadata: () => ({ ...meta }),
    close: () => {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

function openSharded(indexPath: string): SafetensorsFile {
  const index = readJsonFile(indexPath, 'sharded checkpoint index');
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  check(weightMap && typeof weightMap === 'object' && !Array.isArray(weightMap), () => 'index has no "weight_map" object', {
    file: indexPath,
    key: 'weight_map',
  });
  const dir = path.dirname(indexPath);
  const shards = new Map<string, SafetensorsFile>();
  const where = new Map<string, SafetensorsFile>();
  try {
    for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
      check(typeof shard === 'string', () => 'shard file name is not a string', { file: indexPath, key: name });
      // Shards sit beside the index (as diffusers writes them): no folders, no way out of this one.
      check(
        /^[^/\\\0]+\.safetensors$/.test(shard),
        () => `shard ${JSON.stringify(shard.slice(0, 200))} is not a .safetensors file name in the index's folder`,
        { file: indexPath, key: name },
      );
      let f = shards.get(shard);
      if (!f) {
        const shardPath = path.join(dir, shard);
        check(fs.existsSync(shardPath), () => `shard ${shard} named by the index does not exist`, {
          file: indexPath,
          key: name,
        });
        f = openSingle(shardPath);
        shards.set(shard, f);
      }
      check(f.has(name), () => `index maps it to ${shard}, which has no such tensor`, { file: indexPath, key: name });
      where.set(name, f);
    }
  } catch (err) {
    for (const f of shards.values()) f.close();
    throw err;
  }
  const shardOf = (name: string): SafetensorsFile => {
    const f = where.get(name);
    check(f, () => `no tensor named "${name}" in this checkpoint`, { file: indexPath, key: name });
    return f;
  };
  return {
    path: indexPath,
    names: () => [...where.keys()],
    has: (name) => where.has(name),
    info: (name) => shardOf(name).info(name),
    read: (name) => shardOf(name).read(name),
    metadata: () => ({ ...(((index as { metadata?: Record<string, string> }).metadata ?? {}) as Record<string, string>) }),
    close: () => {
      for (const f of shards.values()) f.close();
    },
  };
}

/** Converts little-endian raw bytes of `dtype` to float32. */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / SAFETENSORS_DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = HALF_TO_FLOAT[view.getUint16(2 * i, true)]!;
      break;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      break;
  }
  return out;
}

/** IEEE half -> float for all 65536 bit patterns (subnormals, inf, NaN included). */
const HALF_TO_FLOAT: Float32Array = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return table;
})();

/** A tensor to write: float32 values stored as `dtype` (F32, F16 or BF16; I64 for integer buffers). */
export interface SafetensorsWriteTensor {
  shape: readonly number[];
  data: Float32Array;
  dtype?: 'F32' | 'F16' | 'BF16' | 'I64';
}

/**
 * Writes a safetensors file (header padded to 8 bytes, tensors in the given order), e.g. to save the
 * weights of a small trained model in the checkpoint layout diffusers reads.
 */
export function writeSafetensors(
  filePath: string,
  tensors: Record<string, SafetensorsWriteTensor>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, b) => a * b, 1);
    check(count === t.data.length, () => `shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`, {
      file: filePath,
      key: name,
    });
    const bytes = fromFloat32(t.data, dtype);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));
  fs.writeFileSync(filePath, Buffer.concat([len, json, ...chunks]));
}

function fromFloat32(data: Float32Array, dtype: 'F32' | 'F16' | 'BF16' | 'I64'): Uint8Array {
  const size = SAFETENSORS_DTYPE_BYTES[dtype];
  const out = new Uint8Array(data.length * size);
  const view = new DataView(out.buffer);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (dtype === 'F32') view.setFloat32(4 * i, v, true);
    else if (dtype === 'I64') view.setBigInt64(8 * i, BigInt(Math.trunc(v)), true);
    else if (dtype === 'BF16') {
      f32[0] = v;
      const bits = u32[0]!;
      // round to nearest even on the dropped 16 bits
      view.setUint16(2 * i, (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16, true);
    } else view.setUint16(2 * i, floatToHalf(v), true);
  }
  return out;
}

/** float -> IEEE half bits, round to nearest even (overflow to inf, underflow to subnormal/zero). */
export function floatToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
