/**
 * Numerical faults of the inputs, each with a clear error or a documented outcome, and never a NaN depth
 * written silently (issue 8):
 * - all-black image: error naming the image (no light); saturated almost everywhere: error (nothing to compare);
 * - constant image (no texture): runs, but `confidence.npy` is 0 everywhere, run.json says
 *   `observability.observable_fraction: 0`, and a warning is logged;
 * - focus distance outside the scene (in front of it or behind it): runs, one-sided, finite depth; a focus
 *   distance at or inside the focal length is an error;
 * - images of different sizes: error naming both;
 * - ground truth with NaN or zeros: those pixels are invalid (metrics over the rest); all invalid: metrics
 *   with `count: 0` and null values, and the oracle variant refuses; `simulate` with all-invalid depth: error;
 * - a non-finite depth reaching the writer (fault injected): error, nothing written.
 */
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError } from '../../../core/errors.ts';
import { readNpy, writeNpy } from '../../../core/io/npy.ts';
import { writePng } from '../../../core/io/png.ts';
import { estimate, type EstimateOptions } from '../../../core/pipeline/estimate.ts';
import { runSimulateCommand } from '../../../core/pipeline/simulate-command.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';
import { loadArtlScene } from '../../optimizers/helpers/artl-scene.ts';

const tmp = makeTempDir('faults');
test.before(async () => {
  await setupEngine();
});
test.after.always(tmp.remove);

const W = 32;
const H = 24;
type Pixel = (x: number, y: number, c: number) => number;
const textured: Pixel = (x, y, c) => 0.3 + 0.25 * Math.sin(x * 0.9 + c) * Math.cos(y * 0.7);

function png16(f: Pixel, w = W, h = H) {
  const data = new Uint16Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++)
        data[(y * w + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, f(x, y, c))) * 65535);
  return { width: w, height: h, channels: 3 as const, bitDepth: 16 as const, data };
}

interface PairFiles {
  aif: ReturnType<typeof png16>;
  blurred: ReturnType<typeof png16>;
  gt?: Float32Array;
  extra?: Record<string, unknown>;
}

/** Writes a pair folder; returns the pair.json path. */
function writePair(name: string, p: PairFiles): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  writePng(join(dir, 'aif.png'), p.aif);
  writePng(join(dir, 'blurred.png'), p.blurred);
  if (p.gt)
    writeNpy(join(dir, 'gt.npy'), { shape: [p.aif.height, p.aif.width], dtype: 'float32', data: p.gt });
  const json = {
    aif: 'aif.png',
    blurred: 'blurred.png',
    encoding: 'linear',
    camera: { focal_length_mm: 50, pixel_pitch_um: 20, focus_distance_m: 1.2 },
    f_number_aif: 22,
    f_number_blurred: 8,
    ...(p.gt ? { depth_gt: 'gt.npy' } : {}),
    ...p.extra,
  };
  writeFileSync(join(dir, 'pair.json'), JSON.stringify(json));
  return join(dir, 'pair.json');
}

const run = (pair: string, extra: Partial<EstimateOptions> = {}) =>
  estimate({
    pair,
    outDir: join(pair, '..', 'out'),
    variant: 'pixel',
    iterations: 5,
    progress: false,
    ...extra,
  });

/** The error of a run that must write nothing. */
async function refused(
  t: import('ava').ExecutionContext,
  pair: string,
  message: RegExp,
): Promise<ApertureDepthError> {
  const err = await t.throwsAsync(() => run(pair), { instanceOf: ApertureDepthError });
  t.regex(err!.message, message);
  t.true(err!.message.includes(pair), 'names the pair.json');
  t.false(existsSync(join(pair, '..', 'out', 'depth.npy')), 'no depth written');
  return err!;
}

test('an all-black image is refused, naming the image: there is no light to estimate from', async (t) => {
  const black = png16(() => 0);
  const a = writePair('black-aif', { aif: black, blurred: png16(textured) });
  await refused(t, a, /aif: the aif image .*black-aif\/aif\.png is black/);
  const b = writePair('black-blurred', { aif: png16(textured), blurred: black });
  await refused(t, b, /blurred: the blurred image .*black-blurred\/blurred\.png is black/);
});

test('a saturated image is refused: too few unsaturated pixels to compare the blur on', async (t) => {
  const p = writePair('saturated', { aif: png16(() => 1), blurred: png16((x) => (x < 1 ? 0.5 : 1)) });
  await refused(
    t,
    p,
    /only [0-9.]+ % of the pixels are below the saturation level 0\.99 in both images.*aif 100\.0 % saturated/,
  );
});

