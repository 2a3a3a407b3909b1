import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ApertureDepthError } from '../errors.ts';
import { isPlainObject } from './yaml-file.ts';

/**
 * Keys that hold file or folder paths. A relative path is resolved against the folder of the config file
 * that sets it (or the working directory for `--set`), so a config works from any working directory and the
 * resolved copy in a run folder (absolute paths) reproduces the run. `*` matches any list index.
 * `model` keys count as paths only when they look like one (`./`, `../`, `/`, `~`); otherwise they are names.
 */
const PATH_KEYS = ['data.root', 'data.file', 'data.split_file', 'data.files.*'];
const MODEL_KEYS = ['prior.model', 'variants.*.prior.model'];

function matches(pattern: string, path: readonly string[]): boolean {
  const parts = pattern.split('.');
  return parts.length === path.length && parts.every((p, i) => p === '*' || p === path[i]);
}

const looksLikePath = (s: string): boolean => /^(\.{1,2}[/\\]|[/\\]|~([/\\]|$))/.test(s) || isAbsolute(s);

/** Expands `${NAME}` from the environment and a leading `~`; an unset variable is an error naming the key. */
export function expandPath(value: string, origin: string, key: string): string {
  const expanded = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = process.env[name];
    if (v === undefined || v === '') {
      throw new ApertureDepthError(
        `environment variable ${name} is not set (used in ${JSON.stringify(value)})`,
        {
          file: origin,
          key,
        },
      );
    }
    return v;
  });
  if (expanded === '~') return homedir();
  if (expanded.startsWith('~/')) return resolve(homedir(), expanded.slice(2));
  return expanded;
}

/**
 * Resolves the path-valued keys inside `value` (which sits at `prefix` in the config) against `baseDir`.
 * Returns a new value; the input is not modified.
 */
export function resolvePathsIn(
  value: unknown,
  prefix: readonly string[],
  baseDir: string,
  origin: string,
): unknown {
  if (typeof value === 'string') {
    const key = prefix.join('.');
    if (PATH_KEYS.some((p) => matches(p, prefix))) return resolve(baseDir, expandPath(value, origin, key));
    if (MODEL_KEYS.some((p) => matches(p, prefix))) {
      const v = expandPath(value, origin, key);
      return looksLikePath(v) || v !== value ? resolve(baseDir, v) : value;
    }
    return value;
  }
  if (Array.isArray(value))
    return value.map((v, i) => resolvePathsIn(v, [...prefix, String(i)], baseDir, origin));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolvePathsIn(v, [...prefix, k], baseDir, origin);
    return out;
  }
  return value;
}
