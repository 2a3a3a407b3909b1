import test from 'ava';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { decodeDepthImage, RgbdFolderDataset } from '../../../core/datasets/rgbd-folder.ts';
import type { RgbdScene } from '../../../core/datasets/dataset.ts';
import { createDataset } from '../../../core/datasets/registry.ts';

const ROOT = join(import.meta.dirname, '../../data/open3d-rgbd');

function range(a: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi];
}

test('suffix matching finds the three frames; depth in metres as the README states', async (t) => {
  const ds = new RgbdFolderDataset({ root: ROOT, depthSuffix: '_depth_mm', depthScale: 1000 });
  t.deepEqual(
    ds.scenes().map((r) => r.id),
    ['NYU', 'SUN', 'TUM'],
  );
  const expected: Record<string, [number, number]> = {
    TUM: [1.46, 9.33],
    SUN: [1.06, 9.87],
    NYU: [1.39, 6.69],
  };
  for (const ref of ds.scenes()) {
    const s = (await ds.load(ref)) as RgbdScene;
    t.deepEqual(
      [s.rgb.width, s.rgb.height, s.rgb.channels, s.depth.width, s.depth.height],
      [640, 480, 3, 640, 480],
      ref.id,
    );
    const [lo, hi] = range(s.depth.data);
    const [elo, ehi] = expected[ref.id]!;
    t.true(Math.abs(lo - elo) < 0.006 && Math.abs(hi - ehi) < 0.006, `${ref.id}: ${lo}-${hi}`);
    t.deepEqual(s.intrinsics, { fx: 525, fy: 525, cx: 319.5, cy: 239.5 });
  }
});

test('raw TUM (1/5000 m) and SUN (rotated) encodings agree with the millimetre copies', async (t) => {
  const raw = new RgbdFolderDataset({
    root: ROOT,
    frames: [
      { id: 'tum-raw', rgb: 'TUM_color.png', depth: 'TUM_depth.png', depthScale: 5000 },
      { id: 'sun-raw', rgb: 'SUN_color.jpg', depth: 'SUN_depth.png', depthEncoding: 'sun-rotate' },
    ],
    intrinsics: { fx: 517.3, fy: 516.5, cx: 318.6, cy: 255.3 },
  });
  const mm = new RgbdFolderDataset({ root: ROOT, depthSuffix: '_depth_mm' });
  for (const [rawId, mmId] of [
    ['tum-raw', 'TUM'],
    ['sun-raw', 'SUN'],
  ] as const) {
    const a = (await raw.load(raw.scenes().find((r) => r.id === rawId)!)) as RgbdScene;
    const b = (await mm.load(mm.scenes().find((r) => r.id === mmId)!)) as RgbdScene;
    let worst = 0;
    let mismatch = 0;
    for (let i = 0; i < a.depth.data.length; i++) {
      const x = a.depth.data[i]!;
      const y = b.depth.data[i]!;
      if (Number.isFinite(x) !== Number.isFinite(y)) mismatch++;
      else if (Number.isFinite(x)) worst = Math.max(worst, Math.abs(x - y));
    }
    t.is(mismatch, 0, rawId);
    t.true(worst <= 0.0006, `${rawId}: ${worst} m`);
    t.is(a.intrinsics!.fx, 517.3);
  }
});

test('decodeDepthImage: zero is invalid, the rotation is 16-bit', (t) => {
  const img = {
    width: 3,
    height: 1,
    channels: 1 as const,
    bitDepth: 16 as const,
    data: Uint16Array.from([0, 1000, (1500 << 3) & 0xffff]),
  };
  const plain = decodeDepthImage(img, 1000, 'plain', 'x.png');
  t.true(Number.isNaN(plain.data[0]!));
  t.is(plain.data[1], 1);
  const rot = decodeDepthImage(img, 1000, 'sun-rotate', 'x.png');
  t.is(rot.data[2], 1.5);
  const err = t.throws(
    () => decodeDepthImage({ ...img, bitDepth: 8, data: new Uint8Array(3) } as never, 1000, 'plain', 'd.png'),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /d\.png: expected a 16-bit grey depth image/);
});

test('errors: no matching frames; depth not registered to RGB', async (t) => {
  let err = t.throws(() => new RgbdFolderDataset({ root: ROOT, rgbSuffix: '_rgb' }), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /open3d-rgbd: data\.root: no <id>_rgb/);
  const ds = await createDataset({
    name: 'rgbd-folder',
    root: ROOT,
    rgb_suffix: '_color',
    depth_suffix: '_depth',
    depth_scale: 1000,
    depth_encoding: 'plain',
    downscale: 1,
    frames: [{ rgb: 'TUM_color.png', depth: 'camera_primesense.json' }],
  });
  err = await t.throwsAsync(() => ds.load(ds.scenes()[0]!), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /camera_primesense\.json/);
});
