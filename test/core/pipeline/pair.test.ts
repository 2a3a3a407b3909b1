import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupEngine } from '../../helpers/engine.ts';
import { loadPairSpec, readPairImages } from '../../../core/pipeline/pair.ts';
import { ApertureDepthError } from '../../../core/errors.ts';
import { writePng } from '../../../core/io/png.ts';
import { writeArtlPair } from './helpers/write-pair.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pair-'));
let good: string;

test.before(async () => {
  await setupEngine();
  good = writeArtlPair(join(tmp, 'good'), 32);
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function variant(name: string, edit: (o: Record<string, unknown>) => void): string {
  const dir = join(tmp, name);
  const src = join(tmp, 'good');
  rmSync(dir, { recursive: true, force: true });
  writeArtlPair(dir, 32);
  const o = JSON.parse(readFileSync(join(src, 'pair.json'), 'utf8'));
  edit(o);
  writeFileSync(join(dir, 'pair.json'), JSON.stringify(o));
  return join(dir, 'pair.json');
}

test.serial('a valid pair loads with absolute paths, linear images and metric ground truth', (t) => {
  const spec = loadPairSpec(good);
  t.is(spec.encoding, 'linear');
  t.is(spec.fNumberAif, 22);
  t.is(spec.camera.focusDistanceM, 1.2);
  t.is(spec.exposureTimeAifS, null);
  t.true(spec.aif.endsWith('aif.png') && spec.depthGt!.endsWith('depth_gt.npy'));
  const img = readPairImages(spec);
  t.deepEqual(img.aif.shape, [24, 32, 3]);
  t.deepEqual(img.depthGt!.shape, [24, 32]);
  const d = img.depthGt!.dataSync().filter(Number.isFinite);
  t.true(d.every((v) => v > 1.3 && v < 2.3));
  img.aif.dispose();
  img.blurred.dispose();
  img.depthGt!.dispose();
});

const bad: [string, (o: Record<string, unknown>) => void, RegExp][] = [
  ['missing-aif', (o) => delete o.aif, /pair\.json: aif: missing/],
  ['bad-encoding', (o) => (o.encoding = 'gamma'), /encoding: expected one of linear, srgb/],
  [
    'bad-camera',
    (o) => ((o.camera as Record<string, unknown>).focus_distance_m = -1),
    /camera\.focus_distance_m/,
  ],
  ['missing-fnumber', (o) => delete o.f_number_blurred, /f_number_blurred: missing/],
  ['swapped-fnumbers', (o) => ((o.f_number_aif = 8), (o.f_number_blurred = 22)), /f_number_aif.*must exceed/],
  ['one-exposure', (o) => (o.exposure_time_aif_s = 0.1), /exposure_time_blurred_s: give both exposure times/],
  ['no-file', (o) => (o.blurred = 'nope.png'), /blurred: file .*nope\.png does not exist/],
];
for (const [name, edit, message] of bad) {
  test.serial(`rejected: ${name}`, (t) => {
    const file = variant(name, edit);
    const err = t.throws(() => loadPairSpec(file), { instanceOf: ApertureDepthError });
    t.regex(err!.message, message);
    t.true(err!.message.includes(file) || err!.message.includes('pair.json'));
  });
}

test.serial('images of different sizes are an error naming both files', (t) => {
  const file = variant('sizes', () => {});
  const dir = join(tmp, 'sizes');
  writePng(join(dir, 'blurred.png'), {
    width: 4,
    height: 3,
    channels: 3,
    bitDepth: 8,
    data: new Uint8Array(36),
  });
  const err = t.throws(() => readPairImages(loadPairSpec(file)), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /differ in size: aif .*aif\.png is 32x24, blurred .*blurred\.png is 4x3/);
});

test.serial('ground truth of another size and unknown depth formats are errors', (t) => {
  const file = variant('gt-format', (o) => (o.depth_gt = 'aif.png'));
  const err = t.throws(() => readPairImages(loadPairSpec(file)), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /depth PNG must be 16-bit grey/);
  const file2 = variant('gt-ext', (o) => (o.depth_gt = 'pair.json'));
  copyFileSync(file2, join(tmp, 'gt-ext', 'x.json'));
  const err2 = t.throws(() => readPairImages(loadPairSpec(file2)), { instanceOf: ApertureDepthError });
  t.regex(err2!.message, /depth_gt: unknown depth format/);
});
