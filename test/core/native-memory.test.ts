import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  chooseNativeMemory,
  isGlibc,
  NATIVE_MEMORY_ENV,
  nativeMemoryMode,
  needsRelaunch,
  predictRetainPeakBytes,
  RETAIN_ENV,
  RETAIN_MIN_PASS_BYTES,
} from '../../core/engine/native-memory.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

test('native memory mode: auto by default, retain or system on request, anything else names the variable', (t) => {
  t.is(nativeMemoryMode({}), 'auto');
  t.is(nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'auto' }), 'auto');
  t.is(nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'system' }), 'system');
  t.is(nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'retain' }), 'retain');
  t.throws(() => nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'fast' }), { message: /APERTURE_DEPTH_NATIVE_MEMORY.*"fast".*auto.*retain.*system/ });
});

test('a relaunch is needed only on glibc, in retain mode or when auto chose retain, while the settings are not set', (t) => {
  const retain = { [NATIVE_MEMORY_ENV]: 'retain' };
  t.true(needsRelaunch(retain, true));
  t.false(needsRelaunch(retain, false));
  t.false(needsRelaunch({}, true));
  t.true(needsRelaunch({}, true, 'retain'));
  t.false(needsRelaunch({}, true, 'system'));
  t.false(needsRelaunch({}, false, 'retain'));
  t.false(needsRelaunch({ [NATIVE_MEMORY_ENV]: 'system' }, true, 'retain'));
  t.false(needsRelaunch({ ...retain, ...RETAIN_ENV }, true));
  t.false(needsRelaunch({ ...RETAIN_ENV }, true, 'retain'));
  t.true(needsRelaunch({ ...retain, MALLOC_MMAP_MAX_: '65536' }, true));
});

test('auto keeps freed blocks for the real Marigold at 512x384 on 24 GB, not at 768x576, nor for small networks', (t) => {
  // UNet + VAE weights of the real shape (949,576,107 float32) and one pass's activations there
  // (memory-budget.ts's priorPassBytes: 7.42 GB at 512x384, 22.95 GB at 768x576).
  const weights = 4 * 949_576_107;
  const at512 = { networkWeightBytes: weights, passBytes: 7.42e9 };
  const at768 = { networkWeightBytes: weights, passBytes: 22.95e9 };
  // The measured peaks with kept blocks: 16.4-17.5 GB and 24.1-24.5 GB (BENCHMARKS.md).
  t.true(Math.abs(predictRetainPeakBytes(at512) - 17.0e9) < 0.2e9);
  t.true(Math.abs(predictRetainPeakBytes(at768) - 24.8e9) < 0.2e9);
  const machine = 25.28e9; // this machine's physical memory
  t.is(chooseNativeMemory(at512, machine).choice, 'retain');
  t.regex(chooseNativeMemory(at512, machine).reason, /17\.0 GB <= 19\.0 GB/);
  t.is(chooseNativeMemory(at768, machine).choice, 'system');
  t.is(chooseNativeMemory(at512, 16e9).choice, 'system', 'a 16 GB machine keeps the system allocator');
  t.is(chooseNativeMemory(at768, 64e9).choice, 'retain');
  t.is(chooseNativeMemory({ networkWeightBytes: 7e7, passBytes: RETAIN_MIN_PASS_BYTES - 1 }, machine).choice, 'system');
});

test('relaunch: the script runs again with the settings, its arguments and exit status', (t) => {
  const dir = makeTempDir('native-memory');
  try {
    const script = join(dir.dir, 'child.mts');
    const module = pathToFileURL(join(import.meta.dirname, '../../core/engine/native-memory.ts')).href;
    writeFileSync(
      script,
      `import { relaunchWithNativeMemory } from ${JSON.stringify(module)};\n` +
        `await relaunchWithNativeMemory();\n` +
        `console.log(JSON.stringify({ mmapMax: process.env.MALLOC_MMAP_MAX_ ?? null, args: process.argv.slice(2) }));\n` +
        `process.exit(Number(process.argv[2]));\n`,
    );
    const { MALLOC_MMAP_MAX_: _, ...base } = process.env;
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, ['--import=tsx', script, '7', 'b c'], { env: { ...base, ...env }, encoding: 'utf8' });
    const retained = run({ [NATIVE_MEMORY_ENV]: 'retain' });
    t.is(retained.status, 7, retained.stderr);
    const printed = retained.stdout.trim().split('\n');
    t.is(printed.length, 1, 'the script body ran once (in the child)');
    t.deepEqual(JSON.parse(printed[0]!), { mmapMax: isGlibc() ? '0' : null, args: ['7', 'b c'] });
    const system = run({});
    t.is(system.status, 7, system.stderr);
    t.deepEqual(JSON.parse(system.stdout.trim()), { mmapMax: null, args: ['7', 'b c'] });

    // Auto: the plan decides (called once, in the first process; the child runs with the settings).
    const auto = join(dir.dir, 'auto.mts');
    writeFileSync(
      auto,
      `import { relaunchWithNativeMemory } from ${JSON.stringify(module)};\n` +
        `const big = process.argv[2] === 'big';\n` +
        `await relaunchWithNativeMemory(() => ({ networkWeightBytes: big ? 1e18 : 0, passBytes: 2 ** 30 }), (l) => console.error(l));\n` +
        `console.log(JSON.stringify({ mmapMax: process.env.MALLOC_MMAP_MAX_ ?? null }));\n`,
    );
    const runAuto = (arg: string, env: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, ['--import=tsx', auto, arg], { env: { ...base, ...env }, encoding: 'utf8' });
    const fits = runAuto('small');
    t.is(fits.status, 0, fits.stderr);
    t.deepEqual(JSON.parse(fits.stdout.trim()), { mmapMax: isGlibc() ? '0' : null });
    if (isGlibc()) t.regex(fits.stderr, /native memory: keeping freed blocks .*auto, predicted peak with kept blocks 0\.5 GB <=/);
    const tooBig = runAuto('big');
    t.deepEqual(JSON.parse(tooBig.stdout.trim()), { mmapMax: null });
    if (isGlibc()) t.regex(tooBig.stderr, /native memory: system allocator: auto, predicted peak .* > /);
    const forced = runAuto('small', { [NATIVE_MEMORY_ENV]: 'system' });
    t.deepEqual(JSON.parse(forced.stdout.trim()), { mmapMax: null });
    t.is(forced.stderr.includes('native memory'), false, 'a forced mode does not ask the plan');
  } finally {
    dir.remove();
  }
});
