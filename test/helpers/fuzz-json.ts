/**
 * Structure-aware mutations for text formats (JSON, YAML), to be used as `fieldEdits` of the byte fuzzer in
 * `fuzz.ts`: parse the case, change one node (a value of another type, a huge number, a path that escapes
 * the folder, a missing or unknown key, very deep nesting), write it back. Byte mutations alone mostly make
 * syntax errors; these reach the validators behind the parser. Deterministic for a given RNG.
 */
import { parseDocument, stringify } from 'yaml';
import { pick, randInt, type FieldEdit, type Rng } from './fuzz.ts';

/** Values that tend to break validators: wrong types, limits of number formats, hostile paths. */
export const INTERESTING_VALUES: readonly unknown[] = Object.freeze([
  null,
  true,
  false,
  0,
  -0,
  -1,
  0.5,
  1e-320,
  1e308,
  -1e308,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e21,
  100e9,
  '',
  ' ',
  'NaN',
  'Infinity',
  '1e999',
  '../../../../../../etc/passwd',
  '/etc/passwd',
  '/dev/zero',
  '~/x',
  '${HOME}/x',
  '${APERTURE_DEPTH_FUZZ_UNSET_VARIABLE}',
  '\u0000',
  'a'.repeat(5000),
  '\u202e\ud83d\ude00',
  [],
  {},
  [1, 2, 3],
  ['a', 'b'],
  { a: 1 },
  JSON.parse('{"__proto__": 1}') as unknown,
]);

type Path = (string | number)[];

/** Up to `limit` paths of nodes in `value` (objects' keys and arrays' indices), root first. */
function nodePaths(value: unknown, limit = 400): Path[] {
  const out: Path[] = [[]];
  const walk = (v: unknown, path: Path, depth: number) => {
    if (out.length >= limit || depth > 40) return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push([...path, i]);
        walk(x, [...path, i], depth + 1);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push([...path, k]);
        walk(x, [...path, k], depth + 1);
      }
    }
  };
  walk(value, [], 0);
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return v;
}

/** Deeply nested arrays, built without recursion. */
export function nested(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Returns a new tree with the node at `path` replaced (or deleted when `replacement` is `DELETE`). */
const DELETE = Symbol('delete');
function setAt(root: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement === DELETE ? {} : replacement;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const last = path[path.length - 1]!;
  if (replacement === DELETE) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, unknown>)[last as string];
  } else (parent as Record<string | number, unknown>)[last] = replacement;
  return copy;
}

/** One structural change to a parsed document; `keys` are names worth adding (known keys of the format). */
export interface TreeLimits {
  /** Nesting depths tried. @default [64, 1000, 20000] */
  depths?: readonly number[];
  /** Lengths of the lists put where one value is expected. @default [2, 100, 20000] */
  lengths?: readonly number[];
}