test('a constant image runs, but its confidence map marks every pixel unobservable, with a warning', async (t) => {
  const flat = png16(() => 0.4);
  const p = writePair('constant', { aif: flat, blurred: flat });
  const log: string[] = [];
  const r = await run(p, { log: (l) => log.push(l) });
  t.true(
    r.depth.every((d) => Number.isFinite(d) && d > 0),
    'depth is finite (the prior\u2019s guess)',
  );
  const conf = readNpy(join(p, '..', 'out', 'confidence.npy'));
  t.deepEqual(conf.shape, [H, W]);
  t.true(
    (conf.data as Float32Array).every((c) => c >= 0 && c < 1e-6),
    'confidence 0 everywhere (up to rounding)',
  );
  const record = JSON.parse(readFileSync(join(p, '..', 'out', 'run.json'), 'utf8'));
  t.is(record.observability.observable_fraction, 0);
  t.regex(log.join('\n'), /warning: depth is observable from defocus in only 0\.0 % of the image/);
});

test('confidence follows texture: a half-flat image is observable on its textured half only', async (t) => {
  const half: Pixel = (x, y, c) => (x < W / 2 ? textured(x, y, c) : 0.4);
  const p = writePair('half', { aif: png16(half), blurred: png16(half) });
  const r = await run(p);
  const conf = readNpy(join(p, '..', 'out', 'confidence.npy')).data as Float32Array;
  let left = 0;
  let right = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < 8; x++) {
      left += conf[y * W + x]!;
      right += conf[y * W + W - 1 - x]!;
    }
  t.true(left / (8 * H) > 0.9, `textured side ${left / (8 * H)}`);
  t.true(right / (8 * H) < 0.05, `flat side ${right / (8 * H)}`);
  const f = (r.record.observability as { observable_fraction: number }).observable_fraction;
  t.true(f > 0.3 && f < 0.8, `observable fraction ${f}`);
});

test('focus distance outside the scene (in front of it, behind it) gives finite depth; at the focal length it is an error', async (t) => {
  const png = (x: tf.Tensor3D) => {
    const [h, w] = x.shape;
    const v = x.dataSync();
    return {
      width: w,
      height: h,
      channels: 3 as const,
      bitDepth: 16 as const,
      data: Uint16Array.from(v, (s) => Math.round(Math.min(1, Math.max(0, s)) * 65535)),
    };
  };
  // The ArtL scene spans 1.42 to 2.16 m: focused at 1.2 m it lies behind the focus plane, at 5 m in front of it.
  for (const focus of [1.2, 5]) {
    const s = loadArtlScene({ camera: { focusDistanceM: focus } } as never);
    const [h, w] = s.depthGt.shape;
    const p = writePair(`focus-${focus}`, {
      aif: png(s.aif),
      blurred: png(s.blurred),
      gt: s.depthGt.dataSync() as Float32Array,
      extra: {
        camera: { focal_length_mm: 50, pixel_pitch_um: s.camera.pixelPitchUm, focus_distance_m: focus },
      },
    });
    tf.dispose([s.aif, s.blurred, s.depthGt, s.depthFilled, s.rgbSrgb]);
    const r = await run(p, { iterations: 40 });
    t.is(r.depth.length, h * w);
    t.true(r.depth.every((d) => Number.isFinite(d) && d > 0));
    t.log(`focus ${focus} m: abs_rel ${r.metrics!.abs_rel.toFixed(3)}`);
    t.true(r.metrics!.abs_rel < 0.25, `focus ${focus} m: abs_rel ${r.metrics!.abs_rel}`);
  }
  const inside = writePair('focus-inside', {
    aif: png16(textured),
    blurred: png16(textured),
    extra: { camera: { focal_length_mm: 50, pixel_pitch_um: 20, focus_distance_m: 0.04 } },
  });
  await refused(t, inside, /focus_distance_m/);
});

test('images of different sizes are refused, naming both files', async (t) => {
  const p = writePair('sizes', { aif: png16(textured), blurred: png16(textured, W, H - 2) });
  await refused(
    t,
    p,
    /the images differ in size: aif .*sizes\/aif\.png is 32x24, blurred .*sizes\/blurred\.png is 32x22/,
  );
});

test('ground truth with NaN and zeros: those pixels are invalid; all invalid gives count 0 and null metrics', async (t) => {
  const gt = Float32Array.from({ length: W * H }, (_, i) =>
    i % 3 === 0 ? Number.NaN : i % 3 === 1 ? 0 : 1.5,
  );
  const p = writePair('gt-holes', { aif: png16(textured), blurred: png16(textured), gt });
  const r = await run(p);
  t.is(r.metrics!.count, (W * H) / 3, 'only the 1.5 m pixels count');
  t.true(Number.isFinite(r.metrics!.abs_rel));
  const none = writePair('gt-none', {
    aif: png16(textured),
    blurred: png16(textured),
    gt: new Float32Array(W * H),
  });
  const r2 = await run(none);
  t.is(r2.metrics!.count, 0);
  t.is(r2.metrics!.abs_rel, Number.NaN);
  const written = JSON.parse(readFileSync(join(none, '..', 'out', 'metrics.json'), 'utf8'));
  t.is(written.count, 0);
  t.is(written.abs_rel, null, 'metrics.json says null, not a number');
  t.true(r2.depth.every(Number.isFinite), 'the depth itself is unaffected');
});

