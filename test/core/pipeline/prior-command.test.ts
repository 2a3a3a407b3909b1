import test from 'ava';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../helpers/run-cli.ts';
import { ApertureDepthError } from '../../../core/errors.ts';
import { readNpy, writeNpy } from '../../../core/io/npy.ts';
import { writePng } from '../../../core/io/png.ts';
import { defaultModelPath } from '../../../core/pipeline/default-model.ts';
import { priorModelPath, runPriorCommand } from '../../../core/pipeline/prior-command.ts';
import { ensembleDepth } from '../../../diffusion/marigold/ensemble-depth.ts';
import * as tf from '@tensorflow/tfjs';
import { normalTensor } from '../../../core/tensor/normal-tensor.ts';
import { Rng } from '../../../core/tensor/rng.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { fixture, relL2 } from '../../helpers/npy-fixture.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

/** `aperture-depth prior`: `--engine auto|tfjs|onnx` as estimate, `--model` defaulting to the embedded model. */

const SD2_TINY = fileURLToPath(new URL('../../data/diffusers-tiny/sd2-tiny/checkpoint', import.meta.url));
const tmp = makeTempDir('prior-command');
/** The diffusers fixture image, 48 x 64, as a 16-bit PNG. */
let image: string;
/** A small 24 x 16 gradient. */
let small: string;

test.before(async () => {
  await setupEngine();
  process.env.APERTURE_DEPTH_ONNX_CACHE = join(tmp.dir, 'onnx-cache');
  const rgb = fixture('inputs/image_rgb01.npy'); // [1, 3, H, W]
  const [, , H, W] = rgb.shape as [number, number, number, number];
  const data = new Uint16Array(H * W * 3);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < H * W; i++) data[i * 3 + c] = Math.round(rgb.data[c * H * W + i]! * 65535);
  image = join(tmp.dir, 'image.png');
  writePng(image, { width: W, height: H, channels: 3, bitDepth: 16, data });
  const sw = 24;
  const sh = 16;
  const px = new Uint8Array(sw * sh * 3);
  for (let y = 0; y < sh; y++)
    for (let x = 0; x < sw; x++)
      px.set([(x * 255) / sw, (y * 255) / sh, ((x + y) * 255) / (sw + sh)], (y * sw + x) * 3);
  small = join(tmp.dir, 'small.png');
  writePng(small, { width: sw, height: sh, channels: 3, bitDepth: 8, data: px });
});
test.after.always(() => tmp.remove());

const quiet = (args: string[]): Promise<string> => runCli(args);

const depthOf = (path: string) => readNpy(path).data as Float32Array;

/** `prior` on sd2-tiny at the input size (64x48), the fixture image to `out`, then `extra`. */
const priorAtInputSize = (out: string, extra: string[]): Promise<string> =>
  quiet([
    'prior',
    '--model',
    SD2_TINY,
    '--image',
    image,
    '--out',
    out,
    '--processing-resolution',
    '0',
    ...extra,
  ]);

