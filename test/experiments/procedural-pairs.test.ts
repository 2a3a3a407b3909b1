import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../core/io/npy.ts';
import { loadPairSpec } from '../../core/pipeline/pair.ts';
import { quantile } from '../../core/pipeline/simulated-dataset.ts';
import { circleOfConfusionPxScalar } from '../../physics/circle-of-confusion.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';
import {
  DEFAULT_FIRST,
  opticsForBlur,
  writeProceduralPairs,
} from '../../experiments/scripts/procedural-pairs.ts';
import { TEST_SEED_START, generateScene } from '../../experiments/training/procedural-scenes.ts';
import { setupEngine } from '../helpers/engine.ts';
import { tempDir } from '../core/pipeline/run-helpers.ts';

test.before(async () => {
  await setupEngine();
});

test('opticsForBlur: the f/8 blur at the 95th-percentile depth is the target, focus at the 5th percentile', (t) => {
  // Depth 1..10 m in equal steps: 5th percentile 1.45 m, 95th 9.55 m.
  const depth = Float32Array.from({ length: 101 }, (_, i) => 1 + (9 * i) / 100);
  const { optics, focusM, farM } = opticsForBlur(depth, 6);
  t.true(Math.abs(focusM - 1.45) < 1e-5 && Math.abs(farM - 9.55) < 1e-5);
  t.is(optics.focus, focusM);
  t.is(optics.f_number_aif, 22);
  t.is(optics.f_number_blurred, 8);
  const camera = new ThinLensCamera({
    focalLengthMm: 50,
    pixelPitchUm: optics.pixel_pitch_um,
    focusDistanceM: focusM,
  });
  t.true(Math.abs(circleOfConfusionPxScalar(camera, farM, 8) - 6) < 1e-9);
  // By hand: s = f^2 (1 - F/d) / (N (F - f) c) = 0.0025 * (1 - 1.45/9.55) / (8 * 1.4 * 6) m = 31.554 um
  // (the depths are float32, so to 1e-6 relative).
  const byHand = (1e6 * 0.0025 * (1 - 1.45 / 9.55)) / (8 * 1.4 * 6);
  t.true(Math.abs(optics.pixel_pitch_um / byHand - 1) < 1e-6);
  const flat = new Float32Array(50).fill(2);
  t.throws(() => opticsForBlur(flat, 8), { message: /depth.*no depth range behind the focus/ });
  t.throws(() => opticsForBlur(depth, 0), {
    message: /--blur-px: must be a positive number of pixels, got 0/,
  });
});

test('writeProceduralPairs: held-out seeds as pair folders a run reads, at the blur target, no leaked tensors', async (t) => {
  const before = tf.memory().numTensors;
  const out = tempDir('pp');
  const ids = await writeProceduralPairs({
    out,
    count: 2,
    first: 7,
    width: 40,
    height: 30,
    blurPx: 5,
    textureImages: [],
  });
  t.is(tf.memory().numTensors, before);
  t.is(ids.length, 2);
  for (const [i, id] of ids.entries()) {
    const seed = TEST_SEED_START + 7 + i;
    const scene = generateScene(seed, { width: 40, height: 30, textureImages: [] });
    t.is(id, `proc-${seed}-${scene.kind}`);
    const spec = loadPairSpec(join(out, id, 'pair.json'));
    const json = JSON.parse(readFileSync(join(out, id, 'pair.json'), 'utf8'));
    t.is(json.simulation.renderer, 'layered');
    t.true(existsSync(join(out, id, 'aif.png')) && existsSync(join(out, id, 'blurred.png')));
    const gt = readNpy(spec.depthGt!);
    t.deepEqual(gt.shape, [30, 40]);
    t.deepEqual(Array.from(gt.data as Float32Array), Array.from(scene.depth)); // exact generator depth
    const camera = ThinLensCamera.fromJson(json.camera);
    t.true(Math.abs(camera.focusDistanceM - quantile(scene.depth, 0.05)) < 1e-6);
    t.true(Math.abs(circleOfConfusionPxScalar(camera, quantile(scene.depth, 0.95), 8) - 5) < 1e-6);
  }
  // The default range is far from the scenes eval-prior scores (the first 96 held-out seeds).
  t.true(DEFAULT_FIRST >= 96);
  await t.throwsAsync(writeProceduralPairs({ out, count: 2, first: 499_999, textureImages: [] }), {
    message:
      /--first: must be an integer with first \+ count <= 500000 \(the held-out evaluation seeds\), got 499999/,
  });
  await t.throwsAsync(writeProceduralPairs({ out, count: 0, textureImages: [] }), {
    message: /--count: must be a positive integer, got 0/,
  });
});
