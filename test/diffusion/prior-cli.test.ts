import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../core/cli/main.ts';
import { ApertureDepthError } from '../../core/errors.ts';
import { encodeNpy, readNpy } from '../../core/io/npy.ts';
import { inspectModel } from '../../core/pipeline/inspect-model.ts';
import { readModelDefaults } from '../../core/pipeline/model-defaults.ts';
import { setupEngine } from '../helpers/engine.ts';
import { FIXTURES, fixture, relL2 } from '../helpers/npy-fixture.ts';

const CKPT = join(FIXTURES, 'sd2-tiny/checkpoint');
const IMAGE = join(FIXTURES, 'inputs/image_rgb_u8.png');
let dir: string;

test.before(async () => {
  await setupEngine();
  dir = mkdtempSync(join(tmpdir(), 'ad-prior-cli-'));
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in-process and returns what it wrote to stdout. */
async function cli(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await main(args);
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

test.serial('prior --latents reproduces diffusers ddim_1step from the PNG', async (t) => {
  const out = join(dir, 'depth.npy');
  const stdout = await cli([
    'prior',
    '--model',
    CKPT,
    '--image',
    IMAGE,
    '--latents',
    join(FIXTURES, 'sd2-tiny/arrays/pipeline/ddim_1step/latents_in.npy'),
    '--steps',
    '1',
    '--out',
    out,
  ]);
  t.regex(stdout, /depth \[64, 48\] \(engine (onnx|tfjs), ddim, timesteps \[999\], processing resolution 64/);
  const depth = readNpy(out);
  t.deepEqual(depth.shape, [64, 48]);
  t.is(depth.dtype, 'float32');
  const err = relL2(
    depth.data as Float32Array,
    fixture('sd2-tiny/arrays/pipeline/ddim_1step/prediction.npy').data,
  );
  t.log(`CLI prediction vs diffusers: relative L2 ${err.toExponential(2)}`);
  t.true(err < 1e-4);
});

test.serial('prior --seed is reproducible; LCM on a DDIM checkpoint finds scheduler_lcm/', async (t) => {
  const a = join(dir, 'a.npy');
  const b = join(dir, 'b.npy');
  for (const out of [a, b]) {
    await cli([
      'prior',
      '--model',
      CKPT,
      '--image',
      IMAGE,
      '--out',
      out,
      '--seed',
      '5',
      '--scheduler',
      'lcm',
      '--steps',
      '2',
    ]);
  }
  const da = readNpy(a).data as Float32Array;
  t.deepEqual(Array.from(da), Array.from(readNpy(b).data as Float32Array));
  t.true(da.every((v) => v >= 0 && v <= 1));
});

test.serial('prior --latents with the wrong shape names the file and the expected shape', async (t) => {
  const bad = join(dir, 'bad.npy');
  writeFileSync(bad, encodeNpy({ shape: [1, 4, 6, 8], dtype: 'float32', data: new Float32Array(192) }));
  const err = await t.throwsAsync(
    () => cli(['prior', '--model', CKPT, '--image', IMAGE, '--out', join(dir, 'x.npy'), '--latents', bad]),
    { instanceOf: ApertureDepthError },
  );
  t.regex(
    err!.message,
    new RegExp(`${bad}: --latents: latents have shape \\[1, 4, 6, 8\\], expected \\[1, 4, 8, 6\\]`),
  );
  await t.throwsAsync(
    () => cli(['prior', '--model', 'marigold-depth-v7', '--image', IMAGE, '--out', join(dir, 'y.npy')]),
    {
      message: /unknown model name/,
    },
  );
});

test.serial('inspect lists components, parameter counts, dtypes and scheduler values', async (t) => {
  const report = inspectModel(CKPT);
  const unet = report.components.find((c) => c.name === 'unet')!;
  t.is(unet.weights!.tensors, 686);
  t.deepEqual(Object.keys(unet.weights!.dtypes), ['F32']);
  t.deepEqual(Object.keys(report.components.find((c) => c.name === 'vae')!.weights!.dtypes), ['F16']);
  t.deepEqual(unet.config.num_attention_heads, [2, 4, 4, 4]);
  t.is(report.schedulers.length, 2);
  t.deepEqual(report.schedulers[0].timesteps['4'], [999, 749, 499, 249]);
  t.deepEqual(report.schedulers[1].timesteps['4'], [999, 759, 499, 259]);
  t.deepEqual(report.emptyPrompt.ids, [998, 999]);
  const text = await cli(['inspect', '--model', CKPT]);
  t.regex(text, /unet: UNet2DConditionModel \(diffusers\)/);
  t.regex(text, /parameters in 686 tensors/);
  t.regex(text, /timestep_scaling/);
  t.regex(
    text,
    /defocus optimization: no defocus_defaults\.json, latent learning rate from the config or the library \(1\.5e-3\)/,
  );
  t.is(report.defocusDefaults, undefined);
  // The embedded prior carries its own rate.
  const embedded = fileURLToPath(new URL('../../models/aperture-depth-tiny', import.meta.url));
  const own = inspectModel(embedded).defocusDefaults!;
  t.is(own.lrLatent, readModelDefaults(embedded)!.lrLatent);
  t.regex(
    await cli(['inspect', '--model', embedded]),
    new RegExp(`defocus optimization: latent learning rate ${own.lrLatent} \\(defocus_defaults\\.json`),
  );
  const json = JSON.parse(await cli(['inspect', '--model', CKPT, '--json']));
  t.is(json.totalParameters, report.totalParameters);
});
