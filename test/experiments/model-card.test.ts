import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../helpers/temp-dir.ts';
import { summarize, type EvalReport, type SceneResult } from '../../experiments/training/eval-prior.ts';
import { planeGaps, readTrainingSummary, writeModelCard, type TrainingSummary } from '../../experiments/training/model-card.ts';

/** The model card's evaluation section: per-set means, the paired difference with its error, the VAE ceiling. */
const MODEL = fileURLToPath(new URL('../../models/aperture-depth-tiny', import.meta.url));

const scene = (name: string, prior: number, plane: number, ceiling?: number): SceneResult => ({
  name,
  width: 8,
  height: 6,
  prior: { abs_rel: prior, delta1: 0.9, count: 48 },
  plane: { abs_rel: plane, delta1: 0.8, count: 48 },
  ...(ceiling === undefined ? {} : { ceiling: { abs_rel: ceiling, delta1: 0.99, count: 48 } }),
});

const training: TrainingSummary = {
  seed: 0,
  preset: 'test',
  scenes: 10,
  size: 64,
  naturalTextures: false,
  workers: 1,
  emaDecay: 0.999,
  vae: { steps: 2, batch: 1, crop: 32, lr: 1e-3, klWeight: 1e-6, depthWeight: 1 },
  unet: { steps: 2, batch: 1, lr: 1e-3, p999: 0.75, poolWeight: 1 },
  scalingFactor: 0.4,
  parameters: { vae: 1, unet: 2, textEncoder: 3 },
  seconds: { data: 1, vae: 1, encode: 1, unet: 1 },
  losses: { vae: [{ step: 1, loss: 1 }, { step: 2, loss: 0.5 }], unet: [{ step: 1, loss: 1 }, { step: 2, loss: 0.5 }] },
};

