import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempFolder } from '../../helpers/temp-dir.ts';

/** Writes `files` (relative path -> YAML text) into a fresh temp folder and returns the folder. */
export function writeConfigTree(files: Record<string, string>): string {
  const dir = tempFolder('config');
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}