test('the oracle variant refuses ground truth without a valid pixel, naming the file', async (t) => {
  const none = writePair('gt-none-oracle', {
    aif: png16(textured),
    blurred: png16(textured),
    gt: new Float32Array(W * H).fill(Number.NaN),
  });
  const err = await t.throwsAsync(
    () =>
      run(none, {
        variant: 'oracle',
        model: join(import.meta.dirname, '../../data/diffusers-tiny/sd2-tiny/checkpoint'),
        prior: { processingResolution: 32 },
      }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(
    err!.message,
    /gt-none-oracle\/pair\.json: depth_gt: the oracle variant aligns to ground truth, but .*gt\.npy has no valid pixel/,
  );
});

test('simulate: depth with NaN or zeros renders (holes stay NaN in depth_gt.npy); all invalid is an error naming the file', async (t) => {
  const dir = join(tmp.dir, 'sim');
  mkdirSync(dir, { recursive: true });
  writePng(join(dir, 'rgb.png'), {
    width: W,
    height: H,
    channels: 3,
    bitDepth: 8,
    data: Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37) % 256),
  });
  writeFileSync(
    join(dir, 'camera.json'),
    JSON.stringify({
      focal_length_mm: 50,
      pixel_pitch_um: 20,
      focus_distance_m: 1.2,
      f_number_aif: 22,
      f_number_blurred: 8,
    }),
  );
  const holes = Float32Array.from({ length: W * H }, (_, i) =>
    i % 4 === 0 ? Number.NaN : i % 4 === 1 ? 0 : 1.5 + (i % 7) / 10,
  );
  writeNpy(join(dir, 'holes.npy'), { shape: [H, W], dtype: 'float32', data: holes });
  const r = await runSimulateCommand({
    rgb: join(dir, 'rgb.png'),
    depth: join(dir, 'holes.npy'),
    camera: join(dir, 'camera.json'),
    out: join(dir, 'out'),
  });
  const gt = readNpy(join(dir, 'out', 'depth_gt.npy')).data as Float32Array;
  t.true(Number.isNaN(gt[0]!), 'a NaN hole stays NaN');
  t.true(Number.isNaN(gt[1]!) || gt[1] === 0, 'a zero is a hole');
  t.true(Number.isFinite(r.focusDistanceM));
  for (const [name, fill] of [
    ['nan', Number.NaN],
    ['zero', 0],
  ] as const) {
    writeNpy(join(dir, `${name}.npy`), {
      shape: [H, W],
      dtype: 'float32',
      data: new Float32Array(W * H).fill(fill),
    });
    const err = await t.throwsAsync(
      () =>
        runSimulateCommand({
          rgb: join(dir, 'rgb.png'),
          depth: join(dir, `${name}.npy`),
          camera: join(dir, 'camera.json'),
          out: join(dir, `out-${name}`),
        }),
      { instanceOf: ApertureDepthError },
    );
    t.regex(err!.message, new RegExp(`${name}\\.npy: --depth: no valid depth`));
  }
});

test('a non-finite depth reaching the writer is an error and nothing is written (fault injected)', async (t) => {
  const p = writePair('nan-inject', { aif: png16(textured), blurred: png16(textured) });
  // Depth is resized back to the input size with resizeBilinear when the working size is smaller: make it NaN.
  const image = tf.image as unknown as Record<string, unknown>;
  const original = image.resizeBilinear as typeof tf.image.resizeBilinear;
  image.resizeBilinear = ((x: tf.Tensor3D, size: [number, number]) =>
    tf.tidy(() => tf.mul(original(x, size), Number.NaN))) as typeof tf.image.resizeBilinear;
  try {
    const err = await t.throwsAsync(() => run(p, { workingMaxSide: 16 }), { instanceOf: ApertureDepthError });
    t.regex(
      err!.message,
      /nan-inject\/pair\.json: depth: the estimated depth has 768 NaN, infinite or non-positive value\(s\) of 768; no output was written/,
    );
  } finally {
    image.resizeBilinear = original;
  }
  for (const f of ['depth.npy', 'depth_mm.png', 'depth.png', 'result.h5', 'run.json', 'confidence.npy']) {
    t.false(existsSync(join(p, '..', 'out', f)), f);
  }
});
