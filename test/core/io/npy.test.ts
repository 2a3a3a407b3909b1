import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import type { NdArray } from '../../../core/io/ndarray.ts';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../../core/io/npy.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('npy');
test.after.always(tmp.remove);
const TINY = 'test/data/diffusers-tiny';
/** Files written by numpy 2.4 (`np.save` / `np.lib.format.write_array`), base64. */
const NUMPY: Record<string, string> = {
  v2f4: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=',
  v3f8: 'k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAALA',
  bei4: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAABAAAAAgAAAAP////8',
  bef4: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/wAAAQCAAAPFJ8so=',
  fortran:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
  f2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAOADA/3sAfAEA',
  u2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAP//0gQ=',
  u1scalar:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoH',
  empty:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
  i8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAwAEAAAAAACAA',
  bool: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoB',
};
const numpy = (k: string) => decodeNpy(new Uint8Array(Buffer.from(NUMPY[k]!, 'base64')), `${k}.npy`);

test('reads the diffusers-tiny fixtures (numpy 1.24): float32, int64, uint8', (t) => {
  const mean = readNpy(join(TINY, 'sd2-tiny/arrays/vae/encode_latent_mean.npy'));
  t.deepEqual(mean.shape, [1, 4, 8, 6]);
  t.is(mean.dtype, 'float32');
  t.true(mean.data instanceof Float32Array);
  t.is(mean.data[0], Math.fround(-0.49469178915023804));
  t.is(mean.data[191], Math.fround(-0.21250209212303162));
  const ids = readNpy(join(TINY, 'sd2-tiny/arrays/text_encoder/input_ids.npy'));
  t.like(ids, { dtype: 'int64', shape: [1, 2] });
  t.deepEqual(Array.from(ids.data as BigInt64Array), [998n, 999n]);
  const rgb = readNpy(join(TINY, 'inputs/image_rgb_u8.npy'));
  t.is(rgb.dtype, 'uint8');
  t.is(
    rgb.data.length,
    rgb.shape.reduce((a, b) => a * b, 1),
  );
});

test('reads versions 2.0 and 3.0, big-endian, float16, 0-d and empty arrays', (t) => {
  t.deepEqual(numpy('v2f4'), { shape: [2, 3], dtype: 'float32', data: new Float32Array([0, 1, 2, 3, 4, 5]) });
  t.deepEqual(numpy('v3f8'), { shape: [2], dtype: 'float64', data: new Float64Array([1.5, -2.25]) });
  t.deepEqual(numpy('bei4'), { shape: [2, 2], dtype: 'int32', data: new Int32Array([1, 2, 3, -4]) });
  t.deepEqual(numpy('bef4').data, new Float32Array([1.5, 2.5, -1e30]));
  t.deepEqual(numpy('f2'), {
    shape: [5],
    dtype: 'float16',
    data: new Float32Array([0.5, -2, 65504, Infinity, 2 ** -24]),
  });
  t.deepEqual(numpy('u2'), { shape: [3], dtype: 'uint16', data: new Uint16Array([0, 65535, 1234]) });
  t.deepEqual(numpy('u1scalar'), { shape: [], dtype: 'uint8', data: new Uint8Array([7]) });
  t.deepEqual(numpy('empty'), { shape: [0, 3], dtype: 'float32', data: new Float32Array(0) });
  t.deepEqual(Array.from(numpy('i8').data as BigInt64Array), [-(2n ** 62n), 2n ** 53n + 1n]);
});

test('fortran_order arrays are reordered to C order', (t) => {
  // np.asfortranarray(np.arange(6).reshape(2, 3)) reads back as [[0, 1, 2], [3, 4, 5]].
  t.deepEqual(numpy('fortran'), {
    shape: [2, 3],
    dtype: 'float32',
    data: new Float32Array([0, 1, 2, 3, 4, 5]),
  });
});

