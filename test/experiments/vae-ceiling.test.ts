import test from 'ava';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { loadVae, type AutoencoderKL } from '../../diffusion/models/index.ts';
import { scoreCeiling, scoreScene } from '../../experiments/training/eval-prior.ts';
import { loadMiddlebury } from '../../experiments/training/eval/eval-scenes.ts';
import { cropToMultiple, vaeRoundTrip } from '../../experiments/training/eval/vae-ceiling.ts';

/**
 * The depth VAE's ceiling (ground truth -> normalize -> encode -> decode -> depth head): what the shipped
 * decoder gives back for the perfect latent. It must be far better than the prior (otherwise the decoder,
 * not the UNet, would be the limit) and than the oracle plane.
 */
const MODEL = fileURLToPath(new URL('../../models/aperture-depth-tiny', import.meta.url));
let vae: AutoencoderKL;

test.before(async () => {
  await setupEngine();
  vae = await loadVae(join(MODEL, 'vae'));
});

test.after.always(() => vae?.dispose());

test('the round trip of a slanted plane gives the plane back (affine-aligned abs_rel under 2.5 %, the 2 % / 98 % clipping included)', (t) => {
  const [w, h] = [64, 48];
  const depth = Float32Array.from({ length: w * h }, (_, i) => 1 + (2 * Math.floor(i / w)) / h + (0.5 * (i % w)) / w);
  const rel = vaeRoundTrip(vae, depth, w, h);
  t.is(rel.length, w * h);
  // Larger depth must decode to a larger value everywhere away from the borders: the head keeps the order.
  t.true(rel[24 * w + 32]! > rel[8 * w + 32]!);
  t.true(rel[24 * w + 56]! > rel[24 * w + 8]!);
  const scored = scoreCeiling(vae, { name: 'ramp', width: w, height: h, rgb: new Float32Array(w * h * 3), depthM: depth });
  t.log(`ramp: abs_rel ${scored.abs_rel.toFixed(4)} d1 ${scored.delta1.toFixed(4)}`);
  t.true(scored.abs_rel < 0.025);
  t.true(scored.delta1 > 0.99);
});

test.serial('on Middlebury Teddy and Motorcycle the VAE ceiling is far above the shipped prior and the plane', async (t) => {
  const prior = await MarigoldPrior.load(MODEL);
  try {
    for (const name of ['Teddy', 'Motorcycle']) {
      const scene = loadMiddlebury(name, prior.processingResolution);
      const r = scoreScene(prior, scene, 1, 0);
      const c = scoreCeiling(vae, scene);
      t.log(`${name}: ceiling ${c.abs_rel.toFixed(4)} / ${c.delta1.toFixed(4)}, prior ${r.prior.abs_rel.toFixed(4)}, plane ${r.plane.abs_rel.toFixed(4)}`);
      t.true(c.abs_rel < 0.06);
      t.true(c.abs_rel < 0.5 * r.prior.abs_rel);
      t.true(c.abs_rel < 0.5 * r.plane.abs_rel);
      t.true(c.delta1 > 0.97);
    }
  } finally {
    prior.dispose();
  }
});

test.serial('invalid pixels are skipped by the normalization and leave no tensor behind', async (t) => {
  const [w, h] = [32, 32];
  const depth = Float32Array.from({ length: w * h }, (_, i) => (i % 7 === 0 ? 0 : 2 + (i % w) / w));
  vaeRoundTrip(vae, depth, w, h); // the first call binds the loaded weights as tensors, kept with the model
  const leaked = await leakedTensors(() => {
    const rel = vaeRoundTrip(vae, depth, w, h);
    t.true(rel.every(Number.isFinite));
  });
  t.is(leaked, 0);
});

test('sizes the VAE cannot take and maps without valid depth are refused with the size named', (t) => {
  const err = t.throws(() => vaeRoundTrip(vae, new Float32Array(30 * 32).fill(1), 30, 32));
  t.regex(err!.message, /30x32 is not a multiple of 4/);
  t.throws(() => vaeRoundTrip(vae, new Float32Array(32 * 32), 32, 32), { message: /no valid pixel/ });
  t.throws(() => vaeRoundTrip(vae, new Float32Array(10), 32, 32), { message: /10 values, expected 1024/ });
});

test('cropToMultiple keeps the top-left rows and columns', (t) => {
  const values = Float32Array.from({ length: 7 * 5 }, (_, i) => i); // 7 wide, 5 high
  const c = cropToMultiple(values, 7, 5, 4);
  t.deepEqual([c.width, c.height], [4, 4]);
  t.deepEqual([...c.values.subarray(4, 8)], [7, 8, 9, 10]);
  t.throws(() => cropToMultiple(values, 3, 5, 4), { message: /3x5 is smaller than 4/ });
});
