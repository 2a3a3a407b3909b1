import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApertureDepthError } from '../../../core/errors.ts';
import { writeNpy } from '../../../core/io/npy.ts';
import { writePfm } from '../../../core/io/pfm.ts';
import { writePng } from '../../../core/io/png.ts';
import { evaluateDepth, readDepthFile } from '../../../core/pipeline/eval-depth.ts';
import { tempFolder } from '../../helpers/temp-dir.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');

// A 2x2 scene: ground truth 1, 2, 4 m and one pixel without ground truth.
const GT = [1, 2, 4, 0];
const PRED = [1.1, 1.8, 4, 3];

function files() {
  const dir = tempFolder('eval');
  writeNpy(join(dir, 'pred.npy'), { shape: [2, 2], dtype: 'float32', data: Float32Array.from(PRED) });
  writePng(join(dir, 'gt.png'), {
    width: 2,
    height: 2,
    channels: 1,
    bitDepth: 16,
    data: Uint16Array.from(GT.map((g) => g * 1000)),
  });
  writePfm(join(dir, 'gt.pfm'), { shape: [2, 2], dtype: 'float32', data: Float32Array.from(GT) });
  writePng(join(dir, 'mask.png'), {
    width: 2,
    height: 2,
    channels: 1,
    bitDepth: 8,
    data: Uint8Array.from([255, 255, 0, 255]),
  });
  return dir;
}

test('metrics by hand: REL = (0.1/1 + 0.2/2 + 0/4) / 3, RMSE = sqrt((0.01 + 0.04 + 0) / 3)', (t) => {
  const dir = files();
  const pred = readDepthFile(join(dir, 'pred.npy'));
  const gtPng = readDepthFile(join(dir, 'gt.png'));
  const gtPfm = readDepthFile(join(dir, 'gt.pfm'));
  t.deepEqual(Array.from(gtPng.data.slice(0, 3)), [1, 2, 4]);
  t.true(Number.isNaN(gtPng.data[3]!));
  t.deepEqual(Array.from(gtPfm.data.slice(0, 3)), [1, 2, 4]);
  const m = evaluateDepth(pred, gtPng);
  t.is(m.count, 3);
  t.true(Math.abs(m.abs_rel - 0.2 / 3) < 1e-6);
  t.true(Math.abs(m.rmse - Math.sqrt(0.05 / 3)) < 1e-6);
  t.true(Math.abs(m.log10 - (Math.log10(1.1) + Math.log10(2 / 1.8)) / 3) < 1e-6);
  t.is(m.delta1, 1);
  t.is(m.align, 'none');
  t.deepEqual([m.scale, m.shift], [1, 0]);
});

test('alignment recovers a scaled or affine prediction exactly; mask and depth range restrict pixels', (t) => {
  const gt = { width: 2, height: 2, data: Float32Array.from([1, 2, 4, Number.NaN]) };
  const half = { width: 2, height: 2, data: Float32Array.from([0.5, 1, 2, 9]) };
  const s = evaluateDepth(half, gt, { align: 'scale' });
  t.true(Math.abs(s.scale - 2) < 1e-9);
  t.true(s.abs_rel < 1e-7);
  const affine = { width: 2, height: 2, data: Float32Array.from([1.5, 2, 3, 9]) }; // 0.5 g + 1
  const a = evaluateDepth(affine, gt, { align: 'scale-shift' });
  t.true(Math.abs(a.scale - 2) < 1e-6 && Math.abs(a.shift + 2) < 1e-6);
  t.true(a.rmse < 1e-6);
  const pred = { width: 2, height: 2, data: Float32Array.from(PRED) };
  t.is(evaluateDepth(pred, gt, { mask: [1, 1, 0, 1] }).count, 2);
  t.is(evaluateDepth(pred, gt, { maxDepthM: 3 }).count, 2);
  t.is(evaluateDepth(pred, gt, { minDepthM: 1 }).count, 2);
  const err = t.throws(() => evaluateDepth({ width: 1, height: 4, data: new Float32Array(4) }, gt), {
    instanceOf: ApertureDepthError,
  });
  t.regex(err!.message, /--pred: prediction is 1x4 but ground truth is 2x2/);
});

test('unknown formats and an 8-bit PNG are errors naming the file', (t) => {
  const dir = files();
  let err = t.throws(() => readDepthFile(join(dir, 'depth.exr'), '--gt'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /depth\.exr: --gt: unknown depth format/);
  err = t.throws(() => readDepthFile(join(dir, 'mask.png'), '--gt'), { instanceOf: ApertureDepthError });
  t.regex(err!.message, /mask\.png: --gt: expected a 16-bit grey PNG in millimetres/);
});

test('aperture-depth eval prints the metrics as JSON', async (t) => {
  const dir = files();
  const { stdout } = await run(
    process.execPath,
    [
      join(ROOT, 'bin/aperture-depth.js'),
      'eval',
      '--pred',
      join(dir, 'pred.npy'),
      '--gt',
      join(dir, 'gt.png'),
      '--mask',
      join(dir, 'mask.png'),
    ],
    { cwd: ROOT },
  );
  const out = JSON.parse(stdout) as Record<string, number | string>;
  t.is(out.count, 2); // the mask drops the 4 m pixel
  t.true(Math.abs((out.abs_rel as number) - 0.1) < 1e-6); // (0.1/1 + 0.2/2) / 2
  t.is(out.align, 'none');
  const bad = await t.throwsAsync(() =>
    run(
      process.execPath,
      [
        join(ROOT, 'bin/aperture-depth.js'),
        'eval',
        '--pred',
        join(dir, 'nope.npy'),
        '--gt',
        join(dir, 'gt.png'),
      ],
      { cwd: ROOT },
    ),
  );
  t.regex(String((bad as { stderr?: string }).stderr), /aperture-depth: error: .*nope\.npy/);
});
