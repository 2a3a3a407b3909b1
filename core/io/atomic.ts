import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** A temp name beside `path`, so that the final rename stays on one filesystem (and is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * Writes `bytes` to `path` through a temp file and a rename, so a killed process never leaves a
 * half-written output under the final name.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  withAtomicPathSync(path, (tmp) => writeFileSync(tmp, bytes));
}

/** Runs `write(tmpPath)` synchronously (for writers that stream into a file) and renames the result into place. */
export function withAtomicPathSync(path: string, write: (tmpPath: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    write(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Runs `write(tmpPath)` (for writers that need a path, e.g. HDF5) and renames the result into place.
 */
export async function withAtomicPath<T>(path: string, write: (tmpPath: string) => Promise<T> | T): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const result = await write(tmp);
    renameSync(tmp, path);
    return result;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The temp names {@link tempPathFor} makes: `.<name>.tmp-<pid>-<random>`. */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[a-z0-9]+$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files a killed writer left in `dir` (and its sub-folders, `depth` levels down): readers
 * never look at them (they only open final names), and a resumed run cleans them up. Files of a process
 * that is still running are kept. Returns the paths removed.
 */
export function removeStaleTempFiles(dir: string, depth = 3): string[] {
  const removed: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth > 0) removed.push(...removeStaleTempFiles(path, depth - 1));
      continue;
    }
    const m = TEMP_NAME.exec(e.name);
    if (m && !alive(Number(m[1]))) {
      rmSync(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}