export function mutateTree(
  doc: unknown,
  rng: Rng,
  keys: readonly string[] = [],
  limits: TreeLimits = {},
): { value: unknown; what: string } {
  const paths = nodePaths(doc);
  const path = pick(rng, paths);
  const at = path.join('.') || '(root)';
  const node = getAt(doc, path);
  switch (randInt(rng, 9)) {
    case 0:
    case 1:
    case 2: {
      const v = pick(rng, INTERESTING_VALUES);
      return {
        value: setAt(doc, path, structuredClone(v)),
        what: `${at}=${JSON.stringify(v)?.slice(0, 20)}`,
      };
    }
    case 3:
      return { value: setAt(doc, path, DELETE), what: `delete ${at}` };
    case 4: {
      // A key the format knows, or an unknown one, added to an object.
      if (node === null || typeof node !== 'object' || Array.isArray(node))
        return mutateTree(doc, rng, keys, limits);
      const k =
        keys.length > 0 && rng() < 0.7
          ? pick(rng, keys)
          : pick(rng, ['unknown_key', '__proto__', 'constructor', '']);
      const v = structuredClone(pick(rng, INTERESTING_VALUES));
      return { value: setAt(doc, [...path, k], v), what: `add ${at}.${k}` };
    }
    case 5:
      return { value: setAt(doc, path, pick(rng, [[node], { value: node }])), what: `wrap ${at}` };
    case 6: {
      const depth = pick(rng, limits.depths ?? [64, 1000, 20000]);
      return { value: setAt(doc, path, nested(depth)), what: `nest ${at} x${depth}` };
    }
    case 7: {
      // Numbers nudged to a neighbour type: int -> float, positive -> negative, number -> string.
      if (typeof node === 'number') {
        const v = pick(rng, [node + 0.5, -node, node * 1e12, String(node), Math.floor(node / 2)]);
        return { value: setAt(doc, path, v), what: `nudge ${at}=${String(v).slice(0, 20)}` };
      }
      if (typeof node === 'string') {
        const v = pick(rng, [node.toUpperCase(), `${node}x`, node.slice(1), `../${node}`, `/${node}`]);
        return { value: setAt(doc, path, v), what: `nudge ${at}=${v.slice(0, 20)}` };
      }
      return mutateTree(doc, rng, keys, limits);
    }
    default: {
      // A long list where one value is expected (bounded: a big but not absurd document).
      const v = Array.from({ length: pick(rng, limits.lengths ?? [2, 100, 20000]) }, (_, i) =>
        rng() < 0.5 ? i : `s${i}`,
      );
      return { value: setAt(doc, path, v), what: `list ${at} x${v.length}` };
    }
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** A structural edit of JSON text; undefined when the case no longer parses (byte mutations broke it). */
export function jsonTreeEdit(keys: readonly string[] = []): FieldEdit {
  return (bytes, rng) => {
    let doc: unknown;
    try {
      doc = JSON.parse(decoder.decode(bytes));
    } catch {
      return undefined;
    }
    const { value, what } = mutateTree(doc, rng, keys);
    let text: string;
    try {
      text = JSON.stringify(value, null, rng() < 0.5 ? 2 : undefined);
    } catch {
      return undefined; // too deep for JSON.stringify: keep the case as it was
    }
    return { bytes: encoder.encode(text), what: `json ${what}` };
  };
}

/** Text-level JSON edits that JSON.stringify cannot make: 1e999 (Infinity), duplicate keys, a BOM, trailers. */
export const jsonTextEdits: FieldEdit[] = [
  (bytes, rng) => {
    const text = decoder.decode(bytes);
    const numbers = [...text.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
    if (numbers.length === 0) return undefined;
    const m = pick(rng, numbers);
    const v = pick(rng, ['1e999', '-1e999', '1e-999', '-0', '00', '1.', '.5', '0x10', '9'.repeat(400)]);
    return {
      bytes: encoder.encode(text.slice(0, m.index) + v + text.slice(m.index! + m[0].length)),
      what: `number ${v.slice(0, 8)}`,
    };
  },
  (bytes, rng) => {
    const text = decoder.decode(bytes);
    const i = text.indexOf('{');
    if (i < 0) return undefined;
    const k = pick(rng, ['aif', 'camera', '_class_name', 'block_out_channels', 'unet', 'weight_map', 'x']);
    return {
      bytes: encoder.encode(
        `${text.slice(0, i + 1)}"${k}": ${pick(rng, ['null', '[]', '"a"', '1e999'])},${text.slice(i + 1)}`,
      ),
      what: `duplicate key ${k}`,
    };
  },
  (bytes, rng) => {
    const text = decoder.decode(bytes);
    const v = pick(rng, [
      '\ufeff' + text,
      `${text}\n{}`,
      `${text}garbage`,
      `[${text}]`,
      `"${text.slice(0, 40)}"`,
    ]);
    return { bytes: encoder.encode(v), what: 'frame' };
  },
];

/** A structural edit of YAML text (parsed with the `yaml` package, written back with it). */
export function yamlTreeEdit(keys: readonly string[] = []): FieldEdit {
  // The yaml package is slower than JSON.parse: smaller big cases keep a case in milliseconds.
  const limits = { depths: [64, 1000], lengths: [2, 100, 2000] };
  return (bytes, rng) => {
    let doc: unknown;
    try {
      const d = parseDocument(decoder.decode(bytes));
      if (d.errors.length > 0) return undefined;
      doc = d.toJS({ maxAliasCount: 100 });
    } catch {
      return undefined;
    }
    const { value, what } = mutateTree(doc ?? {}, rng, keys, limits);
    let text: string;
    try {
      text = stringify(value, { lineWidth: 0, flow: rng() < 0.2 });
    } catch {
      return undefined;
    }
    return { bytes: encoder.encode(text), what: `yaml ${what}` };
  };
}

/** YAML-only hazards: alias bombs, tags of other languages, merge keys, special floats, documents. */
export const yamlTextEdits: FieldEdit[] = [
  (bytes, rng) => {
    const text = decoder.decode(bytes);
    const hazards = [
      'bomb: &a [x, x, x, x, x, x, x, x, x]\nb2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nb3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nb4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nb5: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n',
      'code: !!js/function "function () { process.exit(7) }"\n',
      'obj: !!python/object/apply:os.system ["exit 7"]\n',
      'bin: !!binary aGVsbG8=\n',
      'when: !!timestamp 2001-12-14t21:59:43.10-05:00\n',
      'set: !!set {a, b}\n',
      'm: &m {iterations: 3}\noptimizer:\n  <<: *m\n',
      'seed: .nan\n',
      'seed: .inf\n',
      'seed: 0x7fffffff\n',
      'seed: 1_000\n',
      'seed: !!float 1e999\n',
      '---\nseed: 1\n---\nseed: 2\n',
      '%YAML 1.1\n---\nseed: 1\n',
      `deep: ${'['.repeat(1000)}${']'.repeat(1000)}\n`,
      'self: &s [*s]\n',
      'undefined_alias: *nope\n',
      '? [complex, key]\n: 1\n',
      'seed: 1\nseed: 2\n',
      '\t- tab\n',
    ];
    const h = pick(rng, hazards);
    return {
      bytes: encoder.encode(rng() < 0.5 ? `${h}${text}` : `${text}\n${h}`),
      what: `yaml hazard ${h.slice(0, 12)}`,
    };
  },
];
