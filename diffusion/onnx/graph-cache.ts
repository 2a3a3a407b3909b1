import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { tempPathFor } from '../../core/io/atomic.ts';

/**
 * The disk cache of built graphs: one folder per key under `~/.cache/aperture-depth/onnx` (or
 * `APERTURE_DEPTH_ONNX_CACHE`, or an explicit folder), holding `weights.bin`, the `.onnx` models that
 * point into it, and `meta.json`. A folder appears only complete (built beside, then renamed).
 */

/** Bump when the graph format or a VJP rule changes: old entries are then simply not found. */
export const GRAPH_FORMAT_VERSION = 8;

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.APERTURE_DEPTH_ONNX_CACHE ?? join(homedir(), '.cache', 'aperture-depth', 'onnx'));
}

/** Stable JSON (sorted keys) so equal keys hash equally. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`)
    .join(',')}}`;
}

export function cacheKeyHash(key: unknown): string {
  return createHash('sha256')
    .update(stableJson({ format: GRAPH_FORMAT_VERSION, key }))
    .digest('hex')
    .slice(0, 24);
}

/**
 * Identity of a weights file without reading it: absolute path, size and modification time. Use it in a
 * network's cache key (`{ config, weights: fileIdentity(path), seed? }`).
 */
export function fileIdentity(path: string): { path: string; size: number; mtimeMs: number } {
  const st = statSync(path);
  return { path: resolve(path), size: st.size, mtimeMs: Math.round(st.mtimeMs) };
}

export function entryDir(cacheDir: string, hash: string): string {
  return join(cacheDir, hash);
}

export function readMeta<M>(dir: string): M | undefined {
  const file = join(dir, 'meta.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as M;
  } catch {
    return undefined; // a damaged entry is rebuilt
  }
}

/** Builds an entry in a temp folder beside its final place, then renames it there. */
export async function writeEntry(dir: string, build: (tmpDir: string) => Promise<void>): Promise<void> {
  const tmp = tempPathFor(dir);
  mkdirSync(tmp, { recursive: true });
  try {
    await build(tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
