import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder under the OS temp dir and a function that removes it (call it from `test.after.always`). */
export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `aperture-depth-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const made = new Set<string>();

/**
 * A fresh folder under the OS temp dir that is removed when the test file's process exits (for helpers
 * that make many small folders and have no test to hang an `after` hook on).
 */
export function tempFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `aperture-depth-${prefix}-`));
  if (made.size === 0) process.once('exit', removeTempFolders);
  made.add(dir);
  return dir;
}

/** Removes every folder `tempFolder` made so far (also run at exit). */
export function removeTempFolders(): void {
  for (const d of made) rmSync(d, { recursive: true, force: true });
  made.clear();
}
