import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { ApertureDepthError } from '../errors.ts';
import { withAtomicPath } from './atomic.ts';
import { errorText, fsReason } from './file-bytes.ts';
import {
  exclusive,
  hdf5Call,
  Hdf5CallError,
  workerGeneration,
  type Hdf5Entry,
  type Hdf5Ops,
  type Hdf5Selection,
  type Hdf5WriteAttr,
} from './hdf5-client.ts';
import {
  checkNdArray,
  elementCount,
  float16ToNumber,
  type Dtype,
  type NdArray,
  type TypedArray,
} from './ndarray.ts';

/**
 * HDF5 files through h5wasm (libhdf5 in wasm). h5wasm's Node build opens real paths (no in-memory copy),
 * so a slice reads only its bytes from disk, and files with a user block (MATLAB v7.3 `.mat`) open as
 * they are. libhdf5 runs in a worker thread (`hdf5-client.ts`) so that a corrupt file that makes it
 * hang or abort ends in an error, not a stuck process.
 */

/** An attribute value this module writes. Numbers are stored as float64, so they read back exactly. */
export type Hdf5AttrValue = string | number | number[];
/** An attribute value read back (files written elsewhere may hold string arrays). */
export type Hdf5ReadAttrValue = string | number | number[] | string[];

/** What `writeHdf5` writes. Dataset names may contain `/` (`'pred/depth'`): groups are created on the way. */
export interface Hdf5Content {
  datasets: Record<string, NdArray>;
  /** Attributes of the root group. */
  attrs: Record<string, Hdf5AttrValue>;
  /** Attributes per dataset name. */
  datasetAttrs?: Record<string, Record<string, Hdf5AttrValue>>;
}

/** What `readHdf5` returns: every numeric dataset (by `/`-joined path, no leading `/`) and the attributes. */
export interface Hdf5ReadResult {
  datasets: Record<string, NdArray>;
  attrs: Record<string, Hdf5ReadAttrValue>;
  datasetAttrs: Record<string, Record<string, Hdf5ReadAttrValue>>;
  /** Datasets and attributes (`dataset@attr`) of kinds this module does not read (strings, references, ...). */
  skipped: string[];
}

/** One dimension of a selection: elements `start, start + step, ...` below `end`. */
export type Hdf5DimSlice = [start: number, end: number, step?: number];

export interface Hdf5CallOptions {
  /**
   * Longest one libhdf5 call may run before the worker is stopped and the read fails.
   * @default 60000
   */
  timeoutMs?: number;
}

export interface Hdf5DatasetOptions extends Hdf5CallOptions {
  /** Per-dimension selection; `null` or a missing entry keeps the whole dimension. */
  slice?: (Hdf5DimSlice | null)[];
  /**
   * Largest selection read, in bytes.
   * @default 2 ** 30
   */
  maxBytes?: number;
}

export interface Hdf5ReadOptions extends Hdf5CallOptions {
  /**
   * Largest total of all datasets `readHdf5` loads, in bytes (use `readHdf5Dataset` with a slice beyond).
   * @default 2 ** 30
   */
  maxBytes?: number;
}

/** A dataset's name, shape and element type, as listed by `listHdf5Datasets`. */
export interface Hdf5DatasetInfo {
  name: string;
  shape: number[];
  /** The dtype `readHdf5Dataset` returns, or `null` when it cannot read this dataset. */
  dtype: Dtype | null;
  /** The HDF5 type in words (`'float32'`, `'string'`, `'reference'`, ...). */
  type: string;
}

type Meta = NonNullable<Hdf5Entry['meta']>;

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const DEFAULT_MAX_BYTES = 2 ** 30;
const DEFAULT_TIMEOUT_MS = 60_000;
/** The wasm heap is 2 GiB; a selection and libhdf5's own buffers must fit in it. */
const HEAP_LIMIT = 2 ** 30;
const CLASS_INTEGER = 0;
const CLASS_FLOAT = 1;
const CLASS_NAMES: Record<number, string> = {
  2: 'time',
  3: 'string',
  4: 'bitfield',
  5: 'opaque',
  6: 'compound',
  7: 'reference',
  8: 'enum',
  9: 'variable-length',
  10: 'array',
};
const DTYPE_FORMAT: Readonly<Record<Dtype, string>> = Object.freeze({
  float32: '<f',
  float64: '<d',
  uint8: '<B',
  uint16: '<H',
  int32: '<i',
  int64: '<q',
  float16: '<f', // h5wasm cannot write float16: stored widened to float32
});

/**
 * Writes datasets and attributes to an HDF5 file, atomically (temp file, then rename).
 * float16 arrays are stored as float32 (h5wasm has no float16 writer).
 */
