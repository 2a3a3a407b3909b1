import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { PairsDataset } from '../../../core/datasets/pairs.ts';
import { tempFolder } from '../../helpers/temp-dir.ts';

function tree(files: string[]): string {
  const dir = tempFolder('pairs');
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), '{}');
  }
  return dir;
}

test('a folder is searched recursively; ids come from the folders', async (t) => {
  const dir = tree(['desk/pair.json', 'lab/shelf/pair.json', 'lab/notes.txt', 'loose.pair.json']);
  const ds = new PairsDataset({ root: dir });
  t.deepEqual(
    ds.scenes().map((r) => r.id),
    ['desk', 'lab_shelf', 'loose'],
  );
  const scene = await ds.load(ds.scenes()[0]!);
  t.deepEqual(scene, { kind: 'pair', id: 'desk', pairFile: join(dir, 'desk/pair.json') });
});

test('a list of files or folders; duplicate names get a suffix', (t) => {
  const dir = tree(['a/x/pair.json', 'b/x/pair.json']);
  const ds = new PairsDataset({ files: [join(dir, 'a/x'), join(dir, 'b/x/pair.json')] });
  t.deepEqual(
    ds.scenes().map((r) => r.id),
    ['x', 'x-2'],
  );
  const err = t.throws(() => new PairsDataset({ files: [join(dir, 'nope.json')] }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /nope\.json: data\.files: pair file does not exist/);
  const empty = t.throws(
    () => new PairsDataset({ root: join(dir, 'a/x/..', '..', 'b', 'x', '..', '..', 'a', 'x', 'none') }),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(empty!.message, /data\.root/);
});
