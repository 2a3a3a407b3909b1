/**
 * `npm run bench`: runs every benchmark script in its own process (so backends and memory do not mix) and
 * prints their figures, each line with the command that reruns it. `--only NAME[,NAME]` picks some.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NOT_HERE } from './exit-status.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Name, script, arguments, environment: the order is the order of BENCHMARKS.md. */
const BENCHES: ReadonlyArray<readonly [string, string, string[], Record<string, string>?]> = Object.freeze([
  ['renderers', 'renderers.ts', []],
  ['unet', 'unet.ts', []],
  // One stage B training step of the embedded prior (gradient and update), host Adam against the tensor one.
  ['train-step', 'train-step.ts', []],
  ['onnx-unet', 'onnx-unet.ts', []],
  // The tiny prior (tfjs vs onnx), then the real shape at 512x384 with the allocator mode auto picks there.
  ['iteration', 'iteration.ts', []],
  // The same real-size iteration with the system allocator forced (what auto's choice gains).
  ['iteration-system', 'iteration.ts', ['--part', 'real'], { APERTURE_DEPTH_NATIVE_MEMORY: 'system' }],
  // The memory target: 768x576, where auto keeps the system allocator.
  ['iteration-768', 'iteration.ts', ['--part', 'real', '--size', '768x576', '--real-iterations', '1']],
  // The onnx engine on a GPU provider against the CPU one (skipped where no GPU provider starts).
  ['provider-parity', 'provider-parity.ts', []],
]);

const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? new Set(process.argv[onlyIdx + 1]?.split(',')) : undefined;
let failed = 0;
for (const [name, script, args, env] of BENCHES) {
  if (only && !only.has(name)) continue;
  const path = join(here, script);
  if (!existsSync(path)) continue;
  const envText = Object.entries(env ?? {})
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  process.stdout.write(`\n## ${name}: ${envText}npx tsx experiments/bench/${script} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--import=tsx', path, ...args], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  if (r.status === NOT_HERE) {
    process.stdout.write(`(${name} skipped: not available on this machine)\n`);
  } else if (r.status !== 0) {
    failed += 1;
    process.stdout.write(`(${name} exited with ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed ? 1 : 0);
