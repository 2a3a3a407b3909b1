import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import type { NdArray } from '../../../core/io/ndarray.ts';
import { decodePfm, encodePfm, readPfm, writePfm } from '../../../core/io/pfm.ts';
import { readPng } from '../../../core/io/png.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('pfm');
test.after.always(tmp.remove);
const ART = 'test/data/middlebury2014-q/ArtL';

test('reads the Middlebury ArtL disparity: shape, inf for unknown, finite > 0 elsewhere', (t) => {
  const disp = readPfm(join(ART, 'disp0GT.pfm'));
  t.deepEqual(disp.shape, [277, 347]);
  t.is(disp.dtype, 'float32');
  t.is(disp.data.length, 277 * 347);
  t.is(disp.scale, 0.003922);
  let inf = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of disp.data) {
    if (v === Infinity) inf++;
    else {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  t.is(inf, 170);
  t.true(min > 0 && Number.isFinite(max), `disparity range ${min}..${max}`);
  t.true(min > 19 && max < 56);
  // Rows come out top-down: the first file row is the image's last row.
  const bytes = readFileSync(join(ART, 'disp0GT.pfm'));
  const headerLen = 'Pf\n347 277\n-0.003922\n'.length;
  t.is(disp.data[276 * 347], bytes.readFloatLE(headerLen));
  t.is(disp.data[0], bytes.readFloatLE(headerLen + 276 * 347 * 4));
});

test('valid disparities line up with the derived depth map', (t) => {
  const disp = readPfm(join(ART, 'disp0GT.pfm'));
  const depth = readPng(join(ART, 'depth0_mm.png'));
  let agree = 0;
  let valid = 0;
  for (let i = 0; i < disp.data.length; i++) {
    if (!Number.isFinite(disp.data[i]!)) continue;
    valid++;
    if (depth.data[i]! > 0) agree++;
  }
  t.true(agree / valid > 0.99, `${agree}/${valid} finite disparities have a depth`);
});

const CASES: NdArray[] = [
  { shape: [2, 3], dtype: 'float32', data: new Float32Array([1, 2, 3, Infinity, -0.5, 1e-30]) },
  { shape: [2, 1, 3], dtype: 'float32', data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  { shape: [1, 1], dtype: 'float32', data: new Float32Array([-Infinity]) },
];
for (const arr of CASES) {
  test(`round trip [${arr.shape}]`, (t) => {
    const path = join(tmp.dir, `rt-${arr.shape.join('x')}.pfm`);
    writePfm(path, arr);
    t.deepEqual(readPfm(path), { ...arr, scale: 1 });
    t.deepEqual(decodePfm(encodePfm(arr, 'm', 2.5), 'm'), { ...arr, scale: 2.5 });
  });
}

test('NaN survives; float64 input narrows to float32', (t) => {
  const out = decodePfm(
    encodePfm({ shape: [1, 2], dtype: 'float64', data: new Float64Array([NaN, 0.1]) }),
    'n.pfm',
  );
  t.true(Number.isNaN(out.data[0]));
  t.is(out.data[1], Math.fround(0.1));
});

test('big-endian files (positive scale) and single-line headers', (t) => {
  const bytes = new Uint8Array(
    Buffer.concat([Buffer.from('Pf 2 1 1.0\n', 'latin1'), Buffer.from([0x3f, 0xc0, 0, 0, 0x7f, 0x80, 0, 0])]),
  );
  t.deepEqual(decodePfm(bytes, 'be.pfm'), {
    shape: [1, 2],
    dtype: 'float32',
    data: new Float32Array([1.5, Infinity]),
    scale: 1,
  });
});

const enc = (s: string, payload = 0) =>
  new Uint8Array(Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(payload)]));
const BAD: [string, Uint8Array, RegExp][] = [
  ['empty', new Uint8Array(0), /empty file/],
  ['wrong magic', enc('P6\n2 2\n255\n', 12), /not a PFM file/],
  [
    'truncated data',
    enc('Pf\n4 4\n-1.0\n', 60),
    /truncated: header claims 4x4x1 floats \(64 bytes\), the file has 60/,
  ],
  ['huge size', enc('PF\n999999999 999999999\n-1.0\n', 16), /too large/],
  ['truncated header', enc('Pf\n4 '), /truncated header \(no height\)/],
  ['zero scale', enc('Pf\n1 1\n0\n', 4), /invalid scale 0/],
  ['bad scale', enc('Pf\n1 1\nabc\n', 4), /corrupt header: scale "abc"/],
  ['negative width', enc('Pf\n-1 1\n-1\n', 4), /corrupt header: width "-1"/],
  ['zero height', enc('Pf\n1 0\n-1\n', 4), /invalid size 1x0/],
  ['no data', enc('Pf\n1 1\n-1'), /truncated: no pixel data/],
];
for (const [label, bytes, pattern] of BAD) {
  test(`rejects ${label} naming the file`, (t) => {
    const path = join(tmp.dir, `bad-${label.replace(/ /g, '-')}.pfm`);
    writeFileSync(path, bytes);
    const err = t.throws(() => readPfm(path), { instanceOf: ApertureDepthError });
    t.true(err!.message.startsWith(`${path}: `), err!.message);
    t.regex(err!.message, pattern);
  });
}

test('writer refuses shapes and dtypes PFM cannot hold', (t) => {
  const path = join(tmp.dir, 'w.pfm');
  t.throws(() => writePfm(path, { shape: [2, 2, 2], dtype: 'float32', data: new Float32Array(8) }), {
    instanceOf: ApertureDepthError,
    message: /w\.pfm: array: PFM needs shape \[H, W\] or \[H, W, 3\]/,
  });
  t.throws(() => writePfm(path, { shape: [1, 1], dtype: 'uint8', data: new Uint8Array(1) }), {
    instanceOf: ApertureDepthError,
    message: /PFM stores floats, got dtype uint8/,
  });
});