const ROUND_TRIPS: NdArray[] = [
  { shape: [2, 3], dtype: 'float32', data: new Float32Array([1, -2.5, 3e-8, Infinity, -Infinity, 0]) },
  { shape: [3], dtype: 'float64', data: new Float64Array([Math.PI, -1e300, 5e-324]) },
  { shape: [2, 2, 1], dtype: 'uint8', data: new Uint8Array([0, 1, 254, 255]) },
  { shape: [4], dtype: 'uint16', data: new Uint16Array([0, 1, 65534, 65535]) },
  { shape: [2], dtype: 'int32', data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
  { shape: [1, 2], dtype: 'int64', data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
  { shape: [4], dtype: 'float16', data: new Float32Array([0.5, -65504, 2 ** -24, -Infinity]) },
  { shape: [], dtype: 'float32', data: new Float32Array([42]) },
  { shape: [0], dtype: 'uint8', data: new Uint8Array(0) },
];
for (const arr of ROUND_TRIPS) {
  test(`round trip ${arr.dtype} [${arr.shape}]`, (t) => {
    const path = join(tmp.dir, `${arr.dtype}-${arr.shape.join('x')}.npy`);
    writeNpy(path, arr);
    t.deepEqual(readNpy(path), arr);
    const bytes = encodeNpy(arr);
    t.is(
      (bytes[8]! | (bytes[9]! << 8)) + 10,
      bytes.length - arr.data.length * (arr.dtype === 'float16' ? 2 : arr.data.BYTES_PER_ELEMENT),
    );
    t.is(((bytes[8]! | (bytes[9]! << 8)) + 10) % 64, 0, 'data starts 64-byte aligned, as numpy writes it');
  });
}

test('float16 rounds to nearest on write', (t) => {
  const arr: NdArray = {
    shape: [3],
    dtype: 'float16',
    data: new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000]),
  };
  t.deepEqual(Array.from(decodeNpy(encodeNpy(arr), 'x').data as Float32Array), [1, 1 + 2 ** -9, Infinity]);
});

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
function npyWithHeader(dict: string, payload = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const padded = dict + ' '.repeat((64 - ((pre + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + padded.length + payload.length);
  out.set(enc('\x93NUMPY'));
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  out.set(enc(padded), pre);
  out.set(payload, pre + padded.length);
  return out;
}
const good = encodeNpy({ shape: [2, 2], dtype: 'float32', data: new Float32Array(4) });
const BAD: [string, Uint8Array, RegExp][] = [
  ['empty', new Uint8Array(0), /empty file/],
  ['wrong magic', enc('PK\x03\x04 this is a zip'), /not a \.npy file/],
  [
    'bad version',
    (() => {
      const b = good.slice();
      b[6] = 9;
      return b;
    })(),
    /unsupported \.npy format version 9\.0/,
  ],
  [
    'truncated data',
    good.subarray(0, good.length - 1),
    /truncated: shape \(2, 2\) of <f4 needs 16 bytes, the file has 15/,
  ],
  [
    'header length past the end',
    (() => {
      const b = good.slice(0, 80);
      b[8] = 0xff;
      b[9] = 0xff;
      return b;
    })(),
    /truncated: header claims 65535 bytes/,
  ],
  [
    'huge shape',
    npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 10), }"),
    /is too large/,
  ],
  [
    'shape larger than data',
    npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }", new Uint8Array(8)),
    /needs 8000 bytes, the file has 8/,
  ],
  ['unsupported dtype', new Uint8Array(Buffer.from(NUMPY.bool!, 'base64')), /unsupported dtype "\|b1"/],
  [
    'object dtype',
    npyWithHeader("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"),
    /unsupported dtype "\|O"/,
  ],
  [
    'python code in header',
    npyWithHeader("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,), }"),
    /corrupt header/,
  ],
  [
    'negative shape',
    npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"),
    /not a tuple of integers/,
  ],
  [
    'missing key',
    npyWithHeader("{'descr': '<f4', 'shape': (1,), }", new Uint8Array(4)),
    /needs 'descr', 'fortran_order' and 'shape'/,
  ],
  [
    'v2 huge header length',
    npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new Uint8Array(4), 2).map(
      (v, i) => (i === 11 ? 0x7f : v),
    ),
    /truncated: header claims/,
  ],
];
for (const [label, bytes, pattern] of BAD) {
  test(`rejects ${label} naming the file`, (t) => {
    const path = join(tmp.dir, `bad-${label.replace(/ /g, '-')}.npy`);
    writeFileSync(path, bytes);
    const err = t.throws(() => readNpy(path), { instanceOf: ApertureDepthError });
    t.true(err!.message.startsWith(`${path}: `), err!.message);
    t.regex(err!.message, pattern);
  });
}

test('writers refuse malformed arrays, naming the file', (t) => {
  const path = join(tmp.dir, 'w.npy');
  t.throws(() => writeNpy(path, { shape: [3], dtype: 'float32', data: new Float32Array(2) }), {
    instanceOf: ApertureDepthError,
    message: /w\.npy: array: shape \[3\] has 3 elements but data has 2/,
  });
  t.throws(() => writeNpy(path, { shape: [2], dtype: 'int64', data: new Int32Array(2) } as never), {
    instanceOf: ApertureDepthError,
    message: /dtype int64 needs a BigInt64Array, got Int32Array/,
  });
  t.throws(() => readNpy(join(tmp.dir, 'missing.npy')), {
    instanceOf: ApertureDepthError,
    message: /missing\.npy: NPY file not found/,
  });
});
