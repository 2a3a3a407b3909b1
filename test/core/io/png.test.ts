import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { ApertureDepthError } from '../../../core/errors.ts';
import { decodePng, encodePng, readPng, writePng } from '../../../core/io/png.ts';
import type { RasterImage } from '../../../core/io/raster.ts';
import { buildPng, chunk, concat, ihdr, PNG_SIGNATURE } from '../../helpers/png-builder.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('png');
test.after.always(tmp.remove);
const ART = 'test/data/middlebury2014-q/ArtL';

function ramp(n: number, mod: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 37 + 11) % mod);
}

test('reads the Middlebury 16-bit depth, 8-bit RGB and 8-bit mask', (t) => {
  const depth = readPng(join(ART, 'depth0_mm.png'));
  t.like(depth, { width: 347, height: 277, channels: 1, bitDepth: 16 });
  t.true(depth.data instanceof Uint16Array);
  t.is(depth.data.length, 347 * 277);
  t.true(Math.max(...depth.data) > 255, 'values use the 16-bit range');
  const rgb = readPng(join(ART, 'im0.png'));
  t.like(rgb, { width: 347, height: 277, channels: 3, bitDepth: 8 });
  t.deepEqual(Array.from(rgb.data.subarray(0, 3)), [125, 63, 45]);
  const mask = readPng(join(ART, 'mask0nocc.png'));
  t.like(mask, { channels: 1, bitDepth: 8 });
  t.true(mask.data.some((v) => v === 255));
});

test('pixels match pngjs on real files (all filter types, 8-bit RGB and 16-bit grey)', (t) => {
  for (const file of [join(ART, 'im0.png'), 'test/data/open3d-rgbd/TUM_depth.png']) {
    const mine = readPng(file);
    const ref = PNG.sync.read(readFileSync(file), { skipRescale: true } as never) as unknown as {
      data: ArrayLike<number>;
    };
    let mismatches = 0;
    for (let i = 0; i < mine.width * mine.height; i++) {
      for (let c = 0; c < mine.channels; c++)
        if (mine.data[i * mine.channels + c] !== ref.data[i * 4 + c]) mismatches++;
    }
    t.is(mismatches, 0, file);
  }
});

const CASES: [string, RasterImage][] = [
  ['grey8', { width: 5, height: 3, channels: 1, bitDepth: 8, data: Uint8Array.from(ramp(15, 256)) }],
  [
    'grey16',
    {
      width: 4,
      height: 3,
      channels: 1,
      bitDepth: 16,
      data: Uint16Array.from(ramp(12, 65536), (v) => v * 97),
    },
  ],
  ['rgb8', { width: 3, height: 2, channels: 3, bitDepth: 8, data: Uint8Array.from(ramp(18, 256)) }],
  [
    'rgb16',
    {
      width: 2,
      height: 3,
      channels: 3,
      bitDepth: 16,
      data: Uint16Array.from(ramp(18, 65536), (v) => 65535 - v),
    },
  ],
  ['rgba8', { width: 3, height: 3, channels: 4, bitDepth: 8, data: Uint8Array.from(ramp(36, 256)) }],
  [
    'rgba16',
    {
      width: 2,
      height: 2,
      channels: 4,
      bitDepth: 16,
      data: new Uint16Array([0, 1, 65535, 256, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 65534]),
    },
  ],
];
for (const [label, img] of CASES) {
  test(`round trip ${label} through a file and in memory`, (t) => {
    const path = join(tmp.dir, `${label}.png`);
    writePng(path, img);
    t.deepEqual(readPng(path), img);
    t.deepEqual(decodePng(encodePng(img), 'mem'), img);
  });
}

test('grey+alpha drops the alpha', (t) => {
  const png = buildPng({
    width: 2,
    height: 1,
    depth: 8,
    colorType: 4,
    samples: 2,
    values: [10, 255, 200, 0],
  });
  t.deepEqual(decodePng(png, 'ga.png'), {
    width: 2,
    height: 1,
    channels: 1,
    bitDepth: 8,
    data: new Uint8Array([10, 200]),
  });
  const png16 = buildPng({ width: 1, height: 1, depth: 16, colorType: 4, samples: 2, values: [40000, 7] });
  t.deepEqual(decodePng(png16, 'ga16.png').data, new Uint16Array([40000]));
});

test('palette PNGs expand to RGB, or RGBA with tRNS', (t) => {
  const palette: [number, number, number][] = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  const png = buildPng({
    width: 3,
    height: 1,
    depth: 8,
    colorType: 3,
    samples: 1,
    values: [2, 0, 1],
    palette,
  });
  t.deepEqual(Array.from(decodePng(png, 'p.png').data), [0, 0, 255, 255, 0, 0, 0, 255, 0]);
  const png2 = buildPng({
    width: 4,
    height: 1,
    depth: 2,
    colorType: 3,
    samples: 1,
    values: [0, 1, 2, 1],
    palette,
    trns: new Uint8Array([0, 128]),
  });
  const out = decodePng(png2, 'p2.png');
  t.is(out.channels, 4);
  t.deepEqual(Array.from(out.data), [255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 0, 255, 0, 128]);
});