export async function writeHdf5(
  path: string,
  content: Hdf5Content,
  options: Hdf5CallOptions = {},
): Promise<void> {
  const fail = (msg: string, key?: string, cause?: unknown) =>
    new ApertureDepthError(msg, { file: path, key, cause });
  if (!content || typeof content !== 'object' || !content.datasets || typeof content.datasets !== 'object') {
    throw fail('expected { datasets, attrs }');
  }
  for (const [name, arr] of Object.entries(content.datasets)) {
    checkDatasetName(name, path);
    checkNdArray(arr, path, `datasets.${name}`);
  }
  checkAttrs(content.attrs ?? {}, path, 'attrs');
  for (const [name, attrs] of Object.entries(content.datasetAttrs ?? {})) {
    if (!(name in content.datasets))
      throw fail('attributes given for a dataset that is not written', `datasetAttrs.${name}`);
    checkAttrs(attrs, path, `datasetAttrs.${name}`);
  }
  const message = {
    attrs: Object.entries(content.attrs ?? {}) as Hdf5WriteAttr[],
    datasets: Object.entries(content.datasets).map(([name, arr]) => ({
      name: name.replace(/^\//, ''),
      shape: arr.shape,
      format: DTYPE_FORMAT[arr.dtype],
      data: arr.dtype === 'float16' ? Float32Array.from(arr.data as Float32Array) : arr.data,
      attrs: Object.entries(content.datasetAttrs?.[name] ?? {}) as Hdf5WriteAttr[],
    })),
  };
  await exclusive(() =>
    withAtomicPath(path, async (tmp) => {
      try {
        await hdf5Call('write', { path: tmp, content: message }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      } catch (err) {
        throw fail(`HDF5 write failed: ${hdf5Reason(err)}`, undefined, err);
      }
    }),
  );
}

function checkDatasetName(name: string, file: string): void {
  const parts = name.replace(/^\//, '').split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new ApertureDepthError(`invalid dataset name ${JSON.stringify(name)}`, { file, key: 'datasets' });
  }
}

function checkAttrs(attrs: Record<string, unknown>, file: string, key: string): void {
  for (const [k, v] of Object.entries(attrs)) {
    const ok =
      typeof v === 'string' ||
      (typeof v === 'number' && !Number.isNaN(v)) ||
      (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'));
    if (!ok || k === '') {
      throw new ApertureDepthError('attribute must be a string, a number or a non-empty number[]', {
        file,
        key: `${key}.${k}`,
      });
    }
  }
}

/**
 * Reads every numeric dataset and the root and dataset attributes of an HDF5 file. Refuses (before
 * reading) when the datasets total more than `maxBytes`; read big files one `readHdf5Dataset` slice at a time.
 */
export async function readHdf5(path: string, options: Hdf5ReadOptions = {}): Promise<Hdf5ReadResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return withHdf5File(path, options, async (f) => {
    const result: Hdf5ReadResult = { datasets: {}, attrs: {}, datasetAttrs: {}, skipped: [] };
    const root = await f.call('attrs', { fid: f.fid, path: '/' });
    result.attrs = root.values;
    result.skipped.push(...root.skipped.map((k) => `@${k}`));
    const entries = (await f.call('list', { fid: f.fid })).filter((e) => e.kind === 'dataset');
    let total = 0;
    for (const e of entries)
      if (datasetDtype(e.meta!)) total += e.meta!.size * elementCount(e.meta!.shape ?? [0]);
    if (total > maxBytes) {
      throw new ApertureDepthError(
        `datasets total ${total} bytes, more than the limit of ${maxBytes}: read them one at a time with readHdf5Dataset`,
        { file: path },
      );
    }
    for (const e of entries) {
      const name = e.name.replace(/^\//, '');
      if (!datasetDtype(e.meta!)) {
        result.skipped.push(name);
        continue;
      }
      result.datasets[name] = await readSelection(f, e, name, undefined, maxBytes);
      const attrs = await f.call('attrs', { fid: f.fid, path: e.path });
      if (Object.keys(attrs.values).length > 0) result.datasetAttrs[name] = attrs.values;
      result.skipped.push(...attrs.skipped.map((k) => `${name}@${k}`));
    }
    return result;
  });
}

/**
 * Reads one dataset, or a slice of it: only the selected elements are read from disk.
 * @example readHdf5Dataset('nyu_depth_v2_labeled.mat', 'depths', { slice: [[0, 1]] }) // shape [1, 640, 480]
 */
export async function readHdf5Dataset(
  path: string,
  name: string,
  options: Hdf5DatasetOptions = {},
): Promise<NdArray> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return withHdf5File(path, options, async (f) => {
    const clean = name.replace(/^\//, '');
    const entries = await f.call('list', { fid: f.fid });
    const entry = entries.find((e) => e.name.replace(/^\//, '') === clean);
    if (!entry || entry.kind !== 'dataset') {
      const names = entries.filter((e) => e.kind === 'dataset').map((e) => e.name.replace(/^\//, ''));
      const listed =
        names.slice(0, 20).join(', ') + (names.length > 20 ? `, ... (${names.length} in all)` : '');
      const what = entry ? 'is a group, not a dataset' : 'not found';
      throw new ApertureDepthError(
        `dataset ${JSON.stringify(clean)} ${what} (datasets: ${listed || 'none'})`,
        { file: path },
      );
    }
    return readSelection(f, entry, clean, options.slice, maxBytes);
  });
}

/** Lists every dataset with its shape and type, reading no data. */
export async function listHdf5Datasets(
  path: string,
  options: Hdf5CallOptions = {},
): Promise<Hdf5DatasetInfo[]> {
  return withHdf5File(path, options, async (f) =>
    (await f.call('list', { fid: f.fid }))
      .filter((e) => e.kind === 'dataset')
      .map((e) => ({
        name: e.name.replace(/^\//, ''),
        shape: e.meta!.shape ?? [],
        dtype: datasetDtype(e.meta!),
        type: typeWords(e.meta!),
      })),
  );
}

type Call = <K extends keyof Hdf5Ops>(op: K, args: Hdf5Ops[K]['args']) => Promise<Hdf5Ops[K]['result']>;

interface OpenFile {
  path: string;
  fid: number;
  fileSize: number;
  call: Call;
}

/** Checks the signature, opens the file in the worker, runs `use`, and always closes the file. */
async function withHdf5File<T>(
  path: string,
  options: Hdf5CallOptions,
  use: (f: OpenFile) => Promise<T>,
): Promise<T> {
  const fileSize = checkSignature(path);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return exclusive(async () => {
    const call: Call = (op, args) => hdf5Call(op, args, timeoutMs);
    let fid: number | undefined;
    const generation = workerGeneration();
    try {
      fid = await call('open', { path });
      return await use({ path, fid, fileSize, call });
    } catch (err) {
      if (err instanceof ApertureDepthError) throw err;
      throw new ApertureDepthError(`corrupt or unreadable HDF5 file: ${hdf5Reason(err)}`, {
        file: path,
        cause: err,
      });
    } finally {
      if (fid !== undefined && generation === workerGeneration()) {
        // Closing a file whose metadata was corrupt can fail too; the error above is the one to report.
        await call('close', { fid }).catch(() => undefined);
      }
    }
  });
}

/**
 * Finds the HDF5 signature at byte 0 or after a user block (512, 1024, 2048, ... bytes, as in MATLAB v7.3
 * files), reading only those 8-byte probes. Returns the file size.
 */
function checkSignature(path: string): number {
  let fd: number;
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ApertureDepthError('is a folder, expected an HDF5 file', { file: path });
    size = st.size;
    fd = openSync(path, 'r');
  } catch (err) {
    if (err instanceof ApertureDepthError) throw err;
    throw new ApertureDepthError(`HDF5 file ${fsReason(err)}`, { file: path, cause: err });
  }
  try {
    if (size === 0) throw new ApertureDepthError('empty file, expected HDF5', { file: path });
    const probe = new Uint8Array(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      if (readSync(fd, probe, 0, 8, offset) === 8 && SIGNATURE.every((b, i) => probe[i] === b)) return size;
    }
    throw new ApertureDepthError('not an HDF5 file (no HDF5 signature at byte 0 or after a user block)', {
      file: path,
    });
  } finally {
    closeSync(fd);
  }
}

/** The dtype a dataset is read as: int8/int16 widen to int32 and uint32 to float64 (both exact). */
function datasetDtype(meta: Meta): Dtype | null {
  if (!meta.littleEndian && meta.size > 1) return null;
  if (meta.type === CLASS_FLOAT)
    return ({ 2: 'float16', 4: 'float32', 8: 'float64' } as const)[meta.size as 2] ?? null;
  if (meta.type !== CLASS_INTEGER) return null;
  if (meta.signed)
    return ({ 1: 'int32', 2: 'int32', 4: 'int32', 8: 'int64' } as const)[meta.size as 1] ?? null;
  return ({ 1: 'uint8', 2: 'uint16', 4: 'float64' } as const)[meta.size as 1] ?? null;
}

function typeWords(meta: Meta): string {
  if (meta.type === CLASS_FLOAT) return `float${meta.size * 8}${meta.littleEndian ? '' : ' (big-endian)'}`;
  if (meta.type === CLASS_INTEGER) {
    return `${meta.signed ? 'int' : 'uint'}${meta.size * 8}${meta.littleEndian || meta.size === 1 ? '' : ' (big-endian)'}`;
  }
  return CLASS_NAMES[meta.type] ?? `class ${meta.type}`;
}

async function readSelection(
  f: OpenFile,
  entry: Hdf5Entry,
  name: string,
  slice: (Hdf5DimSlice | null)[] | undefined,
  maxBytes: number,
): Promise<NdArray> {
  const fail = (msg: string) => new ApertureDepthError(msg, { file: f.path, key: name });
  const meta = entry.meta!;
  const dtype = datasetDtype(meta);
  if (!dtype) throw fail(`dataset type ${typeWords(meta)} is not readable as an array`);
  const shape = meta.shape ?? [0];
  // 1. Selection: [start, end, step] per dimension, checked against the dataset's shape.
  if (slice !== undefined && (!Array.isArray(slice) || slice.length > shape.length)) {
    throw fail(
      `slice has ${Array.isArray(slice) ? slice.length : 'no'} dimensions, the dataset [${shape.join(', ')}] has ${shape.length}`,
    );
  }
  const sel: Hdf5Selection = { count: [], offset: [], strides: [] };
  shape.forEach((dim, i) => {
    const s = slice?.[i];
    const [start, end, step = 1] = s ?? [0, dim, 1];
    const ok =
      [start, end, step].every(Number.isSafeInteger) && start >= 0 && start <= end && end <= dim && step >= 1;
    if (!ok)
      throw fail(
        `slice[${i}] = ${JSON.stringify(s)} is not [start, end, step?] with 0 <= start <= end <= ${dim}, step >= 1`,
      );
    sel.offset.push(start);
    sel.count.push(Math.ceil((end - start) / step));
    sel.strides.push(step);
  });
  // 2. Size checks before any allocation.
  const n = elementCount(sel.count);
  const nbytes = n * meta.size;
  const limit = Math.min(maxBytes, HEAP_LIMIT);
  if (nbytes > limit)
    throw fail(`selection [${sel.count.join(', ')}] is ${nbytes} bytes, more than the limit of ${limit}`);
  const fullBytes = elementCount(shape) * meta.size;
  if (meta.chunks === null && entry.filters === 0 && fullBytes > f.fileSize) {
    throw fail(`dataset claims ${fullBytes} bytes of contiguous data, the file has ${f.fileSize}`);
  }
  // 3. Read (a hyperslab unless the whole dataset is wanted) and convert.
  const bytes = await f.call('read', {
    fid: f.fid,
    path: entry.path,
    sel: slice === undefined ? null : sel,
    nbytes,
  });
  if (bytes.byteLength !== nbytes) throw fail(`read ${bytes.byteLength} bytes, expected ${nbytes}`);
  return { shape: sel.count, dtype, data: convert(bytes, meta, dtype, n) };
}

/** Raw little-endian bytes → the container of `dtype`. */
function convert(buf: ArrayBuffer, meta: Meta, dtype: Dtype, n: number): TypedArray {
  if (meta.type === CLASS_FLOAT) {
    if (meta.size === 2) return Float32Array.from(new Uint16Array(buf, 0, n), float16ToNumber);
    return meta.size === 4 ? new Float32Array(buf, 0, n) : new Float64Array(buf, 0, n);
  }
  if (dtype === 'int64') return new BigInt64Array(buf, 0, n);
  if (dtype === 'uint8') return new Uint8Array(buf, 0, n);
  if (dtype === 'uint16') return new Uint16Array(buf, 0, n);
  if (dtype === 'float64') return Float64Array.from(new Uint32Array(buf, 0, n));
  // int32, and int8/int16 widened to it
  if (meta.size === 4) return new Int32Array(buf, 0, n);
  return Int32Array.from(meta.size === 1 ? new Int8Array(buf, 0, n) : new Int16Array(buf, 0, n));
}

/** A short reason: the last line of an HDF5 error stack is the specific cause ("file signature not found"). */
function hdf5Reason(err: unknown): string {
  const text = errorText(err);
  if (err instanceof Hdf5CallError && err.kind === 'timeout') return `${text} (the file is probably corrupt)`;
  if (err instanceof Hdf5CallError && err.kind === 'abort')
    return `libhdf5 aborted (the file is probably corrupt): ${text.slice(0, 200)}`;
  const lines = text.split('\n').filter((l) => /#\d+:/.test(l));
  const last = lines[lines.length - 1];
  const m = last ? /\(\): (.*)$/.exec(last) : null;
  return (m ? m[1]! : text.split('\n')[0]!).trim().slice(0, 300);
}
