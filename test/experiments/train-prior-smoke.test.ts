import test from 'ava';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupEngine } from '../helpers/engine.ts';
import { DEFAULTS, trainPrior, type TrainPriorOptions } from '../../experiments/training/train-prior.ts';
import { loadUNet, loadVae } from '../../diffusion/models/load.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';

const silent = () => undefined;

function microOptions(dir: string, overrides: Partial<TrainPriorOptions> = {}): TrainPriorOptions {
  return {
    ...DEFAULTS,
    out: join(dir, 'model'),
    work: join(dir, 'work'),
    preset: 'micro',
    scenes: 12,
    size: 16,
    naturalTextures: false,
    vae: { ...DEFAULTS.vae, steps: 8, batch: 4, crop: 8, lr: 3e-3 },
    unet: { ...DEFAULTS.unet, steps: 8, batch: 4, lr: 3e-3 },
    ckptEvery: 2,
    logEvery: 2,
    valScenes: 0,
    evaluate: false,
    workers: 1,
    write: silent,
    ...overrides,
  };
}

test.before(async () => {
  await setupEngine();
});

test.serial('micro training: losses fall; exported folder loads back with identical weights', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'train-prior-'));
  try {
    const r = await trainPrior(microOptions(dir, { vae: { ...DEFAULTS.vae, steps: 24, batch: 4, crop: 8, lr: 3e-3 }, unet: { ...DEFAULTS.unet, steps: 24, batch: 4, lr: 3e-3 } }));
    t.true(r.completed);
    const mean = (xs: { loss: number }[]) => xs.reduce((a, x) => a + x.loss, 0) / xs.length;
    t.true(mean(r.vaeLosses.slice(-3)) < mean(r.vaeLosses.slice(0, 3)), `vae ${r.vaeLosses.map((l) => l.loss.toFixed(3))}`);
    t.true(mean(r.unetLosses.slice(-3)) < mean(r.unetLosses.slice(0, 3)), `unet ${r.unetLosses.map((l) => l.loss.toFixed(3))}`);
    t.true(Number.isFinite(r.scalingFactor) && r.scalingFactor > 0);
    for (const f of ['model_index.json', 'unet/config.json', 'vae/config.json', 'text_encoder/model.safetensors', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json']) {
      t.true(existsSync(join(r.out, f)), f);
    }
    // F16 on disk: values come back within half-precision rounding.
    const unet = await loadUNet(join(r.out, 'unet'));
    const vae = await loadVae(join(r.out, 'vae'));
    for (const [model, weights] of [
      [unet, r.weights.unet],
      [vae, r.weights.vae],
    ] as const) {
      for (const p of model.parameters()) {
        const got = tfjsOps.param(p).dataSync() as Float32Array;
        const want = weights.get(p.name)!;
        t.truthy(want, p.name);
        let maxErr = 0;
        for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!)));
        t.true(maxErr < 1e-3, `${p.name}: ${maxErr}`);
      }
    }
    t.is(vae.config.scaling_factor, r.scalingFactor);
    unet.dispose();
    vae.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('an interrupted run resumes to bit-identical weights', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'train-prior-a-'));
  const b = mkdtempSync(join(tmpdir(), 'train-prior-b-'));
  try {
    const full = await trainPrior(microOptions(a));
    t.true(full.completed);
    // Session 1 stops in stage A, session 2 finishes A and stops in B, session 3 finishes.
    const s1 = await trainPrior(microOptions(b, { stopAfter: 4 }));
    t.false(s1.completed);
    const s2 = await trainPrior(microOptions(b, { stopAfter: 4 }));
    t.false(s2.completed);
    t.is(s2.unetLosses.at(-1)?.step, 4);
    const s3 = await trainPrior(microOptions(b));
    t.true(s3.completed);
    for (const net of ['vae', 'unet'] as const) {
      t.is(s3.weights[net].size, full.weights[net].size);
      for (const [name, w] of full.weights[net]) t.deepEqual(s3.weights[net].get(name), w, `${net} ${name}`);
    }
    t.deepEqual(
      s3.unetLosses.map((l) => l.loss),
      full.unetLosses.map((l) => l.loss),
    );
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test.serial('two worker threads: deterministic, and a resume continues bit-identically', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'train-prior-w2a-'));
  const b = mkdtempSync(join(tmpdir(), 'train-prior-w2b-'));
  try {
    const full = await trainPrior(microOptions(a, { workers: 2 }));
    t.true(full.completed);
    t.false((await trainPrior(microOptions(b, { workers: 2, stopAfter: 6 }))).completed);
    const resumed = await trainPrior(microOptions(b, { workers: 2 }));
    t.true(resumed.completed);
    for (const net of ['vae', 'unet'] as const) {
      for (const [name, w] of full.weights[net]) t.deepEqual(resumed.weights[net].get(name), w, `${net} ${name}`);
    }
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test.serial('rendering and encoding on worker threads give the single-threaded arrays', async (t) => {
  const { buildSceneDataset } = await import('../../experiments/training/data/scene-dataset.ts');
  const { renderParallel, encodeParallel, chunks } = await import('../../experiments/training/data/parallel-data.ts');
  const { encodeLatentSet } = await import('../../experiments/training/stages/unet-stage.ts');
  const { createVae } = await import('../../diffusion/models/load.ts');
  const { MICRO, priorConfigs } = await import('../../experiments/training/model-configs.ts');
  t.deepEqual(chunks(20, 2, 8), [
    [0, 16],
    [16, 20],
  ]);
  const seeds = Array.from({ length: 11 }, (_, i) => i);
  const serial = buildSceneDataset(seeds, { width: 16, height: 16 });
  const parallel = await renderParallel(seeds, 16, false, 2);
  t.deepEqual(parallel.rgb, serial.rgb);
  t.deepEqual(parallel.depth, serial.depth);
  const cfg = priorConfigs(MICRO).vae;
  const vae = createVae(cfg, 5, { trainable: true });
  const weights = new Map(vae.parameters().map((p) => [p.name, tfjsOps.param(p).dataSync() as Float32Array]));
  const one = encodeLatentSet(vae, serial, 0.7, 4);
  const two = await encodeParallel(cfg, weights, 0.7, serial, 8 * 8 * 4, 2, 4);
  t.deepEqual(two.rgb, one.rgb);
  t.deepEqual(two.depth, one.depth);
  vae.dispose();
});

test.serial('a held-out seed can never enter the training set', async (t) => {
  const { buildSceneDataset } = await import('../../experiments/training/data/scene-dataset.ts');
  const { TEST_SEED_START } = await import('../../experiments/training/procedural-scenes.ts');
  t.throws(() => buildSceneDataset([0, TEST_SEED_START], { width: 8, height: 8 }), { message: /held-out/ });
});
