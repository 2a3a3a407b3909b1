import test from 'ava';
import jpegJs from 'jpeg-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { decodeJpeg, readJpeg } from '../../../core/io/jpeg.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('jpeg');
test.after.always(tmp.remove);
const SUN = 'test/data/open3d-rgbd/SUN_color.jpg';

test('reads the SUN RGB-D colour frame as 8-bit RGB', (t) => {
  const img = readJpeg(SUN);
  t.like(img, { width: 640, height: 480, channels: 3, bitDepth: 8 });
  t.true(img.data instanceof Uint8Array);
  t.is(img.data.length, 640 * 480 * 3);
  t.deepEqual(Array.from(img.data.subarray(0, 3)), [99, 113, 136]);
});

test('decodes what jpeg-js encodes, close to the source pixels', (t) => {
  const w = 16;
  const h = 8;
  const rgba = new Uint8Array(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : 128 + ((i * 7) % 32)));
  const bytes = jpegJs.encode({ width: w, height: h, data: rgba }, 95).data;
  const img = decodeJpeg(bytes, 'mem.jpg');
  t.like(img, { width: w, height: h, channels: 3 });
  let maxErr = 0;
  for (let i = 0; i < w * h; i++)
    for (let c = 0; c < 3; c++) maxErr = Math.max(maxErr, Math.abs(img.data[i * 3 + c]! - rgba[i * 4 + c]!));
  t.true(maxErr < 16, `max error ${maxErr}`);
});

function withSize(bytes: Uint8Array, width: number, height: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1]! >= 0xc0 && out[i + 1]! <= 0xc2) {
      out[i + 5] = height >> 8;
      out[i + 6] = height & 0xff;
      out[i + 7] = width >> 8;
      out[i + 8] = width & 0xff;
      return out;
    }
  }
  throw new Error('no SOF');
}

const sun = new Uint8Array(readFileSync(SUN));
const small = new Uint8Array(
  jpegJs.encode({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 4).fill(200) }, 80).data,
);
const BAD: [string, Uint8Array, RegExp][] = [
  ['empty', new Uint8Array(0), /empty file/],
  ['wrong magic', new TextEncoder().encode('this is text'), /not a JPEG file/],
  ['truncated', sun.subarray(0, sun.length >> 1), /truncated: no end-of-image marker/],
  ['truncated header', sun.subarray(0, 300), /truncated/],
  ['huge size', withSize(sun, 65535, 65535), /exceeds the limit of 100 megapixels/],
  ['zero size', withSize(sun, 0, 480), /invalid size 0x480/],
  [
    'size larger than the file can hold',
    withSize(small, 1000, 1000),
    /header claims 1000x1000 pixels, more than a \d+-byte JPEG can hold/,
  ],
  ['size larger than the data', withSize(sun, 1280, 960), /corrupt JPEG/],
];
for (const [label, bytes, pattern] of BAD) {
  test(`rejects ${label} naming the file`, (t) => {
    const path = join(tmp.dir, `bad-${label.replace(/ /g, '-')}.jpg`);
    writeFileSync(path, bytes);
    const err = t.throws(() => readJpeg(path), { instanceOf: ApertureDepthError });
    t.true(err!.message.startsWith(`${path}: `), err!.message);
    t.regex(err!.message, pattern);
  });
}

test('the memory limit refuses before decoding', (t) => {
  const err = t.throws(() => decodeJpeg(sun, 'small-budget.jpg', { maxMemoryUsageInMB: 1 }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /small-budget\.jpg: too large to decode: maxMemoryUsageInMB limit exceeded/);
});
