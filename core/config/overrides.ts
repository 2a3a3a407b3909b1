import { parse as parseYaml } from 'yaml';
import { ApertureDepthError } from '../errors.ts';
import { isPlainObject } from './yaml-file.ts';

/** One `--set key.path=value` override. */
export interface ConfigOverride {
  /** Key path split at dots; numeric parts index lists (`variants.1.type`). */
  path: string[];
  value: unknown;
  /** The argument as given, for messages. */
  text: string;
}

export const OVERRIDE_ORIGIN = '--set';

/**
 * Parses `key.path=value`; the value is read as YAML, so `100` is a number, `true` a boolean, `[a, b]` a list,
 * `{name: pairs}` a mapping, `''` or `null` deletes the key, and anything else a string.
 */
export function parseOverride(text: string): ConfigOverride {
  const eq = text.indexOf('=');
  const fail = (msg: string) =>
    new ApertureDepthError(`${msg} in ${JSON.stringify(text)}`, { file: OVERRIDE_ORIGIN });
  if (eq <= 0) throw fail('expected key.path=value');
  const key = text.slice(0, eq).trim();
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(key)) throw fail(`bad key path "${key}"`);
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = raw.trim() === '' ? null : parseYaml(raw);
  } catch (err) {
    throw new ApertureDepthError(`value is not valid YAML: ${(err as Error).message.split('\n')[0]}`, {
      file: OVERRIDE_ORIGIN,
      key,
      cause: err,
    });
  }
  return { path: key.split('.'), value: value === undefined ? null : value, text };
}

/**
 * Sets `override.value` at its path inside `config` (modified in place). Missing mappings on the way are
 * created; a numeric part indexes an existing list (or appends at its length); `null` deletes.
 */
export function applyOverride(config: Record<string, unknown>, override: ConfigOverride): void {
  const { path, value } = override;
  let node: unknown = config;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    const last = i === path.length - 1;
    const here = path.slice(0, i + 1).join('.');
    if (Array.isArray(node)) {
      const idx = Number(part);
      if (!/^\d+$/.test(part) || idx > node.length) {
        throw new ApertureDepthError(`"${part}" is not an index of this list (0..${node.length})`, {
          file: OVERRIDE_ORIGIN,
          key: here,
        });
      }
      if (last) {
        if (value === null) node.splice(idx, 1);
        else node[idx] = value;
        return;
      }
      if (!isPlainObject(node[idx]) && !Array.isArray(node[idx])) node[idx] = container(path[i + 1]!);
      node = node[idx];
    } else if (isPlainObject(node)) {
      if (last) {
        if (value === null) delete node[part];
        else node[part] = value;
        return;
      }
      if (!isPlainObject(node[part]) && !Array.isArray(node[part])) node[part] = container(path[i + 1]!);
      node = node[part];
    } else {
      throw new ApertureDepthError(`cannot set a key inside a ${typeof node}`, {
        file: OVERRIDE_ORIGIN,
        key: here,
      });
    }
  }
}

/** What to create on the way to a key: a list when the next part is an index, else a mapping. */
function container(next: string): unknown[] | Record<string, unknown> {
  return /^\d+$/.test(next) ? [] : {};
}
