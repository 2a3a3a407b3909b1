import { spawn } from 'node:child_process';
import { ApertureDepthError } from '../errors.ts';

/**
 * How the process's C allocator treats the large blocks onnxruntime allocates and frees on every session
 * run (segment activations, hundreds of MB each). glibc serves blocks over 32 MB with mmap and returns
 * them to the system on free, so every run of every segment faults its memory in again and the kernel
 * zeroes it page by page: at 512x384 that was ~18 % of an iteration's time (perf), and one real-size
 * iteration took 52 s against 40 s with the blocks kept (`MALLOC_MMAP_MAX_=0`: heap only, freed memory
 * reused by the next run), for ~30 % more peak memory (13.6 -> 17.5 GB). BENCHMARKS.md has the runs.
 *
 * The kept blocks are not returned while the process lives, and the heap fragments: at 768x576 the real
 * Marigold then needed more than this machine's 23 GB and was killed (16.2 GB without). So the default is
 * the system's behaviour, and `APERTURE_DEPTH_NATIVE_MEMORY=retain` asks for the faster one where memory
 * allows. glibc reads these settings only at process start, so the CLI (and the benchmark) start
 * themselves again with them (`relaunchWithNativeMemory`). Transparent huge pages for malloc
 * (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`) were no faster here (52.7 s, more system time).
 */

export const NATIVE_MEMORY_ENV = 'APERTURE_DEPTH_NATIVE_MEMORY';

/** The environment the retaining mode adds. */
export const RETAIN_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_MMAP_MAX_: '0' });

export type NativeMemoryMode = 'retain' | 'system';

/** The mode asked for by the environment (checked: a wrong value is an error naming the variable). */
export function nativeMemoryMode(env: NodeJS.ProcessEnv = process.env): NativeMemoryMode {
  const v = env[NATIVE_MEMORY_ENV];
  if (v === undefined || v === '') return 'system';
  if (v === 'retain' || v === 'system') return v;
  throw new ApertureDepthError(`"${v}": expected "retain" or "system"`, { key: NATIVE_MEMORY_ENV });
}

/** Whether this process runs on glibc (whose malloc the settings are for). */
export function isGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

/** Whether the process should start again with `RETAIN_ENV` (retain mode, glibc, not set yet). */
export function needsRelaunch(env: NodeJS.ProcessEnv = process.env, glibc = isGlibc()): boolean {
  if (!glibc || nativeMemoryMode(env) !== 'retain') return false;
  return Object.entries(RETAIN_ENV).some(([k, v]) => env[k] !== v);
}

/**
 * Runs this same command again (same node flags, script and arguments) with `RETAIN_ENV` and exits with
 * its status; returns false without doing anything when no relaunch is needed. Ctrl-C reaches the child
 * through the terminal (its interrupt handling saves a resumable state); other signals sent to this
 * process are passed on.
 */
export async function relaunchWithNativeMemory(): Promise<boolean> {
  if (!needsRelaunch()) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...RETAIN_ENV },
  });
  // A child that cannot start (no such binary, limits): run in this process as it is.
  const started = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (!started) return false;
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(s, () => {
      if (s !== 'SIGINT') child.kill(s);
    });
  }
  const code = await new Promise<number>((resolve) => {
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 + signalNumber(signal) : 1)));
  });
  process.exit(code);
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1;
}
