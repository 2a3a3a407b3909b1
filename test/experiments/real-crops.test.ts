import test from 'ava';
import { fillDepthHoles, realCrops } from '../../experiments/training/data/real-crops.ts';

test('fillDepthHoles fills every hole from its valid neighbours and counts them', (t) => {
  // 4 x 3: holes at (1, 0), (3, 0), (2, 1), (3, 1); one pass fills all of them from the valid values around
  const d = Float32Array.from([1, 0, 3, 0, 2, 2, 0, 0, 5, 5, 5, 4]);
  t.is(fillDepthHoles(d, 4, 3), 4);
  t.is(d[1], 2); // (left 1 + right 3 + below 2) / 3
  t.is(d[3], 3); // left 3 (below is a hole)
  t.is(d[6], Math.fround(10 / 3)); // (left 2 + above 3 + below 5) / 3
  t.is(d[7], 4); // below 4
  // a hole with no valid neighbour in the first pass is filled in a later one
  const e = Float32Array.from([0, 0, 0, 6]);
  t.is(fillDepthHoles(e, 4, 1), 3);
  t.deepEqual([...e], [6, 6, 6, 6]);
  t.throws(() => fillDepthHoles(new Float32Array(4), 2, 2), { message: /no valid pixel/ });
});

test('realCrops: seeded, complete depth in the frames range, RGB bytes at the asked size', (t) => {
  const a = realCrops(4, 32, 24, 3);
  const b = realCrops(4, 32, 24, 3);
  const c = realCrops(4, 32, 24, 4);
  t.is(a.rgb.length, 4 * 32 * 24 * 3);
  t.is(a.depth.length, 4 * 32 * 24);
  t.deepEqual(a.depth, b.depth);
  t.deepEqual(a.rgb, b.rgb);
  t.notDeepEqual(a.depth, c.depth);
  // README: TUM 1.46-9.33 m, SUN 1.06-9.87 m; holes filled, so every pixel is in range
  t.true(a.depth.every((v) => v >= 1.0 && v <= 9.9));
  // 10-25 % of the two frames' depth pixels are holes (measured 18.7 %)
  t.true(a.filled > 0.1 && a.filled < 0.25, `${a.filled}`);
  // not a constant image
  const mean = a.rgb.reduce((s, v) => s + v, 0) / a.rgb.length;
  t.true(mean > 30 && mean < 220);
});
