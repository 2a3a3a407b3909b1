import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ApertureDepthError } from '../errors.ts';

/** Config files are small; a larger one is a mistake (a data file named by accident), refused before reading. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** A plain object (what a YAML mapping becomes), not an array, null or class instance. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return (
    typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype
  );
}

/**
 * Reads a YAML file whose top level is a mapping (an empty file is `{}`). Syntax errors, duplicate keys and
 * a non-mapping top level are errors naming the file and the line.
 */
export function readYamlFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    const st = statSync(path);
    if (st.isDirectory())
      throw new ApertureDepthError('is a folder, expected a YAML config file', { file: path });
    if (!st.isFile())
      throw new ApertureDepthError('is not a regular file (a device or pipe?), expected a YAML config file', {
        file: path,
      });
    if (st.size > MAX_CONFIG_BYTES) {
      throw new ApertureDepthError(`is ${st.size} bytes; a config file is at most ${MAX_CONFIG_BYTES}`, {
        file: path,
      });
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ApertureDepthError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : String(err);
    throw new ApertureDepthError(`config file ${why}`, { file: path, cause: err });
  }
  return parseYamlText(text, path);
}

/** Parses YAML text as {@link readYamlFile} does; `origin` names it in errors. */
export function parseYamlText(text: string, origin: string): Record<string, unknown> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ApertureDepthError(`invalid YAML${line ? ` at line ${line}` : ''}: ${firstLine(e.message)}`, {
      file: origin,
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ApertureDepthError(`invalid YAML: ${firstLine((err as Error).message)}`, {
      file: origin,
      cause: err,
    });
  }
  if (value === null || value === undefined) return {};
  checkAcyclic(value, origin);
  if (!isPlainObject(value)) {
    throw new ApertureDepthError(`expected a mapping of keys at the top level, got ${describeValue(value)}`, {
      file: origin,
    });
  }
  return value;
}

/**
 * A recursive alias (`a: &a [*a]`) becomes a cyclic object, which every later step would walk forever:
 * refuse it here. Iterative, so a deep (but finite) tree cannot overflow the stack either.
 */
function checkAcyclic(root: unknown, origin: string): void {
  const onPath = new Set<object>();
  const stack: Array<{ node: object; children: unknown[]; i: number }> = [];
  const enter = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    if (onPath.has(v)) {
      throw new ApertureDepthError('invalid YAML: an alias refers to a node that contains it (a cycle)', {
        file: origin,
      });
    }
    onPath.add(v);
    stack.push({ node: v, children: Object.values(v), i: 0 });
  };
  enter(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i < top.children.length) enter(top.children[top.i++]);
    else {
      onPath.delete(top.node);
      stack.pop();
    }
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** A short description of a value for error messages: `"abc"`, `3`, `a list`, `a mapping`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list (${v.length} items)`;
  if (isPlainObject(v)) return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}
