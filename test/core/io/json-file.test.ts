import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { jsonErrorOffset, parseJsonText, readJsonFile } from '../../../core/io/json-file.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('json');
test.after.always(tmp.remove);

test('reads a real JSON file and one with a BOM', (t) => {
  const cam = readJsonFile('test/data/open3d-rgbd/camera_primesense.json', 'camera intrinsics') as Record<
    string,
    unknown
  >;
  t.is(typeof cam, 'object');
  const path = join(tmp.dir, 'bom.json');
  writeFileSync(path, '\ufeff{"a": [1, 2]}');
  t.deepEqual(readJsonFile(path, 'config'), { a: [1, 2] });
});

test('a missing file says not found, naming file and purpose', (t) => {
  const path = join(tmp.dir, 'nope.json');
  const err = t.throws(() => readJsonFile(path, 'model index'), { instanceOf: ApertureDepthError });
  t.is(err!.message, `${path}: model index not found`);
  t.throws(() => readJsonFile(tmp.dir, 'config'), { instanceOf: ApertureDepthError, message: /is a folder/ });
});

const BAD: [string, string, RegExp][] = [
  [
    'trailing comma',
    '{\n  "a": 1,\n}',
    /line 3, column 1 \(offset 12\).*Expected double-quoted property name/,
  ],
  ['missing value', '{"a": }', /line 1, column 7 .*Unexpected token/],
  ['unterminated array', '[1, 2', /line 1, column 6 .*after array element/],
  ['garbage after', '{"a": 1} x', /line 1, column 10 .*non-whitespace character/],
  ['bad literal', '{\n"ok": tru}', /line 2, column 10 \(offset 11\) near "}"/],
  ['empty', '', /config is empty, expected JSON/],
  ['whitespace only', ' \n ', /config is empty/],
];
for (const [label, text, pattern] of BAD) {
  test(`syntax error (${label}) gives file, line and column`, (t) => {
    const path = join(tmp.dir, `bad-${label.replace(/ /g, '-')}.json`);
    writeFileSync(path, text);
    const err = t.throws(() => readJsonFile(path, 'config'), { instanceOf: ApertureDepthError });
    t.true(err!.message.startsWith(`${path}: `), err!.message);
    t.regex(err!.message, pattern);
  });
}

test('the error locator agrees with V8 where V8 gives a position', (t) => {
  for (const text of [
    '{"a":1,}',
    '[1,2',
    '{"a" 1}',
    '"abc',
    '{"a":1}x',
    '[1, 2, 03]',
    '{"a": "\\x"}',
    '[-]',
    '{"a":[{"b":nul}]}',
    '[1.]',
    '[1e+]',
    '[.5]',
    '[1.5e3, -0.0, 2E-2, x]',
  ]) {
    let v8: number | undefined;
    try {
      JSON.parse(text);
    } catch (e) {
      const m = / at position (\d+)/.exec((e as Error).message);
      v8 = m ? Number(m[1]) : undefined;
    }
    if (v8 !== undefined) t.is(jsonErrorOffset(text), v8, text);
  }
  t.throws(() => parseJsonText('{"a": 01}', 'mem'), {
    instanceOf: ApertureDepthError,
    message: /^mem: invalid JSON in JSON at line 1, column 8/,
  });
});
