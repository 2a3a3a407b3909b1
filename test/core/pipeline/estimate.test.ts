import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupEngine } from '../../helpers/engine.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { estimate, fitEnergyGain } from '../../../core/pipeline/estimate.ts';
import * as tf from '@tensorflow/tfjs';
import { loadPairSpec, readPairImages } from '../../../core/pipeline/pair.ts';
import { readNpy } from '../../../core/io/npy.ts';
import { readPng } from '../../../core/io/png.ts';
import { readHdf5 } from '../../../core/io/hdf5.ts';
import { readCheckpoint } from '../../../optimizers/checkpoint.ts';
import { ApertureDepthError } from '../../../core/errors.ts';
import { writeArtlPair } from './helpers/write-pair.ts';

const SD2_TINY = fileURLToPath(new URL('../../data/diffusers-tiny/sd2-tiny/checkpoint', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'estimate-'));
let pair64: string;
let pair32: string;

test.before(async () => {
  await setupEngine();
  pair64 = writeArtlPair(join(tmp, 'artl64'), 64);
  pair32 = writeArtlPair(join(tmp, 'artl32'), 32);
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const quiet = (args: string[]): Promise<string> => runCli(args, { stderr: false });

test.serial('estimate CLI (pixel variant) writes every output, atomically named, with metrics', async (t) => {
  const out = join(tmp, 'out-pixel');
  const stdout = await quiet([
    'estimate',
    '--pair',
    pair64,
    '--out',
    out,
    '--variant',
    'pixel',
    '--iterations',
    '20',
    '--seed',
    '1',
  ]);
  t.regex(stdout, /wrote .*out-pixel: depth 64x48 \(pixel, prior pixel\).*abs_rel/);
  const depth = readNpy(join(out, 'depth.npy'));
  t.deepEqual(depth.shape, [48, 64]);
  t.is(depth.dtype, 'float32');
  const mm = readPng(join(out, 'depth_mm.png'));
  t.is(mm.bitDepth, 16);
  t.is(mm.channels, 1);
  t.is(mm.data[0], Math.round((depth.data[0] as number) * 1000));
  const preview = readPng(join(out, 'depth.png'));
  t.deepEqual([preview.width, preview.height, preview.channels], [64, 48, 3]);
  const h5 = await readHdf5(join(out, 'result.h5'));
  for (const name of [
    'depth',
    'relative_depth',
    'rendered',
    'observed',
    'residual',
    'loss_history',
    'initial_latent',
    'final_latent',
  ]) {
    t.true(name in h5.datasets, name);
  }
  t.deepEqual(h5.datasets.loss_history.shape, [20]);
  t.is(h5.attrs.seed, 1);
  t.is(typeof h5.attrs.scale, 'number');
  t.regex(String(h5.attrs.config), /"variant":"pixel"/);
  t.regex(String(h5.attrs.versions), /tfjs/);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  t.is(run.seed, 1);
  t.is(run.iterations, 20);
  t.is(run.optimizer.variant, 'pixel');
  t.true(typeof run.final_loss === 'number' && run.final_loss < run.initial_loss);
  t.true(run.timings_ms.totalMs > 0);
  t.truthy(run.versions['aperture-depth']);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  for (const k of ['abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'delta1', 'delta2', 'delta3'])
    t.is(typeof metrics[k], 'number', k);
  t.log(`pixel variant, 20 iterations: abs_rel ${metrics.abs_rel.toFixed(4)}`);
  t.true(existsSync(join(out, 'checkpoint.json')));
});

test.serial(
  'without --model and without the default model: falls back to the pixel prior with a message',
  async (t) => {
    const lines: string[] = [];
    // Hide the embedded model: the default folder is looked up through this variable first.
    process.env.APERTURE_DEPTH_DEFAULT_MODEL = join(tmp, 'no-model-here');
    const r = await estimate({
      pair: pair32,
      outDir: join(tmp, 'out-fallback'),
      variant: 'full',
      iterations: 2,
      log: (l) => lines.push(l),
    }).finally(() => delete process.env.APERTURE_DEPTH_DEFAULT_MODEL);
    t.is(r.variant, 'pixel');
    t.regex(r.prior.fallback!, /default model \(models\/aperture-depth-tiny\) is not installed.*--model/);
    t.true(lines.some((l) => l.includes('--model')));
  },
);

test.serial(
  'full variant with sd2-tiny: same seed, identical depth.npy; --config maps onto the optimizer',
  async (t) => {
    const cfg = join(tmp, 'estimate.yaml');
    writeFileSync(
      cfg,
      'optimizer:\n  iterations: 3\n  lr:\n    latent: 0.01\n  loss:\n    kind: charbonnier\nprior:\n  steps: 1\n  processing_resolution: 0\n',
    );
    const args = (out: string) => [
      'estimate',
      '--pair',
      pair32,
      '--out',
      out,
      '--model',
      SD2_TINY,
      '--config',
      cfg,
      '--seed',
      '5',
    ];
    await quiet(args(join(tmp, 'full-a')));
    await quiet(args(join(tmp, 'full-b')));
    const a = readFileSync(join(tmp, 'full-a', 'depth.npy'));
    const b = readFileSync(join(tmp, 'full-b', 'depth.npy'));
    t.true(a.equals(b));
    const run = JSON.parse(readFileSync(join(tmp, 'full-a', 'run.json'), 'utf8'));
    t.is(run.variant, 'full');
    t.is(run.prior.name, 'marigold');
    t.is(run.iterations, 3);
    t.is(run.optimizer.lr.latent, 0.01);
    t.is(run.optimizer.loss, 'charbonnier');
    t.deepEqual(run.prior.latent_shape, [1, 4, 3, 4]);
    const h5 = await readHdf5(join(tmp, 'full-a', 'result.h5'));
    t.deepEqual(h5.datasets.final_latent.shape, [1, 4, 3, 4]);
    // an unknown key in the config names the file and the key
    writeFileSync(cfg, 'optimizer:\n  lr:\n    latnet: 0.01\n');
    const err = await t.throwsAsync(quiet(args(join(tmp, 'full-c'))), { instanceOf: ApertureDepthError });
    t.regex(err!.message, /estimate\.yaml: optimizer\.lr\.latnet: unknown key/);
  },
);

test.serial('--resume after a kill ends with the same depth.npy as an uninterrupted run', async (t) => {
  const base = { pair: pair32, variant: 'pixel' as const, iterations: 10, seed: 2, checkpointEvery: 5 };
  await estimate({ ...base, outDir: join(tmp, 'whole') });
  const killed = join(tmp, 'killed');
  await t.throwsAsync(
    estimate({
      ...base,
      outDir: killed,
      hooks: [
        {
          every: 5,
          fn: (i) => {
            if (i.iteration === 5) throw new Error('killed');
          },
        },
      ],
    }),
    { message: 'killed' },
  );
  t.false(existsSync(join(killed, 'depth.npy')));
  t.is(readCheckpoint(join(killed, 'checkpoint.json'))!.iteration, 5);
  await quiet([
    'estimate',
    '--pair',
    pair32,
    '--out',
    killed,
    '--variant',
    'pixel',
    '--iterations',
    '10',
    '--seed',
    '2',
    '--resume',
  ]);
  const run = JSON.parse(readFileSync(join(killed, 'run.json'), 'utf8'));
  t.is(run.resumed_from, 5);
  t.true(readFileSync(join(killed, 'depth.npy')).equals(readFileSync(join(tmp, 'whole', 'depth.npy'))));
});

test.serial('bad arguments are errors naming the argument', async (t) => {
  const err = await t.throwsAsync(
    quiet(['estimate', '--pair', join(tmp, 'none.json'), '--out', join(tmp, 'x')]),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err!.message, /none\.json: pair description/);
  const err2 = await t.throwsAsync(
    quiet(['estimate', '--pair', pair32, '--out', join(tmp, 'y'), '--iterations', '-3']),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.regex(err2!.message, /--iterations/);
});

test.serial(
  'radiometry: exposure times give the exposure factor, otherwise the energy gain is fitted',
  async (t) => {
    const img = readPairImages(loadPairSpec(pair32));
    const half = tf.mul(img.blurred, 0.5) as tf.Tensor3D;
    t.true(Math.abs(fitEnergyGain(img.aif, half) / 2 - 1) < 0.02);
    t.true(Math.abs(fitEnergyGain(img.aif, img.blurred) - 1) < 0.02);
    tf.dispose([img.aif, img.blurred, img.depthGt!, half]);
    const timed = writeArtlPair(join(tmp, 'timed'), 32, {
      exposure_time_aif_s: 0.25,
      exposure_time_blurred_s: 1 / 30,
    });
    const r = await estimate({
      pair: timed,
      outDir: join(tmp, 'out-timed'),
      variant: 'pixel',
      iterations: 1,
    });
    // (t_aif / t_b) (N_b / N_aif)^2 = 7.5 * 64 / 484
    t.true(Math.abs((r.record.radiometry as { gain: number }).gain - (7.5 * 64) / 484) < 1e-12);
    t.is((r.record.radiometry as { gain_source: string }).gain_source, 'exposure times');
  },
);