test('low bit-depth grey scales to 8-bit; tRNS colour keys leave grey and RGB values alone', (t) => {
  const g1 = buildPng({
    width: 9,
    height: 1,
    depth: 1,
    colorType: 0,
    samples: 1,
    values: [1, 0, 1, 1, 0, 0, 0, 1, 1],
  });
  t.deepEqual(Array.from(decodePng(g1, 'g1.png').data), [255, 0, 255, 255, 0, 0, 0, 255, 255]);
  const g4 = buildPng({ width: 3, height: 1, depth: 4, colorType: 0, samples: 1, values: [0, 15, 5] });
  t.deepEqual(Array.from(decodePng(g4, 'g4.png').data), [0, 255, 85]);
  const keyed = buildPng({
    width: 2,
    height: 1,
    depth: 8,
    colorType: 2,
    samples: 3,
    values: [1, 2, 3, 9, 9, 9],
    trns: new Uint8Array([0, 1, 0, 2, 0, 3]),
  });
  t.deepEqual(decodePng(keyed, 'k.png'), {
    width: 2,
    height: 1,
    channels: 3,
    bitDepth: 8,
    data: new Uint8Array([1, 2, 3, 9, 9, 9]),
  });
});

test('interlaced (Adam7) PNGs decode like plain ones', (t) => {
  const values = ramp(11 * 9, 256);
  const plain = decodePng(
    buildPng({ width: 11, height: 9, depth: 8, colorType: 0, samples: 1, values }),
    'a.png',
  );
  const laced = decodePng(
    buildPng({ width: 11, height: 9, depth: 8, colorType: 0, samples: 1, values, interlace: true }),
    'b.png',
  );
  t.deepEqual(laced, plain);
  t.deepEqual(Array.from(plain.data), values);
});

const good = buildPng({ width: 4, height: 4, depth: 8, colorType: 0, samples: 1, values: ramp(16, 256) });
const BAD: [string, Uint8Array, RegExp][] = [
  ['empty', new Uint8Array(0), /empty file/],
  ['wrong magic', new TextEncoder().encode('GIF89a not a png at all'), /not a PNG file/],
  ['truncated', good.subarray(0, good.length - 20), /truncated/],
  ['only signature', PNG_SIGNATURE, /truncated: no IHDR/],
  [
    'huge size',
    concat([
      PNG_SIGNATURE,
      ihdr(100000, 100000, 16, 6),
      chunk('IDAT', new Uint8Array(10)),
      chunk('IEND', new Uint8Array(0)),
    ]),
    /exceeds the limit/,
  ],
  [
    'claims more than the data',
    concat([
      PNG_SIGNATURE,
      ihdr(8000, 8000, 8, 2),
      chunk('IDAT', new Uint8Array(10)),
      chunk('IEND', new Uint8Array(0)),
    ]),
    /holds only 10 compressed bytes/,
  ],
  [
    'chunk length past the end',
    concat([
      PNG_SIGNATURE,
      ihdr(2, 2, 8, 0),
      new Uint8Array([0x7f, 0xff, 0xff, 0xff, 0x49, 0x44, 0x41, 0x54]),
    ]),
    /truncated: chunk IDAT .* claims 2147483647 bytes/,
  ],
  [
    'bad depth',
    concat([
      PNG_SIGNATURE,
      ihdr(2, 2, 3, 0),
      chunk('IDAT', new Uint8Array(10)),
      chunk('IEND', new Uint8Array(0)),
    ]),
    /bit depth 3 is invalid/,
  ],
  [
    'corrupt pixels',
    concat([
      PNG_SIGNATURE,
      ihdr(4, 4, 8, 0),
      chunk('IDAT', new Uint8Array([1, 2, 3, 4, 5])),
      chunk('IEND', new Uint8Array(0)),
    ]),
    /corrupt pixel data/,
  ],
  [
    'bad CRC',
    (() => {
      const b = good.slice();
      b[29] ^= 1;
      return b;
    })(),
    /CRC mismatch in chunk IHDR/,
  ],
];
for (const [label, bytes, pattern] of BAD) {
  test(`rejects ${label} naming the file`, (t) => {
    const path = join(tmp.dir, `bad-${label.replace(/ /g, '-')}.png`);
    writeFileSync(path, bytes);
    const err = t.throws(() => readPng(path), { instanceOf: ApertureDepthError });
    t.true(err!.message.startsWith(`${path}: `), err!.message);
    t.regex(err!.message, pattern);
  });
}

test('a missing file says not found; a bad image to write names the file', (t) => {
  const missing = join(tmp.dir, 'missing.png');
  t.throws(() => readPng(missing), {
    instanceOf: ApertureDepthError,
    message: /missing\.png: PNG file not found/,
  });
  const out = join(tmp.dir, 'out.png');
  const bad = { width: 2, height: 2, channels: 1, bitDepth: 8, data: new Uint8Array(3) } as RasterImage;
  t.throws(() => writePng(out, bad), {
    instanceOf: ApertureDepthError,
    message: /out\.png: image: 2x2x1 needs 4 samples/,
  });
});
