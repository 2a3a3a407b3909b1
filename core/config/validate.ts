import { z } from 'zod';
import { ApertureDepthError } from '../errors.ts';
import { sourceOf, type KeySources } from './merge.ts';
import { deepMerge } from './merge.ts';
import {
  configSchema,
  optimizerSchema,
  priorSchema,
  type ExperimentConfig,
  type ResolvedVariant,
  type VariantInput,
} from './schema.ts';
import { describeValue, isPlainObject } from './yaml-file.ts';

type Issue = z.core.$ZodIssue & { input?: unknown };
type PathPart = PropertyKey;

/** Where a config came from, for error messages. */
export interface ConfigOrigin {
  /** The file named on the command line (used when no other file set the key at fault). */
  file: string;
  sources?: KeySources;
}

/**
 * Validates a merged config tree against the schema and fills defaults. The first problem becomes an
 * `ApertureDepthError` naming the file that set the key, the key path and what was expected; further problems
 * are listed in the same message.
 */
export function validateConfig(raw: unknown, origin: ConfigOrigin): ExperimentConfig {
  const r = configSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw issuesToError(r.error.issues as Issue[], [], raw, configSchema, origin);
  return r.data;
}

/**
 * Each variant with its `prior` and `optimizer` overrides merged onto the config's, validated again so that an
 * override out of range is an error at `variants.N...`.
 */
export function resolveVariants(config: ExperimentConfig, origin: ConfigOrigin): ResolvedVariant[] {
  return config.variants.map((v: VariantInput, i) => {
    const spec = typeof v === 'string' ? { type: v } : v;
    const name = spec.name ?? spec.type;
    const parts = { prior: priorSchema, optimizer: optimizerSchema } as const;
    const merged: Record<string, unknown> = {};
    for (const key of ['prior', 'optimizer'] as const) {
      const over = (spec as Record<string, unknown>)[key];
      const base = config[key] as unknown as Record<string, unknown>;
      const value = isPlainObject(over) ? deepMerge(base, over) : base;
      const r = parts[key].safeParse(value, { reportInput: true });
      if (!r.success)
        throw issuesToError(r.error.issues as Issue[], ['variants', i, key], value, parts[key], origin);
      merged[key] = r.data;
    }
    return { name, type: spec.type, ...(merged as Pick<ResolvedVariant, 'prior' | 'optimizer'>) };
  });
}

function issuesToError(
  issues: Issue[],
  prefix: PathPart[],
  root: unknown,
  schema: z.ZodType,
  origin: ConfigOrigin,
): ApertureDepthError {
  const items = issues.flatMap((iss) => describeIssue(iss, prefix, root, schema));
  const where = (it: (typeof items)[number]) => {
    const file = (origin.sources && sourceOf(origin.sources, it.path.map(String))) ?? origin.file;
    return { file, key: it.path.map(String).join('.') || '(top level)' };
  };
  const first = items[0]!;
  const w0 = where(first);
  const more = items.slice(1, 6).map((it) => {
    const w = where(it);
    return `\n  also ${w.file}: ${w.key}: ${it.message}`;
  });
  const extra = items.length > 6 ? `\n  ... and ${items.length - 6} more` : '';
  return new ApertureDepthError(`${first.message}${more.join('')}${extra}`, { file: w0.file, key: w0.key });
}

interface Described {
  path: PathPart[];
  message: string;
}

function valueAt(root: unknown, path: readonly PathPart[]): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function describeIssue(iss: Issue, prefix: PathPart[], root: unknown, schema: z.ZodType): Described[] {
  const path = [...prefix, ...iss.path];
  const got = 'input' in iss ? iss.input : valueAt(root, iss.path);
  switch (iss.code) {
    case 'unrecognized_keys':
      return iss.keys.map((k) => ({
        path: [...path, k],
        message: `unknown key${suggest(k, knownKeysAt(schema, iss.path, root))}`,
      }));
    case 'invalid_type':
      if (got === undefined) return [{ path, message: `missing; expected ${typeName(iss.expected)}` }];
      return [{ path, message: `expected ${typeName(iss.expected)}, got ${describeValue(got)}` }];
    case 'too_small':
    case 'too_big':
      return [{ path, message: `expected ${boundText(iss)}, got ${describeValue(got)}` }];
    case 'invalid_value':
      return [
        {
          path,
          message: `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(got)}`,
        },
      ];
    case 'invalid_union': {
      const u = iss as Issue & {
        note?: string;
        discriminator?: string;
        options?: unknown[];
        errors?: Issue[][];
      };
      if (u.note === 'No matching discriminator' || u.discriminator) {
        const opts = (u.options ?? []).map((o) => JSON.stringify(o)).join(', ');
        // zod reports the enclosing mapping as the input; the value at fault is the discriminator's.
        return [{ path, message: `expected one of ${opts}, got ${describeValue(valueAt(root, iss.path))}` }];
      }
      // When one alternative matched the shape (its problems lie deeper), its problems are the real ones.
      const deeper = (u.errors ?? []).filter(
        (b: Issue[]) => b.length > 0 && b.every((x) => x.path.length > 0),
      );
      if (deeper.length === 1) {
        return deeper[0]!.flatMap((x: Issue) =>
          describeIssue({ ...x, path: [...iss.path, ...x.path] } as Issue, prefix, root, schema),
        );
      }
      const alts = (u.errors ?? []).map((branch: Issue[]) => branchText(branch));
      return [{ path, message: `expected ${[...new Set(alts)].join(' or ')}, got ${describeValue(got)}` }];
    }
    case 'invalid_format':
      return [{ path, message: `${iss.message}, got ${describeValue(got)}` }];
    default:
      return [{ path, message: iss.message }];
  }
}

