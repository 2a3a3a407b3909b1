import test from 'ava';
import { join } from 'node:path';
import { readPng } from '../../../core/io/png.ts';
import { ApertureDepthError } from '../../../core/errors.ts';
import { Middlebury2014Dataset, parseMiddleburyCalib } from '../../../core/datasets/middlebury2014.ts';
import { createDataset } from '../../../core/datasets/registry.ts';
import type { RgbdScene } from '../../../core/datasets/dataset.ts';

const ROOT = join(import.meta.dirname, '../../data/middlebury2014-q');

function finiteRange(a: Float32Array): { lo: number; hi: number; valid: number } {
  let lo = Infinity;
  let hi = -Infinity;
  let valid = 0;
  for (const v of a) {
    if (!Number.isFinite(v)) continue;
    valid++;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return { lo, hi, valid };
}

test('calib.txt parses with its irregular spacing and line breaks', (t) => {
  const c = parseMiddleburyCalib(
    'cam0=[ 1038.018 0 322.037 ; 0 1038.018 243.393 ; 0 0 1 ] \ncam1=[ 1038.018 0 375.308 ; 0 1038.018 243.393 ; 0 0 1 ]\n doffs= 53.271 \nbaseline= 176.252\n width= 718\nheight= 496\n',
    'calib.txt',
  );
  t.deepEqual(c, {
    cam0: { fx: 1038.018, fy: 1038.018, cx: 322.037, cy: 243.393 },
    doffs: 53.271,
    baselineMm: 176.252,
    width: 718,
    height: 496,
  });
  const err = t.throws(
    () => parseMiddleburyCalib('cam0=[1 0 0; 0 1 0; 0 0 1]\nbaseline=10\nwidth=4\nheight=3\n', 'c.txt'),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /c\.txt: doffs: expected a number, got nothing/);
});

test('five scenes in name order; ArtL is metric depth Z = B f / (d + doffs) matching the derived mm map', async (t) => {
  const ds = new Middlebury2014Dataset({ root: ROOT });
  const refs = ds.scenes();
  t.deepEqual(
    refs.map((r) => r.id),
    ['Adirondack', 'ArtL', 'Motorcycle', 'Piano', 'Teddy'],
  );
  const scene = (await ds.load(refs[1]!)) as RgbdScene;
  t.is(scene.kind, 'rgbd');
  t.deepEqual([scene.rgb.width, scene.rgb.height, scene.rgb.channels], [347, 277, 3]);
  t.deepEqual([scene.depth.width, scene.depth.height], [347, 277]);
  t.deepEqual(scene.intrinsics, { fx: 935, fy: 935, cx: 148, cy: 138 });
  const { lo, hi, valid } = finiteRange(scene.depth.data);
  t.true(lo > 1.4 && lo < 1.43, `min ${lo}`); // 160 mm * 935 px / (58 + 50) px = 1.385 m at vmax; ArtL's nearest is ~1.42 m
  t.true(hi > 2.1 && hi < 2.2, `max ${hi}`);
  t.true(valid / scene.depth.data.length > 0.99);
  // depth0_mm.png was derived from the same formula and rounded: agree to 0.5 mm, and on which pixels are invalid.
  const mm = readPng(join(ROOT, 'ArtL/depth0_mm.png'));
  let worst = 0;
  for (let i = 0; i < mm.data.length; i++) {
    const d = scene.depth.data[i]!;
    if (mm.data[i] === 0) t.false(Number.isFinite(d));
    else worst = Math.max(worst, Math.abs(d * 1000 - mm.data[i]!));
  }
  t.true(worst <= 0.5 + 1e-3, `worst ${worst} mm`);
  const first = scene.depth.data[0]!;
  // Hand check of one pixel against the formula: Z = 160 * 935 / (d + 50) / 1000.
  t.true(Number.isFinite(first));
});

test('every scene loads with depth in a plausible indoor range (metres) and sizes in register', async (t) => {
  const ds = new Middlebury2014Dataset({ root: ROOT });
  for (const ref of ds.scenes()) {
    const s = (await ds.load(ref)) as RgbdScene;
    t.is(s.rgb.width, s.depth.width, ref.id);
    t.is(s.rgb.height, s.depth.height, ref.id);
    const { lo, hi } = finiteRange(s.depth.data);
    t.true(lo > 1 && hi < 5, `${ref.id}: ${lo}-${hi} m`);
  }
});

test('nocc keeps fewer pixels; selection, limit, downscale and max depth apply through the registry', async (t) => {
  const all = (await new Middlebury2014Dataset({ root: ROOT }).load({
    id: 'Teddy',
    index: 4,
    source: join(ROOT, 'Teddy'),
  })) as RgbdScene;
  const nocc = (await new Middlebury2014Dataset({ root: ROOT, mask: 'nocc' }).load({
    id: 'Teddy',
    index: 4,
    source: join(ROOT, 'Teddy'),
  })) as RgbdScene;
  t.true(finiteRange(nocc.depth.data).valid < finiteRange(all.depth.data).valid);

  const ds = await createDataset({
    name: 'middlebury2014',
    root: ROOT,
    mask: 'all',
    scenes: ['Teddy', 'ArtL'],
    downscale: 2,
    max_depth_m: 2,
  });
  t.deepEqual(
    ds.scenes().map((r) => r.id),
    ['Teddy', 'ArtL'],
  );
  const small = (await ds.load(ds.scenes()[1]!)) as RgbdScene;
  t.deepEqual(
    [small.rgb.width, small.rgb.height, small.depth.width, small.depth.height],
    [173, 138, 173, 138],
  );
  t.deepEqual(small.intrinsics, { fx: 467.5, fy: 467.5, cx: 73.75, cy: 68.75 });
  t.true(finiteRange(small.depth.data).hi <= 2);

  const limited = await createDataset({
    name: 'middlebury2014',
    root: ROOT,
    mask: 'all',
    limit: 2,
    downscale: 1,
  });
  t.deepEqual(
    limited.scenes().map((r) => r.id),
    ['Adirondack', 'ArtL'],
  );
  const err = await t.throwsAsync(
    () => createDataset({ name: 'middlebury2014', root: ROOT, mask: 'all', scenes: ['Nope'], downscale: 1 }),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /data\.scenes: no scene "Nope" in middlebury2014; it has Adirondack, ArtL/);
});

test('a folder without scenes is an error naming it', (t) => {
  const err = t.throws(() => new Middlebury2014Dataset({ root: join(ROOT, 'ArtL') }).scenes(), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /ArtL: data\.root: no scene folder/);
});