test.serial(
  'prior --engine onnx gives the depth of --engine tfjs on sd2-tiny, from --seed and from --latents',
  async (t) => {
    const cli = (engine: string, out: string, extra: string[] = []) =>
      priorAtInputSize(out, ['--steps', '2', '--engine', engine, ...extra]);
    // seeded latent
    const seeded = (engine: string) => join(tmp.dir, `seed3-${engine}.npy`);
    const logTfjs = await cli('tfjs', seeded('tfjs'), ['--seed', '3']);
    const logOnnx = await cli('onnx', seeded('onnx'), ['--seed', '3']);
    t.regex(logTfjs, /prior engine: tfjs \(requested\)/);
    t.regex(
      logTfjs,
      /wrote .*seed3-tfjs\.npy: depth \[64, 48\] \(engine tfjs, ddim, timesteps \[\d+, \d+\].* from seed 3\)/,
    );
    t.regex(logOnnx, /prior engine: onnx \(requested\)/);
    t.regex(logOnnx, /wrote .*seed3-onnx\.npy: depth \[64, 48\] \(engine onnx, ddim, .* from seed 3\)/);
    t.deepEqual(readNpy(seeded('onnx')).shape, [64, 48]);
    const a = depthOf(seeded('tfjs'));
    const b = depthOf(seeded('onnx'));
    const seededErr = relL2(b, a);
    t.log(`seed 3: onnx vs tfjs relative L2 ${seededErr.toExponential(2)}`);
    t.true(seededErr < 1e-4);

    // --latents: the seed-3 latent written out is used exactly (the step noise seed stays 0; DDIM has none)
    const latentShape = logTfjs
      .match(/latent \[([\d, ]+)\]/)![1]!
      .split(', ')
      .map(Number);
    t.is(latentShape.length, 4);
    const latentFile = join(tmp.dir, 'latent.npy');
    const z = normalTensor(new Rng(3), latentShape);
    writeNpy(latentFile, { shape: latentShape, dtype: 'float32', data: (await z.data()) as Float32Array });
    z.dispose();
    const fromFile: Record<string, Float32Array> = {};
    for (const engine of ['tfjs', 'onnx'] as const) {
      const r = await runPriorCommand({
        model: SD2_TINY,
        image,
        out: join(tmp.dir, `latents-${engine}.npy`),
        latents: latentFile,
        steps: 2,
        processingResolution: 0,
        engine,
      });
      t.is(r.engine.engine, engine);
      t.is(r.latentSource, latentFile);
      t.is(r.model, SD2_TINY);
      t.deepEqual(r.latentShape, latentShape);
      fromFile[engine] = r.depth;
    }
    t.true(relL2(fromFile.tfjs!, a) < 1e-6, 'tfjs: --latents is the latent of the seed');
    t.true(relL2(fromFile.onnx!, b) < 1e-6, 'onnx: --latents is the latent of the seed');
    t.true(relL2(fromFile.onnx!, fromFile.tfjs!) < 1e-4);
    // a latent of the wrong shape (another image size) is refused by name
    await t.throwsAsync(
      runPriorCommand({
        model: SD2_TINY,
        image: small,
        out: join(tmp.dir, 'x.npy'),
        latents: latentFile,
        engine: 'tfjs',
        processingResolution: 0,
      }),
      { instanceOf: ApertureDepthError, message: /--latents.*expected \[/ },
    );
  },
);

test.serial('prior without --model runs the embedded default model', async (t) => {
  const modelDir = defaultModelPath();
  if (!modelDir) {
    t.fail('the default model (models/aperture-depth-tiny) is not installed');
    return;
  }
  const out = join(tmp.dir, 'default.npy');
  const log = await quiet(['prior', '--image', small, '--out', out, '--engine', 'tfjs']);
  t.regex(log, /note: no --model: the default model \(models\/aperture-depth-tiny\)/);
  t.regex(log, /wrote .*default\.npy: depth \[16, 24\] \(engine tfjs, /);
  const depth = readNpy(out);
  t.deepEqual(depth.shape, [16, 24]);
  t.is(depth.dtype, 'float32');
  t.true((depth.data as Float32Array).every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
  // the same through the function, `default` naming the embedded model as in estimate
  const r = await runPriorCommand({ model: 'default', image: small, out, engine: 'tfjs' });
  t.is(r.model, modelDir);
  t.deepEqual(r.shape, [16, 24]);
  t.true(r.notes.some((n) => n.includes('default model')));
  t.true(relL2(r.depth, depth.data as Float32Array) < 1e-6);
});

test.serial(
  'prior --ensemble 3: the aligned median of the seeds 5, 6, 7 predictions, its spread beside it',
  async (t) => {
    const before = tf.memory().numTensors;
    const singles: Float32Array[] = [];
    for (const seed of [5, 6, 7]) {
      const r = await runPriorCommand({
        image,
        out: join(tmp.dir, `single-${seed}.npy`),
        engine: 'tfjs',
        seed,
      });
      singles.push(r.depth);
    }
    t.true(relL2(singles[0]!, singles[1]!) > 1e-4, 'the seeds give different predictions');
    const out = join(tmp.dir, 'ensemble.npy');
    const spread = join(tmp.dir, 'spread.npy');
    const log = await quiet([
      'prior',
      '--image',
      image,
      '--out',
      out,
      '--engine',
      'tfjs',
      '--seed',
      '5',
      '--ensemble',
      '3',
      '--uncertainty',
      spread,
    ]);
    t.regex(log, /ensemble member 3\/3 \(seed 7\)/);
    t.regex(log, /from seeds 5\.\.7, ensemble of 3\)/);
    const want = ensembleDepth(singles, { reduction: 'median', uncertainty: true });
    const got = readNpy(out);
    t.deepEqual(got.shape, [64, 48]);
    t.true(relL2(got.data as Float32Array, want.depth) < 1e-6);
    t.true(relL2(readNpy(spread).data as Float32Array, want.uncertainty!) < 1e-6);
    t.is(Math.min(...(got.data as Float32Array)), 0);
    t.is(Math.max(...(got.data as Float32Array)), 1);
    const mean = await runPriorCommand({
      image,
      out,
      engine: 'tfjs',
      seed: 5,
      ensemble: 3,
      reduction: 'mean',
    });
    t.true(relL2(mean.depth, ensembleDepth(singles, { reduction: 'mean' }).depth) < 1e-6);
    t.is(tf.memory().numTensors, before);
  },
);

test.serial('prior --ensemble: bad combinations name the flag', async (t) => {
  const base = { model: SD2_TINY, image: small, out: join(tmp.dir, 'bad.npy'), engine: 'tfjs' as const };
  await t.throwsAsync(runPriorCommand({ ...base, ensemble: 0 }), {
    instanceOf: ApertureDepthError,
    message: /--ensemble.*integer >= 1, got 0/,
  });
  await t.throwsAsync(runPriorCommand({ ...base, ensemble: 2, latents: 'z.npy' }), {
    instanceOf: ApertureDepthError,
    message: /--ensemble.*drop --latents or --ensemble/,
  });
  await t.throwsAsync(runPriorCommand({ ...base, uncertaintyOut: join(tmp.dir, 'u.npy') }), {
    instanceOf: ApertureDepthError,
    message: /--uncertainty.*needs an ensemble/,
  });
});

test('without --model and without the default model: an error naming --model', (t) => {
  t.is(priorModelPath(SD2_TINY), SD2_TINY);
  const err = t.throws(
    () => priorModelPath(undefined, { APERTURE_DEPTH_DEFAULT_MODEL: join(tmp.dir, 'no-model-here') }),
    {
      instanceOf: ApertureDepthError,
    },
  );
  t.is(err!.key, '--model');
  t.regex(err!.message, /default model \(models\/aperture-depth-tiny\) is not installed/);
});

test.serial('prior --engine: an unknown value is refused naming --engine and the choices', async (t) => {
  const err = await t.throwsAsync(
    quiet([
      'prior',
      '--model',
      SD2_TINY,
      '--image',
      small,
      '--out',
      join(tmp.dir, 'x.npy'),
      '--engine',
      'cuda',
    ]),
    { instanceOf: ApertureDepthError },
  );
  t.is(err!.key, '--engine');
  t.regex(err!.message, /--engine: expected one of auto, tfjs, onnx, got "cuda"/);
  // the helper estimate uses, and the same default (auto)
  await t.throwsAsync(
    runPriorCommand({ model: SD2_TINY, image: small, out: join(tmp.dir, 'x.npy'), engine: 'gpu' as never }),
    {
      instanceOf: ApertureDepthError,
      message: /--engine.*auto, tfjs, onnx/,
    },
  );
});

test.serial('prior: the default engine is auto (onnx here, where onnxruntime-node loads)', async (t) => {
  const log = await quiet([
    'prior',
    '--model',
    SD2_TINY,
    '--image',
    small,
    '--out',
    join(tmp.dir, 'auto.npy'),
    '--steps',
    '1',
  ]);
  t.regex(log, /prior engine: onnx \(auto: onnxruntime-node loads\)/);
  t.regex(log, /\(engine onnx, /);
  t.deepEqual(readNpy(join(tmp.dir, 'auto.npy')).shape, [16, 24]);
});

test.serial(
  'prior --margin: the reflected margin widens the latent, keeps the output size; a bad value names --margin',
  async (t) => {
    const cli = (out: string, margin: string) =>
      priorAtInputSize(out, ['--engine', 'tfjs', '--margin', margin]);
    const plainOut = join(tmp.dir, 'margin0.npy');
    const framedOut = join(tmp.dir, 'margin2.npy');
    t.regex(await cli(plainOut, '0'), /latent \[1, 4, 8, 6\]/);
    // 64x48 + 2 x 2 = 68x52, end-padded to 72x56 (sd2-tiny's VAE downsamples 8x)
    t.regex(await cli(framedOut, '2'), /depth \[64, 48\].*latent \[1, 4, 9, 7\]/);
    const diff = relL2(depthOf(framedOut), depthOf(plainOut));
    t.true(diff > 1e-4, `the margin changes the prediction (${diff})`);
    const err = await t.throwsAsync(cli(join(tmp.dir, 'x.npy'), '-1'), {
      instanceOf: ApertureDepthError,
    });
    t.is(err!.key, '--margin');
    t.regex(err!.message, /expected an integer >= 0, got -1/);
    // too wide for the image: found by the geometry, still named by the flag
    const wide = await t.throwsAsync(cli(join(tmp.dir, 'y.npy'), '500'), { instanceOf: ApertureDepthError });
    t.is(wide!.key, '--margin');
    t.regex(wide!.message, /^--margin: expected an integer >= 0 and below the processed image's short side \(48 px\), got 500/);
  },
);
