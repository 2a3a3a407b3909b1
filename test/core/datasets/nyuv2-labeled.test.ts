import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { writeHdf5 } from '../../../core/io/hdf5.ts';
import type { RgbdScene } from '../../../core/datasets/dataset.ts';
import { NyuV2LabeledDataset } from '../../../core/datasets/nyuv2-labeled.ts';
import { NYUV2_TEST_INDICES, NYUV2_TRAIN_INDICES } from '../../../core/datasets/nyuv2-split.ts';
import { createDataset } from '../../../core/datasets/registry.ts';
import { tempFolder } from '../../helpers/temp-dir.ts';

const N = 10;
const W = 64; // stored dims are [N, 3, W, H] and [N, W, H] (MATLAB's column-major [H, W, 3, N] read as C order)
const H = 48;

const rgbAt = (i: number, x: number, y: number, c: number) => (i * 7 + x * 3 + y * 5 + c * 50) % 256;
const depthAt = (i: number, x: number, y: number) => 0.5 + i + x / 100 + y / 1000;

/** A labeled .mat in the real layout: HDF5 behind a 512-byte MATLAB user block. */
async function writeFakeNyu(): Promise<string> {
  const dir = tempFolder('nyu');
  const images = new Uint8Array(N * 3 * W * H);
  const depths = new Float32Array(N * W * H);
  for (let i = 0; i < N; i++) {
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) {
        for (let c = 0; c < 3; c++) images[((i * 3 + c) * W + x) * H + y] = rgbAt(i, x, y, c);
        depths[(i * W + x) * H + y] = depthAt(i, x, y);
      }
    }
  }
  depths[(2 * W + 5) * H + 7] = 0; // a hole in image 2 at (x=5, y=7)
  const h5 = join(dir, 'plain.h5');
  await writeHdf5(h5, {
    datasets: {
      images: { shape: [N, 3, W, H], dtype: 'uint8', data: images },
      depths: { shape: [N, W, H], dtype: 'float32', data: depths },
    },
    attrs: {},
  });
  const header = Buffer.alloc(512);
  header.write('MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test. HDF5 schema 1.00 .');
  const mat = join(dir, 'nyu_depth_v2_labeled.mat');
  writeFileSync(mat, Buffer.concat([header, readFileSync(h5)]));
  return mat;
}

test('the embedded official split: 654 test + 795 train = 1449, known first and last indices', (t) => {
  t.is(NYUV2_TEST_INDICES.length, 654);
  t.is(NYUV2_TRAIN_INDICES.length, 795);
  t.is(new Set([...NYUV2_TEST_INDICES, ...NYUV2_TRAIN_INDICES]).size, 1449);
  t.deepEqual(NYUV2_TEST_INDICES.slice(0, 10), [0, 1, 8, 13, 14, 15, 16, 17, 20, 27]);
  t.deepEqual(NYUV2_TEST_INDICES.slice(-3), [1446, 1447, 1448]);
  t.is(
    NYUV2_TEST_INDICES.reduce((a, b) => a + b, 0),
    498184,
  );
});

test('reads the transposed MATLAB layout behind a user block: pixels, metres, ids, test split', async (t) => {
  const mat = await writeFakeNyu();
  const ds = await new NyuV2LabeledDataset({ file: mat }).open();
  // Of the first 10 images, the official test split holds 0, 1 and 8.
  t.deepEqual(
    ds.scenes().map((r) => r.id),
    ['nyu_00000', 'nyu_00001', 'nyu_00008'],
  );
  const s = (await ds.load(ds.scenes()[2]!)) as RgbdScene;
  t.deepEqual([s.rgb.width, s.rgb.height, s.depth.width, s.depth.height], [W, H, W, H]);
  for (const [x, y] of [
    [0, 0],
    [63, 0],
    [10, 47],
    [33, 21],
  ] as const) {
    for (let c = 0; c < 3; c++) t.is(s.rgb.data[(y * W + x) * 3 + c], Math.fround(rgbAt(8, x, y, c) / 255));
    t.true(Math.abs(s.depth.data[y * W + x]! - depthAt(8, x, y)) < 1e-5);
  }
  // Eigen crop scaled to 64x48: rows 5..46, columns 4..59.
  t.is(s.evalMask![4 * W + 30], 0);
  t.is(s.evalMask![5 * W + 30], 1);
  t.is(s.evalMask![46 * W + 59], 1);
  t.is(s.evalMask![47 * W + 59], 0);
  t.is(s.evalMask![20 * W + 3], 0);
  t.is(s.evalMask![20 * W + 60], 0);
  t.true(Math.abs(s.intrinsics!.fx - 518.8579 / 10) < 1e-9);
});

test('train, all and a user split file (1-based); zero depth is invalid', async (t) => {
  const mat = await writeFakeNyu();
  const train = await createDataset({
    name: 'nyuv2-labeled',
    file: mat,
    split: 'train',
    eigen_crop: false,
    downscale: 1,
  });
  t.deepEqual(
    train.scenes().map((r) => r.index),
    [2, 3, 4, 5, 6, 7, 9],
  );
  const img2 = (await train.load(train.scenes()[0]!)) as RgbdScene;
  t.true(Number.isNaN(img2.depth.data[7 * W + 5]!));
  t.is(img2.evalMask, undefined);
  const all = await createDataset({
    name: 'nyuv2-labeled',
    file: mat,
    split: 'all',
    eigen_crop: true,
    downscale: 2,
    limit: 4,
  });
  t.is(all.scenes().length, 4);
  const small = (await all.load(all.scenes()[3]!)) as RgbdScene;
  t.deepEqual([small.rgb.width, small.depth.height], [32, 24]);

  const splitFile = join(mat, '..', 'split.txt');
  writeFileSync(splitFile, '# my split\n10\n3\n\n');
  const custom = await createDataset({
    name: 'nyuv2-labeled',
    file: mat,
    split: 'file',
    split_file: splitFile,
    eigen_crop: true,
    downscale: 1,
  });
  t.deepEqual(
    custom.scenes().map((r) => r.id),
    ['nyu_00009', 'nyu_00002'],
  );
  writeFileSync(splitFile, '11\n');
  const err = await t.throwsAsync(
    () =>
      createDataset({
        name: 'nyuv2-labeled',
        file: mat,
        split: 'file',
        split_file: splitFile,
        eigen_crop: true,
        downscale: 1,
      }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(err!.message, /split\.txt: line 1: expected a 1-based index in 1\.\.10, got "11"/);
});

test('a file without images/depths is an error naming it', async (t) => {
  const dir = tempFolder('nyu');
  const f = join(dir, 'other.h5');
  await writeHdf5(f, {
    datasets: { x: { shape: [2], dtype: 'float32', data: new Float32Array(2) } },
    attrs: {},
  });
  const err = await t.throwsAsync(() => new NyuV2LabeledDataset({ file: f }).open(), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /other\.h5: expected datasets "images" and "depths"/);
});
