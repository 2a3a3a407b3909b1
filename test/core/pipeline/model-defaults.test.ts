import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { estimate } from '../../../core/pipeline/estimate.ts';
import {
  MODEL_DEFAULTS_FILE,
  readModelDefaults,
  withModelDefaults,
} from '../../../core/pipeline/model-defaults.ts';
import { setupEngine } from '../../helpers/engine.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';
import { writeArtlPair } from './helpers/write-pair.ts';

const SD2_TINY = fileURLToPath(new URL('../../data/diffusers-tiny/sd2-tiny/checkpoint', import.meta.url));
const { dir: tmp, remove } = makeTempDir('model-defaults');
let pair32: string;

test.before(async () => {
  await setupEngine();
  pair32 = writeArtlPair(join(tmp, 'artl32'), 32);
});
test.after.always(remove);

function modelWith(name: string, defaults: string | undefined): string {
  const dir = join(tmp, name);
  cpSync(SD2_TINY, dir, { recursive: true });
  if (defaults !== undefined) writeFileSync(join(dir, MODEL_DEFAULTS_FILE), defaults);
  return dir;
}

test('readModelDefaults: the latent rate, absent file, and errors naming the file and key', (t) => {
  const dir = mkdtempSync(join(tmp, 'd-'));
  t.is(readModelDefaults(dir), undefined);
  const file = join(dir, MODEL_DEFAULTS_FILE);
  writeFileSync(file, '{"optimizer": {"lr": {"latent": 0.004}}, "about": "why"}');
  t.deepEqual(readModelDefaults(dir), { file, lrLatent: 0.004 });
  writeFileSync(file, '{"about": "nothing set"}');
  t.deepEqual(readModelDefaults(dir), { file });
  const bad: [string, RegExp][] = [
    ['[1]', /defocus_defaults\.json: expected a JSON object/],
    ['{"optimiser": {}}', /defocus_defaults\.json: optimiser: unknown key \(expected optimizer or about\)/],
    ['{"optimizer": {"lr": {"latnet": 1}}}', /optimizer\.lr\.latnet: unknown key \(expected latent\)/],
    ['{"optimizer": {"lr": {"latent": -1}}}', /optimizer\.lr\.latent: expected a positive number, got -1/],
    [
      '{"optimizer": {"lr": {"latent": "5e-3"}}}',
      /optimizer\.lr\.latent: expected a positive number, got "5e-3"/,
    ],
    ['{"optimizer": {"lr": 3}}', /optimizer\.lr: expected an object/],
    ['{"optimizer": ', /defocus_defaults\.json: invalid JSON/],
  ];
  for (const [text, message] of bad) {
    writeFileSync(file, text);
    t.throws(() => readModelDefaults(dir), { message }, text);
  }
});

test('withModelDefaults: the config wins, then the model, then the library', (t) => {
  const defaults = { file: '/m/defocus_defaults.json', lrLatent: 0.005 };
  const set = withModelDefaults({ lr: { latent: 0.002 } }, defaults);
  t.deepEqual(set.input.lr, { latent: 0.002 });
  t.deepEqual(set.source, { lr_latent: 'config', file: null });
  const fromModel = withModelDefaults({ iterations: 3, lr: { scaleShift: 0.1 } }, defaults);
  t.deepEqual(fromModel.input, { iterations: 3, lr: { scaleShift: 0.1, latent: 0.005 } });
  t.deepEqual(fromModel.source, { lr_latent: 'model', file: '/m/defocus_defaults.json' });
  const none = withModelDefaults({ iterations: 3 }, undefined);
  t.deepEqual(none.input, { iterations: 3 });
  t.is(none.source.lr_latent, 'library');
  t.is(withModelDefaults({}, { file: 'x' }).source.lr_latent, 'library');
});

test.serial(
  "estimate: a model folder's latent rate applies unless the caller sets one; run.json says which",
  async (t) => {
    const before = tf.memory().numTensors;
    const withFile = modelWith('tiny-with-defaults', '{"optimizer": {"lr": {"latent": 0.02}}}');
    const base = { pair: pair32, variant: 'full' as const, iterations: 2, seed: 3 };
    await estimate({ ...base, outDir: join(tmp, 'a'), model: withFile });
    const runA = JSON.parse(readFileSync(join(tmp, 'a', 'run.json'), 'utf8'));
    t.is(runA.optimizer.lr.latent, 0.02);
    t.deepEqual(runA.optimizer_source, { lr_latent: 'model', file: join(withFile, MODEL_DEFAULTS_FILE) });
    await estimate({
      ...base,
      outDir: join(tmp, 'b'),
      model: withFile,
      optimizer: { lr: { latent: 0.001 } },
    });
    const runB = JSON.parse(readFileSync(join(tmp, 'b', 'run.json'), 'utf8'));
    t.is(runB.optimizer.lr.latent, 0.001);
    t.is(runB.optimizer_source.lr_latent, 'config');
    await estimate({ ...base, outDir: join(tmp, 'c'), model: SD2_TINY });
    const runC = JSON.parse(readFileSync(join(tmp, 'c', 'run.json'), 'utf8'));
    t.is(runC.optimizer.lr.latent, 1.5e-3); // the paper's rate
    t.is(runC.optimizer_source.lr_latent, 'library');
    // The rate is the one the optimizer used: the same start, different latent steps, different depth.
    const depth = (dir: string) => readFileSync(join(tmp, dir, 'depth.npy'));
    t.false(depth('a').equals(depth('c')));
    t.false(depth('a').equals(depth('b')));
    // ... and the model's rate given explicitly reproduces the model-default run exactly.
    await estimate({ ...base, outDir: join(tmp, 'd'), model: SD2_TINY, optimizer: { lr: { latent: 0.02 } } });
    t.true(depth('a').equals(depth('d')));
    t.is(tf.memory().numTensors, before);
  },
);

test.serial(
  'estimate: a bad defocus_defaults.json fails before any work, naming the file and key, no leaks',
  async (t) => {
    const before = tf.memory().numTensors;
    const bad = modelWith('tiny-bad-defaults', '{"optimizer": {"lr": {"latent": 0}}}');
    await t.throwsAsync(
      estimate({ pair: pair32, variant: 'full', iterations: 2, outDir: join(tmp, 'bad'), model: bad }),
      {
        message:
          /tiny-bad-defaults\/defocus_defaults\.json: optimizer\.lr\.latent: expected a positive number, got 0/,
      },
    );
    t.false(existsSync(join(tmp, 'bad', 'run.json')));
    // The pixel variant does not use the prior, so its file is not read.
    await t.notThrowsAsync(
      estimate({ pair: pair32, variant: 'pixel', iterations: 1, outDir: join(tmp, 'bad-pixel'), model: bad }),
    );
    t.is(tf.memory().numTensors, before);
  },
);
