import { existsSync, statSync } from 'node:fs';
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
    const basePath = resolve(dirname(abs), b);
    // A base that is not there is this file's mistake: name it, and the key.
    const problem = !existsSync(basePath)
      ? 'does not exist'
      : !statSync(basePath).isFile()
        ? 'is not a regular file'
        : undefined;
    if (problem) {
      throw new ApertureDepthError(`${basePath}: config file ${problem}`, {
        file: abs,
        key: BASE_KEY,
      });
    }
    const sub = withBaseNote(abs, () => loadConfigTree(basePath, [...chain, abs]));
    value = deepMerge(value, sub.value);
    sources = mergeSources(sources, sub.sources);
    for (const f of sub.files) if (!files.includes(f)) files.push(f);
  }
  value = deepMerge(value, resolved);
  sources = mergeSources(sources, leafSources(resolved, abs));
  files.push(abs);
  return { value, sources, files };
}

/** An error in a base file also says which config named it (a user may not know the chain). */
function withBaseNote<T>(file: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ApertureDepthError) || err.message.includes(file)) throw err;
    const prefix = [err.file, err.key].filter(Boolean).join(': ');
    const reason =
      prefix && err.message.startsWith(`${prefix}: `) ? err.message.slice(prefix.length + 2) : err.message;
    throw new ApertureDepthError(`${reason} (read as a base of ${file})`, {
      file: err.file,
      key: err.key,
      cause: err,
    });
  }
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
