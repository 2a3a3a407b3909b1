import { join } from 'node:path';
import { readNpy } from '../../core/io/npy.ts';

/** A golden fixture array widened to float32 (int64 token ids and timesteps fit exactly). */
export interface NpyFixture {
  shape: number[];
  data: Float32Array;
}

export const FIXTURES = 'test/data/diffusers-tiny';

export function readNpyFixture(path: string): NpyFixture {
  const arr = readNpy(path);
  const data =
    arr.data instanceof BigInt64Array
      ? Float32Array.from(arr.data, (v) => Number(v))
      : arr.data instanceof Float32Array
        ? arr.data
        : Float32Array.from(arr.data as ArrayLike<number>);
  return { shape: arr.shape, data };
}

/** Reads `<FIXTURES>/<rel>`. */
export function fixture(rel: string): NpyFixture {
  return readNpyFixture(join(FIXTURES, rel));
}

/** ||a - b|| / ||b||. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** max |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
