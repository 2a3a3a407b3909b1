import { ApertureDepthError } from '../errors.ts';

/** The element types the file readers and writers of `core/io` know. */
export const DTYPES = Object.freeze([
  'float32',
  'float64',
  'uint8',
  'uint16',
  'int32',
  'int64',
  'float16',
] as const);
export type Dtype = (typeof DTYPES)[number];

export type TypedArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Int32Array | BigInt64Array;

/**
 * An n-dimensional array in C (row-major) order.
 *
 * The container per dtype is fixed: `float32` and `float16` → `Float32Array` (float16 is widened on read
 * and rounded back on write, so the dtype records the stored precision), `float64` → `Float64Array`,
 * `uint8` → `Uint8Array`, `uint16` → `Uint16Array`, `int32` → `Int32Array`, `int64` → `BigInt64Array`
 * (exact; convert with `Number()` where values fit in 2^53).
 *
 * @example `{ shape: [277, 347], dtype: 'float32', data: Float32Array(96119) }`
 */
export interface NdArray {
  shape: number[];
  dtype: Dtype;
  data: TypedArray;
}

/** Bytes per element as stored in a file. */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = Object.freeze({
  float32: 4,
  float64: 8,
  uint8: 1,
  uint16: 2,
  int32: 4,
  int64: 8,
  float16: 2,
});

const CONTAINERS = {
  float32: Float32Array,
  float64: Float64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float16: Float32Array,
} as const;

/** Allocates the container of `dtype` for `length` elements. */
export function allocTyped(dtype: Dtype, length: number): TypedArray {
  return new CONTAINERS[dtype](length);
}

/** The container of `dtype` over the first `length` elements of an aligned `buffer`. */
export function typedView(dtype: Exclude<Dtype, 'float16'>, buffer: ArrayBuffer, length: number): TypedArray {
  return new CONTAINERS[dtype](buffer, 0, length);
}

/** Product of `shape` (1 for a 0-d array). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that `arr` is a well-formed `NdArray` before a writer touches it: a known dtype, a shape of
 * non-negative integers, the right container and `data.length === prod(shape)`.
 */
export function checkNdArray(arr: NdArray, file: string, key = 'array'): void {
  const fail = (msg: string) => new ApertureDepthError(msg, { file, key });
  if (!arr || typeof arr !== 'object') throw fail('expected an NdArray { shape, dtype, data }');
  if (!(DTYPES as readonly string[]).includes(arr.dtype)) {
    throw fail(`unknown dtype ${JSON.stringify(arr.dtype)} (known: ${DTYPES.join(', ')})`);
  }
  if (!Array.isArray(arr.shape) || !arr.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`shape must be non-negative integers, got ${JSON.stringify(arr.shape)}`);
  }
  if (!(arr.data instanceof CONTAINERS[arr.dtype])) {
    throw fail(`dtype ${arr.dtype} needs a ${CONTAINERS[arr.dtype].name}, got ${describe(arr.data)}`);
  }
  const n = elementCount(arr.shape);
  if (arr.data.length !== n) {
    throw fail(`shape [${arr.shape.join(', ')}] has ${n} elements but data has ${arr.data.length}`);
  }
}

function describe(x: unknown): string {
  return x === null || x === undefined ? String(x) : ((x as object).constructor?.name ?? typeof x);
}

/** Float16 bits → number (handles subnormals, ±Infinity and NaN). */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number → float16 bits, round to nearest even (overflow → ±Infinity, NaN kept). */
export function numberToFloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}
