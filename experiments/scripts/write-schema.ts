// Writes the experiment config schema as JSON Schema for editors: `npm run schema`.
import { join } from 'node:path';
import { configJsonSchema } from '../../core/config/json-schema.ts';
import { writeFileAtomic } from '../../core/io/atomic.ts';

const out = join(import.meta.dirname, '..', 'configs', 'schema.json');
writeFileAtomic(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${out}\n`);
