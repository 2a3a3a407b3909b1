import h5wasmDefault from 'h5wasm/node';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { ApertureDepthError } from '../errors.ts';
import { withAtomicPath } from './atomic.ts';
import { errorText, fsReason } from './file-bytes.ts';
import { checkNdArray, elementCount, float16ToNumber, type Dtype, type NdArray, type TypedArray } from './ndarray.ts';

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

export interface Hdf5DatasetOptions {
  /** Per-dimension selection; `null` or a missing entry keeps the whole dimension. */
  slice?: (Hdf5DimSlice | null)[];
  /**
   * Largest selection read, in bytes.
   * @default 2 ** 30
   */
  maxBytes?: number;
}

export interface Hdf5ReadOptions {
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

type H5 = typeof h5wasmDefault;
type H5Module = Awaited<H5['ready']>;
type H5File = InstanceType<H5['File']>;

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const DEFAULT_MAX_BYTES = 2 ** 30;
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

let loaded: Promise<{ h5wasm: H5; Module: H5Module }> | undefined;

/** Loads h5wasm once. Its Node build reads real paths directly (NODERAWFS), so a slice reads only its bytes. */
function h5(): Promise<{ h5wasm: H5; Module: H5Module }> {
  loaded ??= h5wasmDefault.ready.then((Module) => {
    // Turn HDF5's stderr diagnostics into thrown errors, which are wrapped below.
    Module.activate_throwing_error_handler();
    return { h5wasm: h5wasmDefault, Module };
  });
  return loaded;
}

/**
 * Writes datasets and attributes to an HDF5 file, atomically (temp file, then rename).
 * float16 arrays are stored as float32 (h5wasm has no float16 writer).
 */
export async function writeHdf5(path: string, content: Hdf5Content): Promise<void> {
  const fail = (msg: string, key?: string, cause?: unknown) => new ApertureDepthError(msg, { file: path, key, cause });
  if (!content || typeof content !== 'object' || !content.datasets || typeof content.datasets !== 'object') {
    throw fail('expected { datasets, attrs }');
  }
  for (const [name, arr] of Object.entries(content.datasets)) {
    checkDatasetName(name, path);
    checkNdArray(arr, path, `datasets.${name}`);
  }
  checkAttrs(content.attrs ?? {}, path, 'attrs');
  for (const [name, attrs] of Object.entries(content.datasetAttrs ?? {})) {
    if (!(name in content.datasets)) throw fail(`attributes given for a dataset that is not written`, `datasetAttrs.${name}`);
    checkAttrs(attrs, path, `datasetAttrs.${name}`);
  }

  const { h5wasm } = await h5();
  await withAtomicPath(path, (tmp) => {
    let file: H5File | undefined;
    try {
      file = new h5wasm.File(tmp, 'w');
      for (const [k, v] of Object.entries(content.attrs ?? {})) writeAttr(file, k, v);
      for (const [name, arr] of Object.entries(content.datasets)) {
        const parts = name.split('/');
        for (let i = 1; i < parts.length; i++) {
          const group = parts.slice(0, i).join('/');
          if (!file.get(group)) file.create_group(group);
        }
        const data = arr.dtype === 'float16' ? Float32Array.from(arr.data as Float32Array) : arr.data;
        file.create_dataset({ name, data: data as never, shape: arr.shape, dtype: DTYPE_FORMAT[arr.dtype] });
        const ds = file.get(name);
        for (const [k, v] of Object.entries(content.datasetAttrs?.[name] ?? {})) writeAttr(ds as H5File, k, v);
      }
    } catch (err) {
      if (err instanceof ApertureDepthError) throw err;
      throw fail(`HDF5 write failed: ${hdf5Reason(err)}`, undefined, err);
    } finally {
      file?.close();
    }
  });
}

function writeAttr(obj: H5File, name: string, value: Hdf5AttrValue): void {
  if (typeof value === 'string') obj.create_attribute(name, value);
  else if (typeof value === 'number') obj.create_attribute(name, value, [], '<d');
  else obj.create_attribute(name, Float64Array.from(value), [value.length], '<d');
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
      throw new ApertureDepthError(`attribute must be a string, a number or a non-empty number[]`, { file, key: `${key}.${k}` });
    }
  }
}

/**
 * Reads every numeric dataset and the root and dataset attributes of an HDF5 file. Refuses (before
 * reading) when the datasets total more than `maxBytes`; read big files one `readHdf5Dataset` slice at a time.
 */
