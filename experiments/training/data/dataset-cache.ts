/**
 * Caches a rendered training set (and its encoded latents) in the work folder, so a resumed run does not
 * render and encode again. Raw little-endian arrays plus a JSON key; a key mismatch rebuilds. Atomic writes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../core/io/atomic.ts';
import type { SceneDataset } from './scene-dataset.ts';

function bytesOf(a: Float32Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Returns the cached value for `key` under `dir/name.*`, or builds, stores and returns it. */
export function cachedArrays(
  dir: string,
  name: string,
  key: unknown,
  build: () => Record<string, Float32Array | Uint8Array>,
): Record<string, Float32Array | Uint8Array> {
  const keyText = JSON.stringify(key);
  const meta = join(dir, `${name}.json`);
  if (existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { key: string; arrays: Record<string, 'f32' | 'u8'> };
    if (m.key === keyText && Object.keys(m.arrays).every((a) => existsSync(join(dir, `${name}.${a}.bin`)))) {
      return Object.fromEntries(
        Object.entries(m.arrays).map(([a, t]) => {
          const p = join(dir, `${name}.${a}.bin`);
          return [a, t === 'f32' ? readF32(p) : new Uint8Array(readFileSync(p))];
        }),
      );
    }
  }
  const arrays = build();
  const kinds: Record<string, 'f32' | 'u8'> = {};
  for (const [a, v] of Object.entries(arrays)) {
    writeFileAtomic(join(dir, `${name}.${a}.bin`), bytesOf(v));
    kinds[a] = v instanceof Float32Array ? 'f32' : 'u8';
  }
  writeFileAtomic(meta, JSON.stringify({ key: keyText, arrays: kinds }));
  return arrays;
}

/** The scene dataset through {@link cachedArrays}. */
export function cachedDataset(dir: string, key: unknown, build: () => SceneDataset, seeds: readonly number[], width: number, height: number): SceneDataset {
  const a = cachedArrays(dir, 'scenes', key, () => {
    const ds = build();
    return { rgb: ds.rgb, depth: ds.depth };
  });
  return { width, height, seeds: [...seeds], rgb: a.rgb as Uint8Array, depth: a.depth as Float32Array };
}
