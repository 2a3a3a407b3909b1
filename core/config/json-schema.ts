import { z } from 'zod';
import { BASE_KEY } from './inherit.ts';
import { configSchema } from './schema.ts';

/**
 * The config schema as JSON Schema (draft 2020-12), for editors (`# yaml-language-server: $schema=...`).
 * Every key is optional here because one file may be a partial piece merged with its `base` files; the
 * complete check runs when a config is loaded. Unknown keys, types, ranges and enums are all checked.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  stripRequired(schema);
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  schema.properties = {
    [BASE_KEY]: {
      description:
        'config files merged under this one, in order (later keys win); paths relative to this file',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
    ...props,
  };
  schema.title = 'aperture-depth experiment config';
  return schema;
}

function stripRequired(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) stripRequired(n);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  // A discriminated union keeps its discriminator required, so editors can still tell the options apart.
  if (Array.isArray(obj.required)) {
    const keep = (obj.required as string[]).filter((k) => k === 'name' || k === 'type');
    if (keep.length) obj.required = keep;
    else delete obj.required;
  }
  for (const v of Object.values(obj)) stripRequired(v);
}