export async function readHdf5(path: string, options: Hdf5ReadOptions = {}): Promise<Hdf5ReadResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return withHdf5File(path, ({ h5wasm, Module, file, fileSize }) => {
    const result: Hdf5ReadResult = { datasets: {}, attrs: {}, datasetAttrs: {}, skipped: [] };
    result.attrs = readAttrs(file, '', result.skipped);
    const datasets: [string, InstanceType<H5['Dataset']>][] = [];
    for (const name of file.paths()) {
      const entity = file.get(name);
      if (entity instanceof h5wasm.Dataset) datasets.push([name.replace(/^\//, ''), entity]);
    }
    let total = 0;
    for (const [, ds] of datasets) {
      const meta = ds.metadata;
      if (datasetDtype(meta)) total += meta.size * elementCount(meta.shape ?? [0]);
    }
    if (total > maxBytes) {
      throw new ApertureDepthError(
        `datasets total ${total} bytes, more than the limit of ${maxBytes}: read them one at a time with readHdf5Dataset`,
        { file: path },
      );
    }
    for (const [name, ds] of datasets) {
      if (!datasetDtype(ds.metadata)) {
        result.skipped.push(name);
        continue;
      }
      result.datasets[name] = readSelection(Module, file, ds, name, undefined, path, fileSize, maxBytes);
      const attrs = readAttrs(ds, name, result.skipped);
      if (Object.keys(attrs).length > 0) result.datasetAttrs[name] = attrs;
    }
    return result;
  });
}

/**
 * Reads one dataset, or a slice of it: only the selected elements are read from disk.
 * @example readHdf5Dataset('nyu_depth_v2_labeled.mat', 'depths', { slice: [[0, 1]] }) // shape [1, 640, 480]
 */
export async function readHdf5Dataset(path: string, name: string, options: Hdf5DatasetOptions = {}): Promise<NdArray> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return withHdf5File(path, ({ h5wasm, Module, file, fileSize }) => {
    const ds = getDataset(h5wasm, file, name, path);
    return readSelection(Module, file, ds, name, options.slice, path, fileSize, maxBytes);
  });
}

/** Lists every dataset with its shape and type, reading no data. */
export async function listHdf5Datasets(path: string): Promise<Hdf5DatasetInfo[]> {
  return withHdf5File(path, ({ h5wasm, file }) => {
    const out: Hdf5DatasetInfo[] = [];
    for (const name of file.paths()) {
      const entity = file.get(name);
      if (!(entity instanceof h5wasm.Dataset)) continue;
      const meta = entity.metadata;
      out.push({ name: name.replace(/^\//, ''), shape: meta.shape ?? [], dtype: datasetDtype(meta), type: typeWords(meta) });
    }
    return out;
  });
}

interface OpenFile {
  h5wasm: H5;
  Module: H5Module;
  file: H5File;
  fileSize: number;
}

/** Checks the signature, opens the file read-only, runs `use`, and always closes the file. */
async function withHdf5File<T>(path: string, use: (f: OpenFile) => T): Promise<T> {
  const fileSize = checkSignature(path);
  const { h5wasm, Module } = await h5();
  let file: H5File | undefined;
  try {
    file = new h5wasm.File(path, 'r');
    if (file.file_id < 0n) throw new Error('could not open');
    return use({ h5wasm, Module, file, fileSize });
  } catch (err) {
    if (err instanceof ApertureDepthError) throw err;
    throw new ApertureDepthError(`corrupt or unreadable HDF5 file: ${hdf5Reason(err)}`, { file: path, cause: err });
  } finally {
    try {
      if (file && file.file_id >= 0n) file.close();
    } catch {
      // closing a file whose metadata was corrupt can fail too; the error above is the one to report
    }
  }
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
    throw new ApertureDepthError('not an HDF5 file (no HDF5 signature at byte 0 or after a user block)', { file: path });
  } finally {
    closeSync(fd);
  }
}

function getDataset(h5wasm: H5, file: H5File, name: string, path: string): InstanceType<H5['Dataset']> {
  const clean = name.replace(/^\//, '');
  const entity = clean === '' ? null : file.get(clean);
  if (entity instanceof h5wasm.Dataset) return entity;
  const names = file
    .paths()
    .filter((p) => file.get(p) instanceof h5wasm.Dataset)
    .map((p) => p.replace(/^\//, ''));
  const listed = names.slice(0, 20).join(', ') + (names.length > 20 ? `, ... (${names.length} in all)` : '');
  const what = entity ? 'is a group, not a dataset' : 'not found';
  throw new ApertureDepthError(`dataset ${JSON.stringify(clean)} ${what} (datasets: ${listed || 'none'})`, {
    file: path,
  });
}

type Metadata = InstanceType<H5['Dataset']>['metadata'];

/** The dtype a dataset is read as: int8/int16 widen to int32 and uint32 to float64 (both exact). */
function datasetDtype(meta: Metadata): Dtype | null {
  if (!meta.littleEndian && meta.size > 1) return null;
  if (meta.type === CLASS_FLOAT) return ({ 2: 'float16', 4: 'float32', 8: 'float64' } as const)[meta.size as 2] ?? null;
  if (meta.type !== CLASS_INTEGER) return null;
  if (meta.signed) return ({ 1: 'int32', 2: 'int32', 4: 'int32', 8: 'int64' } as const)[meta.size as 1] ?? null;
  return ({ 1: 'uint8', 2: 'uint16', 4: 'float64' } as const)[meta.size as 1] ?? null;
}

function typeWords(meta: Metadata): string {
  if (meta.type === CLASS_FLOAT) return `float${meta.size * 8}${meta.littleEndian ? '' : ' (big-endian)'}`;
  if (meta.type === CLASS_INTEGER) {
    return `${meta.signed ? 'int' : 'uint'}${meta.size * 8}${meta.littleEndian || meta.size === 1 ? '' : ' (big-endian)'}`;
  }
  return CLASS_NAMES[meta.type] ?? `class ${meta.type}`;
}

function readSelection(
  Module: H5Module,
  file: H5File,
  ds: InstanceType<H5['Dataset']>,
  name: string,
  slice: (Hdf5DimSlice | null)[] | undefined,
  path: string,
  fileSize: number,
  maxBytes: number,
): NdArray {
  const fail = (msg: string) => new ApertureDepthError(msg, { file: path, key: name });
  const meta = ds.metadata;
  const dtype = datasetDtype(meta);
  if (!dtype) throw fail(`dataset type ${typeWords(meta)} is not readable as an array`);
  const shape = meta.shape ?? [0];
  // 1. Selection: [start, end, step] per dimension, checked against the dataset's shape.
  if (slice !== undefined && (!Array.isArray(slice) || slice.length > shape.length)) {
    throw fail(`slice has ${Array.isArray(slice) ? slice.length : 'no'} dimensions, the dataset [${shape.join(', ')}] has ${shape.length}`);
  }
  const offset: number[] = [];
  const count: number[] = [];
  const strides: number[] = [];
  shape.forEach((dim, i) => {
    const s = slice?.[i];
    const [start, end, step = 1] = s ?? [0, dim, 1];
    const ok = [start, end, step].every(Number.isSafeInteger) && start >= 0 && start <= end && end <= dim && step >= 1;
    if (!ok) throw fail(`slice[${i}] = ${JSON.stringify(s)} is not [start, end, step?] with 0 <= start <= end <= ${dim}, step >= 1`);
    offset.push(start);
    count.push(Math.ceil((end - start) / step));
    strides.push(step);
  });
  // 2. Size checks before any allocation.
  const n = elementCount(count);
  const nbytes = n * meta.size;
  const limit = Math.min(maxBytes, Module.MAXIMUM_MEMORY / 2);
  if (nbytes > limit) throw fail(`selection [${count.join(', ')}] is ${nbytes} bytes, more than the limit of ${limit}`);
  const fullBytes = elementCount(shape) * meta.size;
  const filters = ds.filters;
  if (meta.chunks === null && filters.length === 0 && fullBytes > fileSize) {
    throw fail(`dataset claims ${fullBytes} bytes of contiguous data, the file has ${fileSize}`);
  }
  // 3. Read into the wasm heap, copy out, free.
  let bytes: Uint8Array;
  if (n === 0) bytes = new Uint8Array(0);
  else {
    const ptr = Module._malloc(nbytes);
    if (!ptr) throw fail(`could not allocate ${nbytes} bytes in the HDF5 heap`);
    try {
      const whole = slice === undefined;
      const status = Module.get_dataset_data(
        file.file_id,
        ds.path,
        whole ? null : count.map(BigInt),
        whole ? null : offset.map(BigInt),
        whole ? null : strides.map(BigInt),
        BigInt(ptr),
      );
      if (status < 0) throw fail('reading the data failed');
      bytes = Module.HEAPU8.slice(ptr, ptr + nbytes);
    } finally {
      Module._free(ptr);
    }
  }
  return { shape: count, dtype, data: convert(bytes, meta, dtype, n) };
}

/** Raw little-endian bytes → the container of `dtype`. */
function convert(bytes: Uint8Array, meta: Metadata, dtype: Dtype, n: number): TypedArray {
  const buf = bytes.buffer as ArrayBuffer;
  if (meta.type === CLASS_FLOAT) {
    if (meta.size === 2) {
      const halves = new Uint16Array(buf, 0, n);
      return Float32Array.from(halves, float16ToNumber);
    }
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

function readAttrs(obj: { attrs: Record<string, unknown>; path: string }, prefix: string, skipped: string[]) {
  const out: Record<string, Hdf5ReadAttrValue> = {};
  let names: string[];
  try {
    names = Object.keys(obj.attrs);
  } catch (err) {
    skipped.push(`${prefix}@* (${hdf5Reason(err)})`);
    return out;
  }
  for (const key of names) {
    try {
      const value = (obj.attrs[key] as { value: unknown }).value;
      const converted = attrValue(value);
      if (converted === undefined) skipped.push(`${prefix}@${key}`);
      else out[key] = converted;
    } catch {
      skipped.push(`${prefix}@${key}`);
    }
  }
  return out;
}

function attrValue(v: unknown): Hdf5ReadAttrValue | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => Number(x));
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  return undefined;
}

/** The last line of an HDF5 error stack is the specific cause ("file signature not found"). */
function hdf5Reason(err: unknown): string {
  const text = errorText(err);
  const lines = text.split('\n').filter((l) => /#\d+:/.test(l));
  const last = lines[lines.length - 1];
  const m = last ? /\(\): (.*)$/.exec(last) : null;
  return (m ? m[1]! : text.split('\n')[0]!).trim().slice(0, 300);
}
