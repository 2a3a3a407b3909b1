import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from '../../../core/config/json-schema.ts';

test('the JSON Schema describes every section, forbids unknown keys, keeps enums and bounds', (t) => {
  const s = configJsonSchema() as {
    $schema: string;
    additionalProperties: boolean;
    properties: Record<
      string,
      { properties?: Record<string, Record<string, unknown>> } & Record<string, unknown>
    >;
    required?: string[];
  };
  t.regex(s.$schema, /json-schema\.org/);
  for (const k of [
    'base',
    'backend',
    'seed',
    'data',
    'optics',
    'prior',
    'optimizer',
    'variants',
    'metrics',
    'output',
    'limits',
  ]) {
    t.truthy(s.properties[k], k);
  }
  t.is(s.additionalProperties, false);
  t.is(s.required, undefined); // a partial piece (base file) is valid in an editor
  const optimizer = s.properties.optimizer!;
  t.is((optimizer as { additionalProperties?: boolean }).additionalProperties, false);
  t.is(optimizer.properties!.iterations!.type, 'integer');
  t.is(optimizer.properties!.iterations!.maximum, 1_000_000);
  t.is((s.properties.seed as { default?: number }).default, 0);
  t.deepEqual(optimizer.properties!.psf!.enum, ['disc', 'gaussian']);
  const text = JSON.stringify(s);
  t.true(text.includes('"middlebury2014"'));
  t.true(text.includes('"nyuv2-labeled"'));
});

test('experiments/configs/schema.json is up to date (npm run schema)', (t) => {
  const path = join(import.meta.dirname, '../../../experiments/configs/schema.json');
  let onDisk: unknown;
  try {
    onDisk = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return t.fail(`${path} is missing: run npm run schema`);
  }
  t.deepEqual(onDisk, JSON.parse(JSON.stringify(configJsonSchema())));
});
