/**
 * Caches a rendered training set (and its encoded latents) in the work folder, so a resumed run does not
 * render and encode again. Raw little-endian arrays plus a JSON key; a key mismatch rebuilds. Atomic writes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../core/io/atomic.ts';

export type CachedArrays = Record<string, Float32Array | Uint8Array>;

function bytesOf(a: Float32Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The arrays cached under `dir/name.*` for `key`, or undefined when absent or made for another key. */
export function readCachedArrays(dir: string, name: string, key: unknown): CachedArrays | undefined {
  const meta = join(dir, `${name}.json`);
  if (!existsSync(meta)) return undefined;
  const m = JSON.parse(readFileSync(meta, 'utf8')) as { key: string; arrays: Record<string, 'f32' | 'u8'> };
  if (m.key !== JSON.stringify(key) || !Object.keys(m.arrays).every((a) => existsSync(join(dir, `${name}.${a}.bin`)))) return undefined;
  return Object.fromEntries(
    Object.entries(m.arrays).map(([a, t]) => {
      const p = join(dir, `${name}.${a}.bin`);
      return [a, t === 'f32' ? readF32(p) : new Uint8Array(readFileSync(p))];
    }),
  );
}

/** Stores `arrays` under `dir/name.*` for `key` (arrays first, the key file last) and returns them. */
export function writeCachedArrays(dir: string, name: string, key: unknown, arrays: CachedArrays): CachedArrays {
  const kinds: Record<string, 'f32' | 'u8'> = {};
  for (const [a, v] of Object.entries(arrays)) {
    writeFileAtomic(join(dir, `${name}.${a}.bin`), bytesOf(v));
    kinds[a] = v instanceof Float32Array ? 'f32' : 'u8';
  }
  writeFileAtomic(join(dir, `${name}.json`), JSON.stringify({ key: JSON.stringify(key), arrays: kinds }));
  return arrays;
}

/** Returns the cached value for `key` under `dir/name.*`, or builds, stores and returns it. */
export async function cachedArrays(
  dir: string,
  name: string,
  key: unknown,
  build: () => CachedArrays | Promise<CachedArrays>,
): Promise<CachedArrays> {
  return readCachedArrays(dir, name, key) ?? writeCachedArrays(dir, name, key, await build());
}
