import { ApertureDepthError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { MAX_DECODED_BYTES, readFileBytes } from './file-bytes.ts';
import {
  DTYPE_BYTES,
  checkNdArray,
  elementCount,
  float16ToNumber,
  numberToFloat16,
  typedView,
  type Dtype,
  type NdArray,
} from './ndarray.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy `descr` kind+size → dtype (the byte-order character is handled apart). */
const DESCR_TO_DTYPE: Readonly<Record<string, Dtype>> = Object.freeze({
  f4: 'float32',
  f8: 'float64',
  u1: 'uint8',
  u2: 'uint16',
  i4: 'int32',
  i8: 'int64',
  f2: 'float16',
});
const DTYPE_TO_DESCR: Readonly<Record<Dtype, string>> = Object.freeze({
  float32: '<f4',
  float64: '<f8',
  uint8: '|u1',
  uint16: '<u2',
  int32: '<i4',
  int64: '<i8',
  float16: '<f2',
});

/**
 * Reads a `.npy` file (format versions 1.0, 2.0 and 3.0; C order; either byte order) into an `NdArray`.
 * dtypes: float32, float64, uint8, uint16, int32, int64 (→ `BigInt64Array`, exact), float16 (→ `Float32Array`,
 * dtype stays `'float16'`). `fortran_order: True` files are reordered to C order (same shape, as numpy reads them).
 * @example readNpy('.../text_encoder/input_ids.npy') // { shape: [1, 8], dtype: 'int64', data: BigInt64Array(8) }
 */
export function readNpy(path: string): NdArray {
  return decodeNpy(readFileBytes(path, 'NPY'), path);
}

/** Decodes `.npy` bytes; `name` is used in error messages. */
export function decodeNpy(bytes: Uint8Array, name: string): NdArray {
  const fail = (msg: string) => new ApertureDepthError(msg, { file: name });
  if (bytes.length === 0) throw fail('empty file, expected a .npy array');
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw fail('not a .npy file (bad magic)');
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) throw fail(`unsupported .npy format version ${major}.${minor}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw fail('truncated header');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.length) {
    throw fail(
      `truncated: header claims ${headerLen} bytes, the file has ${bytes.length - 8 - lenBytes} after the preamble`,
    );
  }
  const headerBytes = bytes.subarray(8 + lenBytes, dataStart);
  let headerText: string;
  try {
    headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerBytes);
  } catch {
    throw fail('corrupt header: not valid UTF-8');
  }
  const header = parseHeader(headerText, fail);

  // Check the claimed size against the file before allocating.
  const dtype = header.dtype;
  const count = elementCount(header.shape);
  const itemBytes = DTYPE_BYTES[dtype];
  const needBytes = count * itemBytes;
  if (!Number.isSafeInteger(count) || needBytes > MAX_DECODED_BYTES) {
    throw fail(`shape (${header.shape.join(', ')}) is too large (${count} elements)`);
  }
  if (needBytes > bytes.length - dataStart) {
    throw fail(
      `truncated: shape (${header.shape.join(', ')}) of ${header.descr} needs ${needBytes} bytes, the file has ${bytes.length - dataStart}`,
    );
  }

  // Copy into an aligned buffer, swapping bytes if the file is big-endian.
  const raw = bytes.slice(dataStart, dataStart + needBytes);
  if (header.bigEndian && itemBytes > 1) {
    for (let i = 0; i < raw.length; i += itemBytes) raw.subarray(i, i + itemBytes).reverse();
  }
  let data;
  if (dtype === 'float16') {
    const halves = new Uint16Array(raw.buffer, 0, count);
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = float16ToNumber(halves[i]!);
  } else {
    data = typedView(dtype, raw.buffer, count);
  }
  if (header.fortranOrder && header.shape.filter((d) => d > 1).length > 1)
    data = fortranToC(data, header.shape);
  return { shape: header.shape, dtype, data };
}

/** Reorders column-major (Fortran) data to row-major (C) for the same shape. */
function fortranToC<T extends NdArray['data']>(src: T, shape: number[]): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const rank = shape.length;
  const fStride = new Array<number>(rank);
  for (let k = 0, s = 1; k < rank; k++) {
    fStride[k] = s;
    s *= shape[k]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let f = 0;
  for (let i = 0; i < src.length; i++) {
    out[i] = src[f]!;
    // Step the C-order index (last dimension fastest) and follow it in Fortran offsets.
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]!++;
      f += fStride[k]!;
      if (idx[k]! < shape[k]!) break;
      f -= fStride[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}

interface NpyHeader {
  descr: string;
  dtype: Dtype;
  bigEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
}

/** Parses the header dict, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, without eval. */
function parseHeader(text: string, fail: (msg: string) => ApertureDepthError): NpyHeader {
  const src = text.trim();
  if (!src.startsWith('{') || !src.endsWith('}')) throw fail('corrupt header: not a Python dict literal');
  const fields = new Map<string, string>();
  const fieldRe = /\s*'([a-z_]+)'\s*:\s*('[^']*'|True|False|\([^)]*\))\s*(,|$)/y;
  const body = src.slice(1, -1);
  fieldRe.lastIndex = 0;
  while (fieldRe.lastIndex < body.length) {
    const start = fieldRe.lastIndex;
    if (/^\s*$/.test(body.slice(start))) break;
    const m = fieldRe.exec(body);
    if (!m) throw fail(`corrupt header near ${JSON.stringify(body.slice(start, start + 20))}`);
    fields.set(m[1]!, m[2]!);
  }
  const descrLit = fields.get('descr');
  const fortranLit = fields.get('fortran_order');
  const shapeLit = fields.get('shape');
  if (descrLit === undefined || fortranLit === undefined || shapeLit === undefined) {
    throw fail("corrupt header: needs 'descr', 'fortran_order' and 'shape'");
  }
  const descr = descrLit.slice(1, -1);
  const m = /^([<>|=])([a-z]\d+)$/.exec(descr);
  const dtype = m ? DESCR_TO_DTYPE[m[2]!] : undefined;
  if (!m || !dtype) {
    throw fail(
      `unsupported dtype ${JSON.stringify(descr)} (supported: ${Object.keys(DESCR_TO_DTYPE).join(', ')})`,
    );
  }
  if (fortranLit !== 'True' && fortranLit !== 'False')
    throw fail('corrupt header: fortran_order must be True or False');
  if (!shapeLit.startsWith('(')) throw fail('corrupt header: shape must be a tuple');
  const dims = shapeLit
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim())
    .filter((s, i, all) => s !== '' || i !== all.length - 1);
  const shape = dims.map((s) => {
    if (!/^\d{1,15}L?$/.test(s)) throw fail(`corrupt header: shape ${shapeLit} is not a tuple of integers`);
    return Number(s.replace('L', ''));
  });
  return { descr, dtype, bigEndian: m[1] === '>', fortranOrder: fortranLit === 'True', shape };
}

/** Encodes an `NdArray` as `.npy` bytes (version 1.0, or 2.0 when the header needs it), little-endian, C order. */
export function encodeNpy(arr: NdArray, name = 'NPY array'): Uint8Array {
  checkNdArray(arr, name);
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  const dict = `{'descr': '${DTYPE_TO_DESCR[arr.dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads the header with spaces so that the data starts on a 64-byte boundary, ending in '\n'.
  let version = 1;
  let preamble = 10;
  if (dict.length + 1 + preamble > 65535) {
    version = 2;
    preamble = 12;
  }
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const header = dict + ' '.repeat(total - preamble - dict.length - 1) + '\n';
  const itemBytes = DTYPE_BYTES[arr.dtype];
  const out = new Uint8Array(total + arr.data.length * itemBytes);
  out.set(MAGIC);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  if (arr.dtype === 'float16') {
    for (let i = 0; i < arr.data.length; i++)
      view.setUint16(total + 2 * i, numberToFloat16(arr.data[i] as number), true);
  } else {
    // Typed arrays are little-endian on every platform Node supports.
    out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), total);
  }
  return out;
}

/** Writes an `NdArray` as a `.npy` file, atomically. */
export function writeNpy(path: string, arr: NdArray): void {
  writeFileAtomic(path, encodeNpy(arr, path));
}
