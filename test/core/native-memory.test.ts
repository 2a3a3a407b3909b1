import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  isGlibc,
  NATIVE_MEMORY_ENV,
  nativeMemoryMode,
  needsRelaunch,
  RETAIN_ENV,
} from '../../core/engine/native-memory.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

test('native memory mode: system by default, retain on request, anything else names the variable', (t) => {
  t.is(nativeMemoryMode({}), 'system');
  t.is(nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'system' }), 'system');
  t.is(nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'retain' }), 'retain');
  t.throws(() => nativeMemoryMode({ [NATIVE_MEMORY_ENV]: 'fast' }), { message: /APERTURE_DEPTH_NATIVE_MEMORY.*"fast".*retain.*system/ });
});

test('a relaunch is needed only on glibc, in retain mode, while the allocator settings are not set', (t) => {
  const retain = { [NATIVE_MEMORY_ENV]: 'retain' };
  t.true(needsRelaunch(retain, true));
  t.false(needsRelaunch(retain, false));
  t.false(needsRelaunch({}, true));
  t.false(needsRelaunch({ [NATIVE_MEMORY_ENV]: 'system' }, true));
  t.false(needsRelaunch({ ...retain, ...RETAIN_ENV }, true));
  t.true(needsRelaunch({ ...retain, MALLOC_MMAP_MAX_: '65536' }, true));
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
  } finally {
    dir.remove();
  }
});
