import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempFolders, tempFolder } from '../helpers/temp-dir.ts';

// The tests' temp folders do not outlive the test process (they once piled up by the hundred in /tmp).

test('tempFolder makes a fresh folder each time and removeTempFolders removes them with their files', (t) => {
  const a = tempFolder('check');
  const b = tempFolder('check');
  t.not(a, b);
  writeFileSync(join(a, 'x.txt'), 'x');
  t.true(existsSync(join(a, 'x.txt')) && existsSync(b));
  removeTempFolders();
  t.false(existsSync(a));
  t.false(existsSync(b));
});

test('a process that made temp folders removes them when it exits', (t) => {
  const helper = join(import.meta.dirname, '../helpers/temp-dir.ts');
  const script = `import { tempFolder } from ${JSON.stringify(helper)}; console.log(tempFolder('exit'));`;
  const out = execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const dir = out.trim();
  t.regex(dir, /aperture-depth-exit-/);
  t.false(existsSync(dir));
});