/** What one alternative of a union wanted, in a few words. */
function branchText(branch: Issue[]): string {
  const top = branch.find((b) => b.path.length === 0) ?? branch[0];
  if (!top) return 'another value';
  switch (top.code) {
    case 'invalid_type':
      return typeName(top.expected);
    case 'invalid_value':
      return top.values.map((v) => JSON.stringify(v)).join(' or ');
    case 'too_small':
    case 'too_big':
      return boundText(top);
    default:
      return top.path.length ? `a mapping with valid ${top.path.join('.')}` : top.message;
  }
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    default:
      return expected;
  }
}

function boundText(iss: Issue): string {
  const i = iss as Issue & {
    origin?: string;
    minimum?: number | bigint;
    maximum?: number | bigint;
    inclusive?: boolean;
  };
  const small = iss.code === 'too_small';
  const bound = Number(small ? i.minimum : i.maximum);
  if (i.origin === 'array')
    return small ? `a list of at least ${bound} items` : `a list of at most ${bound} items`;
  if (i.origin === 'string')
    return small ? `a string of at least ${bound} characters` : `a string of at most ${bound} characters`;
  const op = small ? (i.inclusive ? '>=' : '>') : i.inclusive ? '<=' : '<';
  return `a number ${op} ${bound}`;
}

/** Strips the wrappers that do not change which keys an object takes. */
function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    if (
      s instanceof z.ZodDefault ||
      s instanceof z.ZodPrefault ||
      s instanceof z.ZodOptional ||
      s instanceof z.ZodNullable
    ) {
      s = (s as unknown as { unwrap(): z.ZodType }).unwrap();
    } else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else return s;
  }
}

/** The object schema that applies at `path` of `root` (discriminated unions chosen by the value there). */
function objectSchemaAt(
  schema: z.ZodType,
  path: readonly PathPart[],
  root: unknown,
): z.ZodObject | undefined {
  let s = unwrap(schema);
  let v: unknown = root;
  for (let i = 0; i <= path.length; i++) {
    s = unwrap(s);
    if (s instanceof z.ZodUnion) {
      const options = (s.options as z.ZodType[]).map(unwrap);
      const disc = (s as unknown as { _zod: { def: { discriminator?: string } } })._zod.def.discriminator;
      const pick = options.find((o) => {
        if (!(o instanceof z.ZodObject)) return false;
        if (!disc) return true;
        const lit = unwrap((o.shape as Record<string, z.ZodType>)[disc]!);
        return (
          lit instanceof z.ZodLiteral &&
          lit.values.has(isPlainObject(v) ? (v[disc] as never) : (undefined as never))
        );
      });
      if (!pick) return undefined;
      s = pick;
    }
    if (i === path.length) return s instanceof z.ZodObject ? s : undefined;
    const part = path[i]!;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(part)] ?? z.never();
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return undefined;
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[part] : undefined;
  }
  return undefined;
}

/** The keys the object at `path` accepts, for "did you mean" hints. */
function knownKeysAt(schema: z.ZodType, path: readonly PathPart[], root: unknown): string[] {
  const obj = objectSchemaAt(schema, path, root);
  return obj ? Object.keys(obj.shape) : [];
}

function suggest(key: string, known: string[]): string {
  if (known.length === 0) return '';
  const best = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0]!;
  const hint = best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best.k}"?)` : '';
  return `${hint}; expected one of ${known.join(', ')}`;
}

export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
