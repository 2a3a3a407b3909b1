/**
 * `npm run bench`: runs every benchmark script in its own process (so backends and memory do not mix) and
 * prints their figures, each line with the command that reruns it. `--only NAME[,NAME]` picks some.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Name, script, arguments: the order is the order of BENCHMARKS.md. */
const BENCHES: ReadonlyArray<readonly [string, string, string[]]> = Object.freeze([
  ['renderers', 'renderers.ts', []],
  ['unet', 'unet.ts', []],
  ['onnx-unet', 'onnx-unet.ts', []],
  ['iteration', 'iteration.ts', []],
]);

const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? new Set(process.argv[onlyIdx + 1]?.split(',')) : undefined;
let failed = 0;
for (const [name, script, args] of BENCHES) {
  if (only && !only.has(name)) continue;
  const path = join(here, script);
  if (!existsSync(path)) continue;
  process.stdout.write(`\n## ${name}: npx tsx experiments/bench/${script} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--import=tsx', path, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed += 1;
    process.stdout.write(`(${name} exited with ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed ? 1 : 0);
