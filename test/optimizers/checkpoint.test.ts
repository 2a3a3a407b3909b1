import test from 'ava';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint, writeCheckpoint, type OptimizerState } from '../../optimizers/checkpoint.ts';
import { ApertureDepthError } from '../../core/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ckpt-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const state: OptimizerState = {
  iteration: 7,
  params: {
    latent: { shape: [1, 2], data: new Float32Array([0.1, -Math.PI]) },
    scale_shift: { shape: [2], data: new Float32Array([1e-30, 3]) },
  },
  adam: {
    step: 7,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    groups: [
      {
        name: 'latent',
        lr: 0.01,
        shape: [1, 2],
        m: new Float32Array([1 / 3, 2]),
        v: new Float32Array([5e-9, 7]),
      },
    ],
  },
  rng: [1, 2, 3, 4294967295],
  lossHistory: [0.1 + 0.2, 1e-7],
  stopper: { best: Infinity, since: 0, seen: 0 },
  stoppedEarly: false,
  borderPx: 3,
  edgeRadiusPx: null,
  gridInit: { scale: 0.5, shift: 1.5, loss: 1e-5 },
  fingerprint: { seed: 3, variant: 'full' },
};

test('round trip is exact (float32 bits, loss history, infinities) and leaves no temp file', (t) => {
  const file = join(tmp, 'a.json');
  writeCheckpoint(file, state);
  const back = readCheckpoint(file)!;
  t.deepEqual(back, state);
  t.deepEqual(readdirSync(tmp), ['a.json']);
});

test('missing file is undefined; a corrupt or foreign file is an error naming it', (t) => {
  t.is(readCheckpoint(join(tmp, 'none.json')), undefined);
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, '{"format": "x"');
  t.throws(() => readCheckpoint(bad), {
    instanceOf: ApertureDepthError,
    message: /bad\.json: not a readable checkpoint/,
  });
  writeFileSync(bad, '{"format": "something-else"}');
  t.throws(() => readCheckpoint(bad), {
    instanceOf: ApertureDepthError,
    message: /bad\.json: format: not an optimizer checkpoint/,
  });
});
