/**
 * Resource limits (issue 8): `limits.max_tensor_bytes` / `--max-tensor-bytes` refuse a run up front (from
 * image headers and model configs, before decoding a pixel or loading a weight) when the memory model of
 * `memory-budget.ts` says it needs more, naming the size that would fit; following that advice passes.
 */
import jpegJs from 'jpeg-js';
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../core/cli/main.ts';
import { parseConfigObject } from '../../../core/config/load.ts';
import { ApertureDepthError } from '../../../core/errors.ts';
import { imageSize } from '../../../core/io/image-size.ts';
import { encodePng } from '../../../core/io/png.ts';
import { encodePnm } from '../../../core/io/pnm.ts';
import { estimate } from '../../../core/pipeline/estimate.ts';
import {
  checkRunBytes,
  estimateRunBytes,
  largestFitting,
  priorFootprint,
  type RunSize,
} from '../../../core/pipeline/memory-budget.ts';
import { runExperiment } from '../../../core/pipeline/run-experiment.ts';
import { openSafetensors } from '../../../core/io/safetensors.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';
import { writeArtlPair } from './helpers/write-pair.ts';

const SD2_TINY = join(import.meta.dirname, '../../data/diffusers-tiny/sd2-tiny/checkpoint');
const tmp = makeTempDir('limits');
let pair: string;
test.before(async () => {
  await setupEngine();
  pair = writeArtlPair(join(tmp.dir, 'artl'), 64); // 64 x 48
});
test.after.always(tmp.remove);

test('imageSize reads PNG, JPEG and PPM/PGM headers only', (t) => {
  const png = join(tmp.dir, 'a.png');
  writeFileSync(png, encodePng({ width: 7, height: 5, channels: 3, bitDepth: 8, data: new Uint8Array(105) }));
  const jpg = join(tmp.dir, 'a.jpg');
  writeFileSync(jpg, jpegJs.encode({ width: 17, height: 9, data: Buffer.alloc(17 * 9 * 4, 128) }, 80).data);
  const pgm = join(tmp.dir, 'a.pgm');
  writeFileSync(pgm, encodePnm({ width: 3, height: 2, channels: 1, bitDepth: 16, data: new Uint16Array(6) }));
  t.deepEqual(imageSize(png), { width: 7, height: 5 });
  t.deepEqual(imageSize(jpg), { width: 17, height: 9 });
  t.deepEqual(imageSize(pgm), { width: 3, height: 2 });
  t.deepEqual(
    imageSize(join(import.meta.dirname, '../../data/middlebury2014-q/ArtL/im0.png')).width > 0,
    true,
  );
  const bad = join(tmp.dir, 'bad.png');
  writeFileSync(bad, 'not an image');
  t.throws(() => imageSize(bad), {
    instanceOf: ApertureDepthError,
    message: /bad\.png: cannot read the image size/,
  });
  t.throws(() => imageSize('/dev/zero'), { instanceOf: ApertureDepthError, message: /not a regular file/ });
});

