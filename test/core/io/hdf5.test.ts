import test from 'ava';
import h5wasm from 'h5wasm/node';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ApertureDepthError } from '../../../core/errors.ts';
import { listHdf5Datasets, readHdf5, readHdf5Dataset, writeHdf5 } from '../../../core/io/hdf5.ts';
import type { NdArray } from '../../../core/io/ndarray.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const tmp = makeTempDir('hdf5');
test.after.always(tmp.remove);

const DATASETS: Record<string, NdArray> = {
  f32: { shape: [2, 3], dtype: 'float32', data: new Float32Array([1, -2.5, Infinity, NaN, 0, 3e-30]) },
  f64: { shape: [2], dtype: 'float64', data: new Float64Array([Math.PI, -1e300]) },
  'grp/u8': { shape: [2, 2], dtype: 'uint8', data: new Uint8Array([0, 1, 254, 255]) },
  'grp/sub/u16': { shape: [3], dtype: 'uint16', data: new Uint16Array([0, 1, 65535]) },
  i32: { shape: [1, 2], dtype: 'int32', data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
  i64: { shape: [2], dtype: 'int64', data: new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n]) },
  scalar: { shape: [], dtype: 'float32', data: new Float32Array([42]) },
  empty: { shape: [0, 4], dtype: 'float32', data: new Float32Array(0) },
};

test('round trip: every dtype, nested groups, root and dataset attributes', async (t) => {
  const path = join(tmp.dir, 'rt.h5');
  await writeHdf5(path, {
    datasets: DATASETS,
    attrs: { title: 'ArtL depth', focusDistanceM: 1.25, apertures: [2.8, 8], count: 3 },
    datasetAttrs: { f32: { unit: 'm' }, 'grp/sub/u16': { scale: [0.001] } },
  });
  const back = await readHdf5(path);
  t.deepEqual(Object.keys(back.datasets).sort(), Object.keys(DATASETS).sort());
  for (const [name, arr] of Object.entries(DATASETS)) t.deepEqual(back.datasets[name], arr, name);
  t.deepEqual(back.attrs, { title: 'ArtL depth', focusDistanceM: 1.25, apertures: [2.8, 8], count: 3 });
  t.deepEqual(back.datasetAttrs, { f32: { unit: 'm' }, 'grp/sub/u16': { scale: [0.001] } });
  t.deepEqual(back.skipped, []);
  t.deepEqual(
    readdirSync(tmp.dir).filter((f) => f.includes('.tmp-')),
    [],
    'no temp file left behind',
  );
});

test('float16 is stored as float32', async (t) => {
  const path = join(tmp.dir, 'f16.h5');
  await writeHdf5(path, {
    datasets: { h: { shape: [2], dtype: 'float16', data: new Float32Array([0.5, -2]) } },
    attrs: {},
  });
  t.deepEqual(await readHdf5Dataset(path, 'h'), {
    shape: [2],
    dtype: 'float32',
    data: new Float32Array([0.5, -2]),
  });
});

