import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setupEngine, leakedTensors } from '../../helpers/engine.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';
import { runSimulateCommand } from '../../../core/pipeline/simulate-command.ts';
import { readNpy } from '../../../core/io/npy.ts';
import { readImage } from '../../../core/io/image.ts';
import { ApertureDepthError } from '../../../core/errors.ts';

const scene = 'test/data/middlebury2014-q/ArtL';
const cameraFile = 'test/data/cameras/middlebury-f22-f8.json';
const tmp = makeTempDir('simulate');
test.after.always(() => tmp.remove());

test.before(async () => {
  await setupEngine();
});

test('simulate writes a complete pair of a real Middlebury scene', async (t) => {
  const out = join(tmp.dir, 'artl');
  let result: Awaited<ReturnType<typeof runSimulateCommand>> | undefined;
  const leaked = await leakedTensors(async () => {
    result = await runSimulateCommand({
      rgb: join(scene, 'im0.png'),
      depth: join(scene, 'depth0_mm.png'),
      mask: join(scene, 'mask0nocc.png'),
      camera: cameraFile,
      out,
    });
  });
  t.is(leaked, 0);
  t.is(result!.pairFile, join(out, 'pair.json'));
  t.deepEqual(readdirSync(out).sort(), ['aif.png', 'blurred.png', 'depth_gt.npy', 'pair.json']);
  const pair = JSON.parse(readFileSync(join(out, 'pair.json'), 'utf8'));
  t.like(pair, {
    aif: 'aif.png',
    blurred: 'blurred.png',
    encoding: 'linear',
    camera: { focal_length_mm: 50, pixel_pitch_um: 6.4, focus_distance_m: 1.8 },
    f_number_aif: 22,
    f_number_blurred: 8,
    exposure_time_aif_s: null,
    exposure_time_blurred_s: null,
    depth_gt: 'depth_gt.npy',
  });
  const aif = readImage(join(out, 'aif.png'));
  const blurred = readImage(join(out, 'blurred.png'));
  t.is(aif.bitDepth, 16);
  t.is(blurred.bitDepth, 16);
  t.deepEqual([aif.width, aif.height, aif.channels], [347, 277, 3]);

  // Depth: metres, NaN exactly where the mask or the depth PNG has no ground truth.
  const depth = readNpy(join(out, 'depth_gt.npy'));
  t.deepEqual(depth.shape, [277, 347]);
  t.is(depth.dtype, 'float32');
  const mask = readImage(join(scene, 'mask0nocc.png'));
  const mm = readImage(join(scene, 'depth0_mm.png'));
  let nan = 0;
  let expectedNan = 0;
  for (let i = 0; i < 277 * 347; i++) {
    const invalid = !mask.data[i * mask.channels] || mm.data[i] === 0;
    if (invalid) expectedNan++;
    const d = depth.data[i] as number;
    if (Number.isNaN(d)) nan++;
    else t.true(Math.abs(d - (mm.data[i] as number) / 1000) < 1e-6 || invalid);
  }
  t.is(nan, expectedNan);
  t.true(nan > 0 && nan < 0.5 * 277 * 347);

  // Equal energy: both renders carry the scene's light (interior mean within 1 %), and the large
  // aperture is visibly blurrier (less high-frequency energy).
  const interiorMean = (img: typeof aif) => {
    let s = 0;
    let n = 0;
    for (let y = 20; y < img.height - 20; y++)
      for (let x = 20; x < img.width - 20; x++)
        for (let c = 0; c < 3; c++) [s, n] = [s + (img.data[(y * img.width + x) * 3 + c] as number), n + 1];
    return s / n;
  };
  const gradEnergy = (img: typeof aif) => {
    let s = 0;
    for (let y = 0; y < img.height; y++)
      for (let x = 1; x < img.width; x++) {
        const i = (y * img.width + x) * 3;
        s += Math.abs((img.data[i] as number) - (img.data[i - 3] as number));
      }
    return s;
  };
  t.true(Math.abs(interiorMean(aif) / interiorMean(blurred) - 1) < 0.01);
  t.true(gradEnergy(blurred) < 0.8 * gradEnergy(aif));
});

test('simulate rejects mismatched sizes and bad cameras with the file named', async (t) => {
  const badCam = join(tmp.dir, 'bad-camera.json');
  writeFileSync(badCam, JSON.stringify({ focal_length_mm: 50, pixel_pitch_um: 6.4, focus_distance_m: 0.01, f_number_aif: 22, f_number_blurred: 8 }));
  const e1 = await t.throwsAsync(
    () => runSimulateCommand({ rgb: join(scene, 'im0.png'), depth: join(scene, 'depth0_mm.png'), camera: badCam, out: join(tmp.dir, 'x') }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(e1!.message, /bad-camera\.json.*focus_distance_m/);
  const swapped = join(tmp.dir, 'swapped.json');
  writeFileSync(swapped, JSON.stringify({ focal_length_mm: 50, pixel_pitch_um: 6.4, focus_distance_m: 2, f_number_aif: 8, f_number_blurred: 22 }));
  const e2 = await t.throwsAsync(
    () => runSimulateCommand({ rgb: join(scene, 'im0.png'), depth: join(scene, 'depth0_mm.png'), camera: swapped, out: join(tmp.dir, 'y') }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(e2!.message, /swapped\.json.*f_number_aif/);
  const e3 = await t.throwsAsync(
    () =>
      runSimulateCommand({
        rgb: join(scene, 'im0.png'),
        depth: 'test/data/middlebury2014-q/Teddy/depth0_mm.png',
        camera: cameraFile,
        out: join(tmp.dir, 'z'),
      }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(e3!.message, /Teddy.*--depth.*450x375.*347x277/);
});

test('the CLI reports a bad argument as an error with exit code 2', (t) => {
  const err = t.throws(() =>
    execFileSync(process.execPath, ['--import=tsx', 'core/cli/main.ts', 'simulate', '--rgb', 'nope.png', '--depth', 'nope.npy', '--camera', cameraFile, '--out', join(tmp.dir, 'w')], {
      stdio: 'pipe',
    }),
  ) as unknown as { status: number; stderr: Buffer };
  t.is(err.status, 2);
  t.regex(err.stderr.toString(), /error: nope\.png.*not found/i);
});
