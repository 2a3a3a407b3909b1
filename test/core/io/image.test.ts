import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { decodeImage, readImage, toFloat } from '../../../core/io/image.ts';
import { encodePng } from '../../../core/io/png.ts';
import { decodePnm, encodePnm, readPnm, writePnm } from '../../../core/io/pnm.ts';
import { rgbOf, type FloatImage, type RasterImage } from '../../../core/io/raster.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('image');
test.after.always(tmp.remove);
const O3D = 'test/data/open3d-rgbd';

test('readImage dispatches on magic bytes: PNG, JPEG, PPM, PGM', (t) => {
  t.like(readImage(join(O3D, 'TUM_depth.png')), { width: 640, height: 480, channels: 1, bitDepth: 16 });
  t.like(readImage(join(O3D, 'SUN_color.jpg')), { width: 640, height: 480, channels: 3, bitDepth: 8 });
  const ppm = readImage(join(O3D, 'NYU_color.ppm'));
  t.like(ppm, { width: 640, height: 480, channels: 3, bitDepth: 8 });
  t.deepEqual(Array.from(ppm.data.subarray(0, 3)), [220, 248, 235]);
  const pgm = readImage(join(O3D, 'NYU_depth.pgm'));
  t.like(pgm, { width: 640, height: 480, channels: 1, bitDepth: 16 });
  t.is(pgm.maxValue, undefined);
  t.is(pgm.data[0], 0xff07, 'big-endian 16-bit samples');
  // A PNG named .jpg is still read as PNG.
  const misnamed = join(tmp.dir, 'really-a-png.jpg');
  writeFileSync(
    misnamed,
    encodePng({ width: 1, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([7]) }),
  );
  t.deepEqual(Array.from(readImage(misnamed).data), [7]);
});

test('toFloat scales by 255, 65535 or the PNM maxval', (t) => {
  const f8 = toFloat({ width: 2, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([0, 255]) });
  t.deepEqual(Array.from(f8.data), [0, 1]);
  t.like(f8, { width: 2, height: 1, channels: 1 });
  const f16 = toFloat({
    width: 1,
    height: 1,
    channels: 3,
    bitDepth: 16,
    data: new Uint16Array([0, 65535, 32768]),
  });
  t.deepEqual(Array.from(f16.data), [0, 1, Math.fround(32768 / 65535)]);
  const p10 = decodePnm(new Uint8Array(Buffer.from('P5 2 1 1023\n\x00\x00\x03\xff', 'latin1')), 'p10.pgm');
  t.is(p10.maxValue, 1023);
  t.deepEqual(Array.from(toFloat(p10).data), [0, 1]);
});

const PNM_CASES: [string, RasterImage][] = [
  ['p5-8', { width: 3, height: 2, channels: 1, bitDepth: 8, data: new Uint8Array([0, 1, 2, 253, 254, 255]) }],
  ['p5-16', { width: 2, height: 2, channels: 1, bitDepth: 16, data: new Uint16Array([0, 1, 65534, 65535]) }],
  ['p6-8', { width: 2, height: 1, channels: 3, bitDepth: 8, data: new Uint8Array([1, 2, 3, 4, 5, 6]) }],
  [
    'p6-16',
    { width: 1, height: 2, channels: 3, bitDepth: 16, data: new Uint16Array([1, 2, 3, 40000, 50000, 60000]) },
  ],
];
for (const [label, img] of PNM_CASES) {
  test(`PNM round trip ${label}`, (t) => {
    const path = join(tmp.dir, `${label}.pnm`);
    writePnm(path, img);
    t.deepEqual(readPnm(path), img);
    t.deepEqual(readImage(path), img);
  });
}

test('PNM headers with comments and odd whitespace parse', (t) => {
  const bytes = new TextEncoder().encode('P5 # made by hand\n# another comment\n 2\t1\r\n255\n\x05\x06');
  t.deepEqual(decodePnm(bytes, 'c.pgm'), {
    width: 2,
    height: 1,
    channels: 1,
    bitDepth: 8,
    data: new Uint8Array([5, 6]),
  });
});

const enc = (s: string) => new TextEncoder().encode(s);
const BAD: [string, Uint8Array, RegExp][] = [
  ['empty', new Uint8Array(0), /empty file/],
  ['unknown magic', enc('GIF89a....'), /not a PNG, JPEG or PPM\/PGM file/],
  ['ascii pnm', enc('P2 2 1 255\n1 2\n'), /type P2 is not supported/],
  [
    'truncated pixels',
    enc('P6 4 4 255\n\x01\x02\x03'),
    /truncated: header claims 4x4x3 \(48 bytes\), the file has 3/,
  ],
  ['huge size', enc('P5 99999999 99999999 255\n\x00'), /exceeds the limit/],
  ['no maxval', enc('P5 2 2'), /truncated header \(no maxval\)/],
  ['bad maxval', enc('P5 2 2 70000\n'), /maxval 70000 is outside/],
  ['garbage width', enc('P5 2x 2 255\n'), /width is not a number/],
  ['zero width', enc('P5 0 2 255\n'), /invalid size 0x2/],
];
for (const [label, bytes, pattern] of BAD) {
  test(`readImage rejects ${label} naming the file`, (t) => {
    const path = join(tmp.dir, `bad-${label.replace(/ /g, '-')}.img`);
    writeFileSync(path, bytes);
    const err = t.throws(() => readImage(path), { instanceOf: ApertureDepthError });
    t.true(err!.message.startsWith(`${path}: `), err!.message);
    t.regex(err!.message, pattern);
  });
}

test('missing file and in-memory names', (t) => {
  t.throws(() => readImage(join(tmp.dir, 'nope.png')), {
    instanceOf: ApertureDepthError,
    message: /nope\.png: image file not found/,
  });
  t.throws(() => decodeImage(new Uint8Array([1, 2, 3]), 'label-x'), {
    instanceOf: ApertureDepthError,
    message: /^label-x: /,
  });
  t.throws(
    () => encodePnm({ width: 1, height: 1, channels: 4, bitDepth: 8, data: new Uint8Array(4) }, 'a.ppm'),
    {
      instanceOf: ApertureDepthError,
      message: /a\.ppm: PPM\/PGM has no alpha/,
    },
  );
});

test('rgbOf: grey is repeated into three channels, alpha dropped, RGB returned as it is', (t) => {
  const grey: FloatImage = { width: 2, height: 1, channels: 1, data: Float32Array.from([0.25, 0.5]) };
  t.deepEqual([...rgbOf(grey).data], [0.25, 0.25, 0.25, 0.5, 0.5, 0.5]);
  t.is(rgbOf(grey).channels, 3);
  const rgba: FloatImage = { width: 2, height: 1, channels: 4, data: Float32Array.from([0.1, 0.2, 0.3, 1, 0.4, 0.5, 0.6, 0]) };
  t.deepEqual([...rgbOf(rgba).data], [...Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])]);
  const rgb: FloatImage = { width: 1, height: 1, channels: 3, data: Float32Array.from([0.7, 0.8, 0.9]) };
  t.is(rgbOf(rgb), rgb);
});