test('the memory model: grows with the working size, the prior counts its weights, full keeps a tape per step', (t) => {
  const prior = priorFootprint(SD2_TINY);
  let elements = 0;
  for (const c of [
    'unet/diffusion_pytorch_model.safetensors',
    'vae/diffusion_pytorch_model.safetensors',
    'text_encoder/model.safetensors',
  ]) {
    const f = openSafetensors(join(SD2_TINY, c));
    for (const n of f.names()) elements += f.info(n).shape.reduce((a, b) => a * b, 1);
    f.close();
  }
  t.is(prior.weightElements, elements);
  t.is(prior.vaeScaleFactor, 8);
  t.is(prior.processingResolution, 64); // model_index default_processing_resolution
  const base: RunSize = { width: 640, height: 480, variant: 'full', renderer: 'scatter', prior };
  const sizes = [64, 128, 320, 640].map((s) => estimateRunBytes({ ...base, workingMaxSide: s }).total);
  t.deepEqual(
    [...sizes].sort((a, b) => a - b),
    sizes,
    'monotone in the working size',
  );
  const full = estimateRunBytes(base);
  const ss = estimateRunBytes({ ...base, variant: 'scale-shift' });
  const px = estimateRunBytes({ ...base, variant: 'pixel', renderer: 'gather' });
  t.is(full.parts.weights, 4 * elements);
  t.true(full.parts.activations > ss.parts.activations, 'full keeps the activations of every step');
  t.is(px.parts.weights + px.parts.activations, 0, 'the pixel variant loads no network');
  t.is(
    full.total,
    Object.values(full.parts).reduce((a, b) => a + b, 0),
  );
  t.deepEqual(full.processing, { width: 64, height: 48 });
  // prior.margin: the prior processes the resized image with its reflected border
  const framed = estimateRunBytes({ ...base, prior: { ...prior, margin: 4 } });
  t.deepEqual(framed.processing, { width: 72, height: 56 });
  t.true(framed.parts.activations > full.parts.activations);
  // Processing resolution 0 follows the working size: the prior's share grows with it.
  const zero = (s: number) =>
    estimateRunBytes({ ...base, workingMaxSide: s, prior: { ...prior, processingResolution: 0 } }).parts
      .activations;
  t.true(zero(256) > 4 * zero(64));
});

test('largestFitting finds the largest working side (or processing resolution) under the cap, and it fits', (t) => {
  const prior = { ...priorFootprint(SD2_TINY), processingResolution: 768 };
  const size: RunSize = { width: 4000, height: 3000, variant: 'full', renderer: 'scatter', prior };
  const cap = 2 ** 30;
  const fit = largestFitting(size, cap)!;
  t.truthy(fit.processingResolution, 'at 768 the prior alone is over 1 GiB');
  t.true(fit.processingResolution! < 768);
  const ok = {
    ...size,
    workingMaxSide: fit.workingMaxSide,
    prior: { ...prior, processingResolution: fit.processingResolution! },
  };
  t.true(estimateRunBytes(ok).total <= cap);
  t.true(
    estimateRunBytes({ ...ok, prior: { ...ok.prior, processingResolution: fit.processingResolution! + 8 } })
      .total > cap,
  );
  const px: RunSize = { width: 4000, height: 3000, variant: 'pixel', renderer: 'gather' };
  const side = largestFitting(px, 700 * 2 ** 20)!.workingMaxSide!;
  t.true(estimateRunBytes({ ...px, workingMaxSide: side }).total <= 700 * 2 ** 20);
  t.true(estimateRunBytes({ ...px, workingMaxSide: side + 1 }).total > 700 * 2 ** 20);
  t.is(largestFitting({ ...size }, 1000), undefined, 'nothing fits under 1000 bytes');
  t.throws(() => checkRunBytes(size, 1000, 'x/pair.json'), {
    message: /x\/pair\.json: max_tensor_bytes: .*nothing fits/,
  });
});

test('estimate refuses up front with the size that fits; following the advice runs', async (t) => {
  const need = estimateRunBytes({ width: 64, height: 48, variant: 'pixel', renderer: 'gather' }).total;
  const cap = Math.floor(need / 3);
  const out = join(tmp.dir, 'refused');
  const err = await t.throwsAsync(
    () =>
      estimate({ pair, outDir: out, variant: 'pixel', iterations: 2, progress: false, maxTensorBytes: cap }),
    { instanceOf: ApertureDepthError },
  );
  t.regex(
    err!.message,
    /artl\/pair\.json: max_tensor_bytes: this run needs about \d+ bytes .* at a working size of 64x48, over the limit/,
  );
  const m = /a long side of (\d+) px \(--working-size \1, limits\.working_max_side: \1\)/.exec(err!.message);
  t.truthy(m, err!.message);
  t.false(existsSync(join(out, 'depth.npy')));
  t.false(existsSync(join(out, 'checkpoint.json')), 'refused before the optimizer started');
  const side = Number(m![1]);
  t.true(side >= 8 && side < 64);
  const r = await estimate({
    pair,
    outDir: join(tmp.dir, 'fits'),
    variant: 'pixel',
    iterations: 2,
    progress: false,
    maxTensorBytes: cap,
    workingMaxSide: side,
  });
  t.is(r.width, 64);
  t.true((r.record.working as { width: number }).width <= side);
});

