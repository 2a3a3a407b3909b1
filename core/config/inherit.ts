import { dirname, resolve } from 'node:path';
import { ApertureDepthError } from '../errors.ts';
import { deepMerge, leafSources, mergeSources, type KeySources } from './merge.ts';
import { resolvePathsIn } from './paths.ts';
import { describeValue, readYamlFile } from './yaml-file.ts';

/** A config tree before validation, with the file each key came from. */
export interface RawConfig {
  value: Record<string, unknown>;
  sources: KeySources;
  /** Every file read, the given one last (bases first, in merge order). */
  files: string[];
}

/** The key that lists a file's bases. */
export const BASE_KEY = 'base';

/**
 * Reads `file` and its bases. `base: [a.yaml, b.yaml]` (or one string) names files relative to the file;
 * they are merged in order, then the file itself on top, so later keys win. Each base may have bases of its
 * own; a cycle is an error naming the chain. Path-valued keys are resolved against the file that sets them.
 */
export function loadConfigTree(file: string, chain: readonly string[] = []): RawConfig {
  const abs = resolve(file);
  if (chain.includes(abs)) {
    const loop = [...chain.slice(chain.indexOf(abs)), abs].join(' -> ');
    throw new ApertureDepthError(`config inheritance cycle: ${loop}`, { file: abs, key: BASE_KEY });
  }
  if (chain.length > 32) {
    throw new ApertureDepthError('config inheritance deeper than 32 files', { file: abs, key: BASE_KEY });
  }
  const own = readYamlFile(abs);
  const bases = baseList(own[BASE_KEY], abs);
  delete own[BASE_KEY];
  const resolved = resolvePathsIn(own, [], dirname(abs), abs) as Record<string, unknown>;

  let value: Record<string, unknown> = {};
  let sources: KeySources = new Map();
  const files: string[] = [];
  for (const b of bases) {
    const sub = loadConfigTree(resolve(dirname(abs), b), [...chain, abs]);
    value = deepMerge(value, sub.value);
    sources = mergeSources(sources, sub.sources);
    for (const f of sub.files) if (!files.includes(f)) files.push(f);
  }
  value = deepMerge(value, resolved);
  sources = mergeSources(sources, leafSources(resolved, abs));
  files.push(abs);
  return { value, sources, files };
}

function baseList(v: unknown, file: string): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new ApertureDepthError(`expected a file name or a list of file names, got ${describeValue(v)}`, {
      file,
      key: BASE_KEY,
    });
  }
  return list as string[];
}
