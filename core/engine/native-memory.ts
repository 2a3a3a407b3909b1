import { spawn } from 'node:child_process';
import { totalmem } from 'node:os';
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
 * Marigold then needed more than this machine's 23 GB and was killed (16.2 GB without). So the default,
 * `auto`, keeps the blocks only where the run's predicted peak with them fits the machine
 * (`chooseNativeMemory`: `predictRetainPeakBytes` against {@link RETAIN_MEMORY_FRACTION} of the physical
 * memory); `APERTURE_DEPTH_NATIVE_MEMORY=retain` or `=system` forces one. glibc reads these settings only at
 * process start, so the CLI (and the benchmark) start themselves again with them
 * (`relaunchWithNativeMemory`). Transparent huge pages for malloc (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`)
 * were no faster here (52.7 s, more system time).
 */

export const NATIVE_MEMORY_ENV = 'APERTURE_DEPTH_NATIVE_MEMORY';

/** The environment the retaining mode adds. */
export const RETAIN_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_MMAP_MAX_: '0' });

export type NativeMemoryChoice = 'retain' | 'system';
export type NativeMemoryMode = 'auto' | NativeMemoryChoice;

/** The mode asked for by the environment (checked: a wrong value is an error naming the variable). */
export function nativeMemoryMode(env: NodeJS.ProcessEnv = process.env): NativeMemoryMode {
  const v = env[NATIVE_MEMORY_ENV];
  if (v === undefined || v === '') return 'auto';
  if (v === 'auto' || v === 'retain' || v === 'system') return v;
  throw new ApertureDepthError(`"${v}": expected "auto", "retain" or "system"`, { key: NATIVE_MEMORY_ENV });
}

/** `auto` keeps freed blocks only when the predicted peak stays under this share of the physical memory. */
export const RETAIN_MEMORY_FRACTION = 0.75;

/** Below this many activation bytes per network pass the allocator's mode does not matter: no relaunch. */
export const RETAIN_MIN_PASS_BYTES = 256 * 2 ** 20;

/** What a run of the onnx engine brings: its networks' weights and the activations of one pass each. */
export interface NativeMemoryLoad {
  /** Bytes of the UNet's and VAE's weights (float32). */
  networkWeightBytes: number;
  /** Activation bytes of one UNet pass plus one VAE-decoder pass at the processing size (`priorPassBytes`). */
  passBytes: number;
}

/**
 * The peak resident memory of a real-size onnx run with freed blocks kept: 3.5 x the weights (the weights
 * themselves, the backward kernels and the sessions' copies) + 0.5 x one pass's activations. Fitted to the
 * real Marigold shape (3.8 GB of weights) at 512x384 (7.4 GB of activations; measured 16.4-17.5 GB, predicted
 * 17.0) and 768x576 (23 GB; measured 24.1-24.5 GB or killed, predicted 24.8); BENCHMARKS.md has the runs.
 */
export function predictRetainPeakBytes(load: NativeMemoryLoad): number {
  return 3.5 * load.networkWeightBytes + 0.5 * load.passBytes;
}

export interface NativeMemoryDecision {
  choice: NativeMemoryChoice;
  /** For the log line. */
  reason: string;
}

/**
 * `auto`'s choice: retain when the predicted peak with kept blocks is under {@link RETAIN_MEMORY_FRACTION} of
 * `totalBytes` (the physical memory), else the system's behaviour; small runs (one pass under
 * {@link RETAIN_MIN_PASS_BYTES}) stay as they are.
 */
export function chooseNativeMemory(
  load: NativeMemoryLoad,
  totalBytes: number = totalmem(),
): NativeMemoryDecision {
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  if (load.passBytes < RETAIN_MIN_PASS_BYTES)
    return { choice: 'system', reason: `small networks (${gb(load.passBytes)} per pass)` };
  const peak = predictRetainPeakBytes(load);
  const limit = RETAIN_MEMORY_FRACTION * totalBytes;
  const fits = peak <= limit;
  return {
    choice: fits ? 'retain' : 'system',
    reason: `predicted peak with kept blocks ${gb(peak)} ${fits ? '<=' : '>'} ${gb(limit)} (${RETAIN_MEMORY_FRACTION * 100} % of ${gb(totalBytes)})`,
  };
}

/** Whether this process runs on glibc (whose malloc the settings are for). */
export function isGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

/** Whether `RETAIN_ENV` is in effect in `env`. */
export function retainSet(env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.entries(RETAIN_ENV).every(([k, v]) => env[k] === v);
}

/**
 * Whether the process should start again with `RETAIN_ENV`: on glibc, while not set yet, in retain mode or in
 * auto mode when `autoChoice` (the caller's `chooseNativeMemory`) is retain.
 */
export function needsRelaunch(
  env: NodeJS.ProcessEnv = process.env,
  glibc = isGlibc(),
  autoChoice?: NativeMemoryChoice,
): boolean {
  if (!glibc || retainSet(env)) return false;
  const mode = nativeMemoryMode(env);
  return mode === 'retain' || (mode === 'auto' && autoChoice === 'retain');
}

/**
 * Runs this same command again (same node flags, script and arguments) with `RETAIN_ENV` and exits with
 * its status; returns false without doing anything when no relaunch is needed. In auto mode `plan` says
 * what the run needs (called only where a relaunch could follow: glibc, settings not yet in effect; an
 * undefined load = nothing to decide) and `log` gets the decision. Ctrl-C reaches the child through the
 * terminal (its interrupt handling saves a resumable state); other signals sent to this process are
 * passed on.
 */
export async function relaunchWithNativeMemory(
  plan?: () => Promise<NativeMemoryLoad | undefined> | NativeMemoryLoad | undefined,
  log?: (line: string) => void,
): Promise<boolean> {
  const glibc = isGlibc();
  let autoChoice: NativeMemoryChoice | undefined;
  if (plan && nativeMemoryMode() === 'auto' && glibc && !retainSet()) {
    const load = await plan();
    if (load) {
      const d = chooseNativeMemory(load);
      autoChoice = d.choice;
      log?.(
        `native memory: ${d.choice === 'retain' ? 'keeping freed blocks (restarting with MALLOC_MMAP_MAX_=0)' : 'system allocator'}: auto, ${d.reason}`,
      );
    }
  }
  if (!needsRelaunch(process.env, glibc, autoChoice)) return false;
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
