import { isPlainObject } from './yaml-file.ts';

/** Where each key of a merged config came from: dotted key path (leaves and whole lists) -> file or `--set`. */
export type KeySources = Map<string, string>;

/**
 * Deep merge: mappings merge key by key, everything else (lists included) is replaced by the later value,
 * and `null` deletes the key (so a config can undo what a base set). Neither input is modified.
 */
export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k]))
      out[k] = deepMerge(out[k] as Record<string, unknown>, v);
    else out[k] = cloneValue(v);
  }
  return out;
}

function cloneValue<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (isPlainObject(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = cloneValue(x);
    return o as T;
  }
  return v;
}

/** Leaf key paths of `obj` (scalars, lists, empty mappings), each attributed to `origin`. */
export function leafSources(obj: Record<string, unknown>, origin: string, prefix = ''): KeySources {
  const out: KeySources = new Map();
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && Object.keys(v).length > 0) {
      for (const [p, o] of leafSources(v, origin, path)) out.set(p, o);
    } else out.set(path, origin);
  }
  return out;
}

/** The sources after `over` (with its own sources) is merged onto a config with `base` sources. */
export function mergeSources(base: KeySources, over: KeySources): KeySources {
  const out: KeySources = new Map(base);
  for (const path of over.keys()) {
    // A leaf replaces whatever lay below it; a deeper key replaces a leaf that stood on its way.
    for (const p of [...out.keys()]) if (p.startsWith(`${path}.`)) out.delete(p);
    const parts = path.split('.');
    for (let i = 1; i < parts.length; i++) out.delete(parts.slice(0, i).join('.'));
  }
  for (const [p, o] of over) out.set(p, o);
  return out;
}

/** The file that set `path` (or the nearest enclosing key that was set as a whole), if any. */
export function sourceOf(sources: KeySources, path: readonly (string | number)[]): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const hit = sources.get(path.slice(0, n).join('.'));
    if (hit !== undefined) return hit;
  }
  // A key below `path` says which file wrote this mapping.
  const prefix = path.join('.');
  if (prefix) for (const [p, o] of sources) if (p.startsWith(`${prefix}.`)) return o;
  return undefined;
}
