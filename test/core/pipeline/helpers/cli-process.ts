/**
 * Helpers of the kill tests: the real CLI in a child process, waits on what it writes, and a scan of an
 * output folder that checks every file under a final name is complete.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readHdf5 } from '../../../../core/io/hdf5.ts';
import { readNpy } from '../../../../core/io/npy.ts';
import { readPng } from '../../../../core/io/png.ts';
import { readCheckpoint } from '../../../../optimizers/checkpoint.ts';

export const REPO = join(import.meta.dirname, '../../../..');

export interface CliRun {
  child: ChildProcess;
  /** stderr so far, split into lines (progress and log lines). */
  lines: string[];
  /** Resolves when the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts `node --import=tsx core/cli/main.ts ...args` in the repository. */
export function startCli(args: string[]): CliRun {
  const child = spawn(process.execPath, ['--import=tsx', 'core/cli/main.ts', ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
    lines.splice(0, lines.length, ...stderr.split('\n').filter(Boolean));
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) =>
    child.on('exit', (code, signal) => {
      // Let the pipes drain before reporting.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    }),
  );
  return { child, lines, done };
}

/** Polls `cond` every 5 ms; resolves true when it holds, false if the process exits or `timeoutMs` passes. */
export async function waitFor(
  cond: () => boolean,
  run: CliRun | undefined,
  timeoutMs = 120_000,
): Promise<boolean> {
  const t0 = Date.now();
  let exited = false;
  run?.done.then(() => (exited = true));
  while (Date.now() - t0 < timeoutMs) {
    if (cond()) return true;
    if (exited) return cond();
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/** The iteration of a checkpoint file (0 when absent or unreadable: written atomically, so rarely). */
export function checkpointIteration(path: string): number {
  try {
    return JSON.parse(readFileSync(path, 'utf8')).iteration ?? 0;
  } catch {
    return 0;
  }
}

/** Temp names of `core/io/atomic.ts`: `.<name>.tmp-<pid>-<random>`. */
export const TEMP_NAME = /^\..+\.tmp-\d+-[a-z0-9]+$/;

export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

/**
 * Checks every file under a final name in `dir` is complete (it parses as what its name says); returns
 * the temp files found (allowed after a kill, never read, removed by the next --resume) and the problems.
 */
export async function scanOutputs(
  dir: string,
): Promise<{ temps: string[]; problems: string[]; checked: number }> {
  const temps: string[] = [];
  const problems: string[] = [];
  let checked = 0;
  for (const file of listFiles(dir)) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    if (TEMP_NAME.test(name)) {
      temps.push(file);
      continue;
    }
    checked++;
    try {
      if (statSync(file).size === 0) throw new Error('empty');
      if (name === 'checkpoint.json') readCheckpoint(file);
      else if (name.endsWith('.json')) JSON.parse(readFileSync(file, 'utf8'));
      else if (name.endsWith('.npy')) readNpy(file);
      else if (name.endsWith('.png')) readPng(file);
      else if (name.endsWith('.h5')) await readHdf5(file);
      else if (name.endsWith('.yaml')) parseYaml(readFileSync(file, 'utf8'));
      else if (name.endsWith('.html')) {
        if (!readFileSync(file, 'utf8').trimEnd().endsWith('</html>')) throw new Error('no </html>');
      } else if (name.endsWith('.csv') || name.endsWith('.md')) {
        if (!readFileSync(file, 'utf8').endsWith('\n')) throw new Error('no final newline');
      }
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { temps, problems, checked };
}
