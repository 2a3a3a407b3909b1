import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigObject } from '../../../core/config/load.ts';
import type { RgbdScene } from '../../../core/datasets/dataset.ts';
import { readNpy } from '../../../core/io/npy.ts';
import { experimentDataset } from '../../../core/pipeline/run-experiment.ts';
import {
  focusDistanceFor,
  quantile,
  sceneSeed,
  writeSimulatedPair,
} from '../../../core/pipeline/simulated-dataset.ts';
import { createDataset } from '../../../core/datasets/registry.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { MIDDLEBURY, tempDir } from './run-helpers.ts';

test.before(async () => {
  await setupEngine();
});

test('focus rules and per-scene seeds', (t) => {
  const depth = { width: 5, height: 1, data: Float32Array.from([4, 1, Number.NaN, 3, 2]) };
  t.is(quantile(depth.data, 0.5), 2.5);
  t.is(focusDistanceFor(depth, 'median'), 2.5);
  t.is(focusDistanceFor(depth, 'mean'), 2.5);
  t.is(focusDistanceFor(depth, { percentile: 0 }), 1);
  t.is(focusDistanceFor(depth, { percentile: 100 }), 4);
  t.is(focusDistanceFor(depth, { percentile: 50 / 3 }), 1.5);
  t.is(focusDistanceFor(depth, 1.7), 1.7);
  t.is(sceneSeed(0, 'ArtL'), sceneSeed(0, 'ArtL'));
  t.not(sceneSeed(0, 'ArtL'), sceneSeed(1, 'ArtL'));
  t.not(sceneSeed(0, 'ArtL'), sceneSeed(0, 'Teddy'));
  t.true(sceneSeed(12345, 'x') < 2 ** 30);
});

test('a simulated pair: standard pair folder, focus by rule, seeded noise, pitch scaled by the downscale', async (t) => {
  const { config } = parseConfigObject({
    seed: 5,
    data: { name: 'middlebury2014', root: MIDDLEBURY, downscale: 8, scenes: ['Teddy'] },
    optics: { pixel_pitch_um: 10, focus: 'median', noise: { sigma: 0.01 } },
  });
  const dirA = tempDir();
  const ds = await experimentDataset(config, dirA);
  const scene = await ds.load(ds.scenes()[0]!);
  t.is(scene.kind, 'pair');
  const pair = JSON.parse(readFileSync(join(dirA, 'scenes/Teddy/pair/pair.json'), 'utf8'));
  t.is(pair.encoding, 'linear');
  t.is(pair.camera.pixel_pitch_um, 80); // 10 um at 1/8 size
  t.deepEqual([pair.f_number_aif, pair.f_number_blurred], [22, 8]);
  t.is(pair.simulation.renderer, 'layered');
  t.is(pair.simulation.seed, sceneSeed(5, 'Teddy'));
  const gt = readNpy(join(dirA, 'scenes/Teddy/pair/depth_gt.npy'));
  t.deepEqual(gt.shape, [46, 56]);
  t.true(Math.abs(pair.camera.focus_distance_m - quantile(gt.data as Float32Array, 0.5)) < 1e-6);
  // Same seed, same scene: the same noisy images, byte for byte; another run seed: different noise.
  const dirB = tempDir();
  await (await experimentDataset(config, dirB)).load(ds.scenes()[0]!);
  t.deepEqual(
    readFileSync(join(dirB, 'scenes/Teddy/pair/blurred.png')),
    readFileSync(join(dirA, 'scenes/Teddy/pair/blurred.png')),
  );
  const rgbd = await createDataset(config.data);
  const s = (await rgbd.load(rgbd.scenes()[0]!)) as RgbdScene;
  const other = await writeSimulatedPair(
    join(tempDir(), 'p'),
    s,
    { ...config.optics, pixel_pitch_um: 80 },
    6,
  );
  t.notDeepEqual(
    readFileSync(join(other.pairFile, '../blurred.png')),
    readFileSync(join(dirA, 'scenes/Teddy/pair/blurred.png')),
  );
});