test('the check reads headers only: an image claiming 100000 x 100000 is refused by the budget, not by the decoder', async (t) => {
  const dir = join(tmp.dir, 'huge');
  mkdirSync(dir, { recursive: true });
  const small = encodePng({ width: 4, height: 4, channels: 3, bitDepth: 8, data: new Uint8Array(48) });
  const huge = small.slice(0, 33); // signature + IHDR, then nothing
  const view = new DataView(huge.buffer);
  view.setUint32(16, 100000);
  view.setUint32(20, 100000);
  writeFileSync(join(dir, 'aif.png'), huge);
  writeFileSync(join(dir, 'blurred.png'), small);
  writeFileSync(
    join(dir, 'pair.json'),
    JSON.stringify({
      aif: 'aif.png',
      blurred: 'blurred.png',
      camera: { focal_length_mm: 50, pixel_pitch_um: 6.4, focus_distance_m: 2 },
      f_number_aif: 22,
      f_number_blurred: 8,
    }),
  );
  const err = await t.throwsAsync(
    () =>
      estimate({
        pair: join(dir, 'pair.json'),
        outDir: join(dir, 'out'),
        variant: 'pixel',
        progress: false,
        maxTensorBytes: 2 ** 30,
      }),
    { instanceOf: ApertureDepthError },
  );
  // Even the input images at their full size (decoded before any downsampling) are over the cap.
  t.regex(
    err!.message,
    /max_tensor_bytes: this run needs about \d+ bytes .*at a working size of 100000x100000.*nothing fits: the input images \(100000x100000\)/,
  );
  t.false(existsSync(join(dir, 'out', 'checkpoint.json')));
});

test('--max-tensor-bytes on the estimate CLI; limits.max_tensor_bytes in an estimate --config', async (t) => {
  const err = await t.throwsAsync(
    () =>
      main([
        'estimate',
        '--pair',
        pair,
        '--out',
        join(tmp.dir, 'cli'),
        '--variant',
        'pixel',
        '--iterations',
        '2',
        '--max-tensor-bytes',
        '1000000',
      ]),
    { instanceOf: ApertureDepthError },
  );
  t.regex(err!.message, /over the limit of 1000000 bytes .*--working-size \d+/);
  const cfg = join(tmp.dir, 'limits.yaml');
  writeFileSync(cfg, 'limits:\n  max_tensor_bytes: 100000\n');
  const err2 = await t.throwsAsync(
    () =>
      main([
        'estimate',
        '--pair',
        pair,
        '--out',
        join(tmp.dir, 'cli2'),
        '--variant',
        'pixel',
        '--iterations',
        '2',
        '--config',
        cfg,
      ]),
    { instanceOf: ApertureDepthError },
  );
  t.regex(err2!.message, /over the limit of 100000 bytes/);
  await t.throwsAsync(
    () => main(['estimate', '--pair', pair, '--out', join(tmp.dir, 'cli3'), '--max-tensor-bytes', '-5']),
    {
      instanceOf: ApertureDepthError,
      message: /--max-tensor-bytes/,
    },
  );
});

test('run: limits.max_tensor_bytes reaches every scene (the full model, not only the image)', async (t) => {
  const need = estimateRunBytes({ width: 64, height: 48, variant: 'pixel', renderer: 'gather' }).total;
  const loaded = parseConfigObject({
    data: { name: 'pairs', files: [pair] },
    variants: ['pixel'],
    optimizer: { iterations: 2 },
    output: { figures: false, report: false },
    // Over the working image's 36864 bytes (the runner's own pre-check) but under the whole run's need.
    limits: { max_tensor_bytes: Math.floor(need / 3) },
  });
  const out = join(tmp.dir, 'run');
  const r = await runExperiment({ loaded, outDir: out, progress: false });
  t.is(r.failed, 1);
  t.regex(r.rows[0]!.error!, /max_tensor_bytes: this run needs about \d+ bytes.*--working-size \d+/);
  t.regex(readFileSync(join(out, 'per_scene.csv'), 'utf8'), /failed/);
});