test('the evaluation section carries the paired difference with its standard error, and the ceiling when scored', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'card-'));
  try {
    for (const part of ['unet', 'vae']) cpSync(join(MODEL, part, 'config.json'), join(dir, part, 'config.json'));
    const report: EvalReport = {
      model: dir,
      resolution: 96,
      margin: 0,
      split: 'test',
      steps: 1,
      noiseSeed: 0,
      ensemble: 1,
      procedural: summarize([scene('p1', 0.1, 0.2, 0.03), scene('p2', 0.3, 0.2, 0.05)]),
      middlebury: summarize([scene('m1', 0.1, 0.15), scene('m2', 0.12, 0.15)]),
      seconds: 1,
    };
    writeModelCard(dir, training, report);
    const card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    // procedural: differences -0.1 and +0.1 -> mean 0, standard error 0.1; ceiling mean 0.04
    t.regex(card, /abs_rel 0\.0000 ± 0\.1000, d1 \+0\.1000 ± 0\.0000\. The VAE's round trip of the ground truth[^:]*: 0\.0400 \/ d1 0\.9900/);
    // Middlebury: -0.05 and -0.03 -> mean -0.04, standard error 0.01; no ceiling scored
    t.regex(card, /abs_rel -0\.0400 ± 0\.0100, d1 \+0\.1000 ± 0\.0000\.\n/);
    t.is(card.match(/VAE's round trip/g)?.length, 1);
    // Stage A's loss names the chroma term only when it was used.
    t.regex(card, /loss L1\(rgb\) \+ 1 L1\(depth\) \+ 0\.000001 KL, on a posterior sample/);
    writeModelCard(dir, { ...training, vae: { ...training.vae, chromaWeight: 2 } }, report);
    const withChroma = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    t.regex(withChroma, /\+ 0\.000001 KL \+ 2 L1\(chroma of the RGB error pooled to the latent cells\), on a posterior sample/);
    // procedural: mean 0.2 against the plane's 0.2 (a tie loses); Middlebury wins both.
    t.regex(card, /## Limits\nAs a plain monocular prior it does not beat the oracle plane fitted to the ground truth on: held-out procedural abs_rel 0\.2000 vs 0\.2000\.\nTrained for/);
    t.is(planeGaps({ ...report, procedural: summarize([scene('p1', 0.1, 0.2)]) }), '');
    t.regex(card, /- Data rendering 0m01s, latent encoding 0m01s; total 0m04s on the machine/);
    writeModelCard(dir, { ...training, seconds: { ...training.seconds, data: 0.3, encode: 0.1 } }, report);
    t.regex(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8'), /reused from the work folder's cache \(not timed in this run\); total 0m02s of timed stages/);
    // Stage E's gradient-matching term likewise.
    const e2e = { steps: 3, batch: 2, lr: 1e-4, width: 96, height: 72, scenes: 10 };
    const losses = { ...training.losses, e2e: [{ step: 3, loss: 0.2 }] };
    writeModelCard(dir, { ...training, e2e, losses }, report);
    t.regex(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8'), /as the prior is scored and used\), on\n  96x72 scenes/);
    writeModelCard(dir, { ...training, e2e: { ...e2e, gradWeight: 1 }, losses }, report);
    t.regex(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8'), /used\) \+ 1 x the mean absolute x \/ y differences of the aligned error \(gradient matching\), on\n/);
    // --e2e-from: where stage E started, the source's own stage E, and its time in the total.
    t.regex(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8'), /the UNet from stage B's exported weights, trained/);
    const e2eFrom = { model: '/x/source-model', unetSha256: 'ab'.repeat(32), e2e: { ...e2e, steps: 200 }, seconds: 60, losses: [] };
    writeModelCard(dir, { ...training, e2e, e2eFrom, losses }, report);
    const fromCard = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    t.regex(fromCard, /the UNet from the exported weights of `source-model` \(`train-prior --e2e-from`, UNet sha256 abababababab; that folder's own end-to-end stages: E: 200 steps at 96x72, lr 0\.0001; 1m00s\), trained/);
    t.regex(fromCard, /total 1m04s on the machine/);
    t.regex(fromCard, /## Training \(seed 0; two runs: `npm run train-prior -- --seed 0 --out <src>` \(with `--e2e2-steps 0`\), then `npm run train-prior -- --e2e-from <src> --e2e-steps 3 --e2e-width 96 --e2e-height 72 --out <dir>`\)/);
    t.regex(fromCard, /\)\nOne run gives the same UNet bit for bit: `npm run train-prior -- --seed 0 --e2e2-steps 3 --e2e2-width 96 --e2e2-height 72 --e2e2-lr 0\.0001 --e2e2-batch 2 --e2e2-scenes 10 --e2e2-grad-weight 0 --out <dir>`\n/);
    // Stage E2: its line, its data, its time in the total, its loss table; the exported UNet is its.
    const e2e2 = { steps: 4, batch: 8, lr: 1e-4, width: 128, height: 96, scenes: 30, gradWeight: 1 };
    const withE2 = { ...training, e2e: { ...e2e, gradWeight: 1 }, e2e2, seconds: { ...training.seconds, e2e: 5, e2e2Data: 20, e2e2: 100 }, losses: { ...losses, e2e2: [{ step: 4, loss: 0.125 }] } };
    writeModelCard(dir, withE2, report);
    const e2Card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    t.regex(e2Card, /## Training \(seed 0; `npm run train-prior -- --seed 0 --out <dir>`\)/);
    t.regex(e2Card, /- Stage E2, a second stage E at 128x96 \(latent 32x24\): from stage E's weights as exported \(float16, the VAE too\), the same loss\.\n  4 steps, batch 8, fresh Adam lr 0\.0001 \(cosine, short warm-up\) and EMA\. 1m40s; its data 0m20s\./);
    t.regex(e2Card, /; stage E2: seeds 0\.\.29 rendered at 128x96, randomly mirrored\. Split/);
    t.regex(e2Card, /of each stage \(the UNet: stage E2's\)\./);
    t.regex(e2Card, /total 2m09s on the machine/);
    t.regex(e2Card, /UNet, stage E2 \(128x96\):\n\| step/);
    // A source with stage E2 names both of its end-to-end stages.
    writeModelCard(dir, { ...training, e2e, e2eFrom: { ...e2eFrom, e2e2 }, losses }, report);
    const fromE2Card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    t.regex(fromE2Card, /that folder's own end-to-end stages: E: 200 steps at 96x72, lr 0\.0001; E2: 4 steps at 128x96; 1m00s\)/);
    t.false(fromE2Card.includes('One run gives'), 'no one-run equivalent when the source had a stage E2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("readTrainingSummary: the shipped folder's training.json, and errors that name the file and key", (t) => {
  const shipped = readTrainingSummary(MODEL);
  t.true(shipped.unet.steps > 0 && shipped.losses.unet.length > 0);
  const { dir, remove } = makeTempDir('card');
  try {
    t.throws(() => readTrainingSummary(dir), { message: /training\.json.*no training summary/ });
    writeFileSync(join(dir, 'training.json'), JSON.stringify({ ...training, losses: { vae: [] } }));
    t.throws(() => readTrainingSummary(dir), { message: /training\.json.*losses\.unet.*expected a list of loss points/ });
    writeFileSync(join(dir, 'training.json'), JSON.stringify({ ...training, seconds: 3 }));
    t.throws(() => readTrainingSummary(dir), { message: /training\.json.*seconds.*expected an object/ });
    writeFileSync(join(dir, 'training.json'), JSON.stringify(training));
    t.deepEqual(readTrainingSummary(dir), training);
  } finally {
    remove();
  }
});