test('readHdf5Dataset reads a slice (start, end, step per dimension)', async (t) => {
  const path = join(tmp.dir, 'stack.h5');
  const [n, h, w] = [6, 64, 48];
  const data = Float32Array.from({ length: n * h * w }, (_, i) => i);
  await writeHdf5(path, { datasets: { depths: { shape: [n, h, w], dtype: 'float32', data } }, attrs: {} });
  const one = await readHdf5Dataset(path, 'depths', { slice: [[4, 5]] });
  t.deepEqual(one.shape, [1, h, w]);
  t.deepEqual(one.data, data.subarray(4 * h * w, 5 * h * w));
  const strided = await readHdf5Dataset(path, '/depths', { slice: [[1, 6, 2], null, [10, 12]] });
  t.deepEqual(strided.shape, [3, h, 2]);
  t.is(strided.data[0], 1 * h * w + 10);
  t.is(strided.data[1], 1 * h * w + 11);
  t.is(strided.data[2 * h], 3 * h * w + 10);
  const err = await t.throwsAsync(readHdf5Dataset(path, 'depths', { slice: [[0, 7]] }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(
    err!.message,
    /stack\.h5: depths: slice\[0\] = \[0,7\] is not \[start, end, step\?\] with 0 <= start <= end <= 6/,
  );
  const big = await t.throwsAsync(readHdf5Dataset(path, 'depths', { maxBytes: 1000 }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(
    big!.message,
    /stack\.h5: depths: selection \[6, 64, 48\] is 73728 bytes, more than the limit of 1000/,
  );
  const all = await t.throwsAsync(readHdf5(path, { maxBytes: 1000 }), { instanceOf: ApertureDepthError });
  t.regex(all!.message, /stack\.h5: datasets total 73728 bytes.*readHdf5Dataset/);
});

test('files with a 512-byte user block (MATLAB v7.3 .mat) open', async (t) => {
  const plain = join(tmp.dir, 'plain.h5');
  await writeHdf5(plain, {
    datasets: { labels: { shape: [2, 3], dtype: 'uint16', data: new Uint16Array([1, 2, 3, 4, 5, 6]) } },
    attrs: {},
  });
  const userBlock = Buffer.alloc(512);
  userBlock.write(
    'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .',
  );
  const mat = join(tmp.dir, 'nyu-like.mat');
  writeFileSync(mat, Buffer.concat([userBlock, readFileSync(plain)]));
  t.deepEqual(
    await readHdf5Dataset(mat, 'labels', {
      slice: [
        [1, 2],
        [1, 3],
      ],
    }),
    { shape: [1, 2], dtype: 'uint16', data: new Uint16Array([5, 6]) },
  );
  t.deepEqual(await listHdf5Datasets(mat), [
    { name: 'labels', shape: [2, 3], dtype: 'uint16', type: 'uint16' },
  ]);
});

test('offsets beyond 4 GiB work: a dataset behind a 4 GiB (sparse) user block, read by slice', async (t) => {
  const plain = join(tmp.dir, 'src.h5');
  const data = Float32Array.from({ length: 6 * 64 * 48 }, (_, i) => i);
  await writeHdf5(plain, { datasets: { depths: { shape: [6, 64, 48], dtype: 'float32', data } }, attrs: {} });
  const big = join(tmp.dir, 'beyond-4gib.h5');
  const fd = openSync(big, 'w');
  try {
    ftruncateSync(fd, 2 ** 32); // a hole: no disk space on file systems with sparse files
    writeSync(fd, readFileSync(plain), 0, undefined, 2 ** 32);
  } finally {
    closeSync(fd);
  }
  try {
    if (statSync(big).blocks * 512 > 2 ** 26) return t.pass('no sparse files here: skipped');
    const row = await readHdf5Dataset(big, 'depths', {
      slice: [
        [5, 6],
        [10, 11],
      ],
    });
    t.deepEqual(row.shape, [1, 1, 48]);
    t.deepEqual(row.data, data.subarray(5 * 64 * 48 + 10 * 48, 5 * 64 * 48 + 11 * 48));
  } finally {
    rmSync(big, { force: true });
  }
});

test('files written elsewhere: int8/int16 widen to int32, uint32 to float64, strings are skipped', async (t) => {
  const path = join(tmp.dir, 'foreign.h5');
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  try {
    f.create_dataset({ name: 'i16', data: new Int16Array([-300, 300]), shape: [2], dtype: '<h' });
    f.create_dataset({ name: 'i8', data: new Int8Array([-5]), shape: [1], dtype: '<b' });
    f.create_dataset({ name: 'u32', data: new Uint32Array([4e9]), shape: [1], dtype: '<I' });
    f.create_dataset({ name: 'names', data: ['bed', 'chair'] });
    f.create_attribute('MATLAB_class', 'double');
    f.create_attribute('ints', new Int32Array([1, 2]), [2], '<i');
  } finally {
    f.close();
  }
  const back = await readHdf5(path);
  t.deepEqual(back.datasets.i16, { shape: [2], dtype: 'int32', data: new Int32Array([-300, 300]) });
  t.deepEqual(back.datasets.i8, { shape: [1], dtype: 'int32', data: new Int32Array([-5]) });
  t.deepEqual(back.datasets.u32, { shape: [1], dtype: 'float64', data: new Float64Array([4e9]) });
  t.deepEqual(back.skipped, ['names']);
  t.deepEqual(back.attrs, { MATLAB_class: 'double', ints: [1, 2] });
  const err = await t.throwsAsync(readHdf5Dataset(path, 'names'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /foreign\.h5: names: dataset type string is not readable as an array/);
  const listed = await listHdf5Datasets(path);
  t.like(
    listed.find((d) => d.name === 'names'),
    { dtype: null, type: 'string' },
  );
});

test('a missing dataset lists the ones there are', async (t) => {
  const path = join(tmp.dir, 'rt2.h5');
  await writeHdf5(path, { datasets: { a: DATASETS.f32!, 'g/b': DATASETS.f64! }, attrs: {} });
  const err = await t.throwsAsync(readHdf5Dataset(path, 'depth'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /rt2\.h5: dataset "depth" not found \(datasets: a, g\/b\)/);
  const grp = await t.throwsAsync(readHdf5Dataset(path, 'g'), { instanceOf: ApertureDepthError });
  t.regex(grp!.message, /dataset "g" is a group, not a dataset/);
});

test('bad files are errors naming the file', async (t) => {
  const good = join(tmp.dir, 'good.h5');
  await writeHdf5(good, { datasets: { a: DATASETS.f32! }, attrs: { x: 1 } });
  const bytes = readFileSync(good);
  const cases: [string, Uint8Array | null, RegExp][] = [
    ['missing.h5', null, /HDF5 file not found/],
    ['empty.h5', new Uint8Array(0), /empty file, expected HDF5/],
    ['text.h5', new TextEncoder().encode('{"not": "hdf5"}'.repeat(100)), /not an HDF5 file/],
    [
      'truncated.h5',
      bytes.subarray(0, bytes.length >> 1),
      /corrupt or unreadable HDF5 file: .*(truncated|eof|EOF|addr)/i,
    ],
    ['header-only.h5', bytes.subarray(0, 100), /corrupt or unreadable HDF5 file/],
  ];
  for (const [name, content, pattern] of cases) {
    const path = join(tmp.dir, name);
    if (content) writeFileSync(path, content);
    for (const read of [
      () => readHdf5(path),
      () => readHdf5Dataset(path, 'a'),
      () => listHdf5Datasets(path),
    ]) {
      const err = await t.throwsAsync(read(), { instanceOf: ApertureDepthError });
      t.true(err!.message.startsWith(`${path}: `), err!.message);
      t.regex(err!.message, pattern);
    }
  }
  const dir = await t.throwsAsync(readHdf5(tmp.dir), { instanceOf: ApertureDepthError });
  t.regex(dir!.message, /is a folder/);
});

test('writer checks its input and leaves nothing behind on failure', async (t) => {
  const path = join(tmp.dir, 'w.h5');
  const mismatch = await t.throwsAsync(
    writeHdf5(path, {
      datasets: { a: { shape: [3], dtype: 'float32', data: new Float32Array(2) } },
      attrs: {},
    }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(mismatch!.message, /w\.h5: datasets\.a: shape \[3\] has 3 elements but data has 2/);
  const badName = await t.throwsAsync(writeHdf5(path, { datasets: { 'a//b': DATASETS.f64! }, attrs: {} }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(badName!.message, /invalid dataset name "a\/\/b"/);
  const badAttr = await t.throwsAsync(
    writeHdf5(path, { datasets: {}, attrs: { x: { nested: 1 } as never } }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(badAttr!.message, /w\.h5: attrs\.x: attribute must be/);
  t.false(existsSync(path));
});

/** A fuzzed file (gzip, base64) on which libhdf5 loops forever while reading an attribute. */
const LOOPING_FILE_GZ_B64 =
  'H4sICFw2C2sCA2hhbmcxODIuaDUA7ZhPSwJBFMDfzKosq9Eqiv05tFIHoQ4SVtjFFaWEAiXo3sGVpH9C29k9dKhbxw5BnfoEHTqF' +
  'H6WbhyCIPoC9mR1zEbwFJb0f/NCdee/xZhQe7HW1sjVlzBlc12FAX1Gf8Z9zaj378XhWq1b2uNVbix4FvTNNAI37Yasq3ODAAFIJ' +
  'CA1LDohtYDxEICk23ZZ77MBshgFWkTJZQAdRMeR/lYj12LJI5X5qE+JWUe3akI9Cvq+BTGtKIjbA5udTRbadGW0bGFvCaM5YSPUc' +
  'Vp+jz1oSWNxaUOsWpHVId8Q+nlEz9ARGMFDXVVc5Y06+LtoP++1fnLbcsQdngYPzYOEf5H0+ZdbK1R2eCP7wAyKm6CLccNruYU9l' +
  '3F/uLwJBEAQx6WyXa7ty0JjDCSsHoBrm547T+B5Agf2TkTrd6X9+kdkCeIUO/aEIgphMOivPL3QLBEEQxC/xRldAEH8ZrwjihTvY' +
  'qIc+oF30FYUSgIlaaA610Tp6gLZRD71Cb9Db0henDkwYgRgAAA==';

test('a file that makes libhdf5 loop is stopped by the timeout; the next read works', async (t) => {
  const path = join(tmp.dir, 'looping.h5');
  writeFileSync(path, gunzipSync(Buffer.from(LOOPING_FILE_GZ_B64, 'base64')));
  const start = Date.now();
  const err = await t.throwsAsync(readHdf5(path, { timeoutMs: 1000 }), { instanceOf: ApertureDepthError });
  t.regex(
    err!.message,
    /looping\.h5: corrupt or unreadable HDF5 file: libhdf5 did not finish within 1000 ms/,
  );
  t.true(Date.now() - start < 20000);
  const good = join(tmp.dir, 'after-loop.h5');
  await writeHdf5(good, { datasets: { a: DATASETS.f64! }, attrs: { s: 'ok' } });
  t.deepEqual((await readHdf5(good)).attrs, { s: 'ok' });
});
