import test, { type ExecutionContext } from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupEngine } from '../helpers/engine.ts';
import { DEFAULTS, trainPrior, type TrainPriorOptions, type TrainPriorResult } from '../../experiments/training/train-prior.ts';
import { createUNet, loadUNet, loadVae } from '../../diffusion/models/load.ts';
import { tfjsOps } from '../../diffusion/ops/tfjs-ops.ts';
import type { TrainingSummary } from '../../experiments/training/model-card.ts';
import { loadLatestCheckpoint } from '../../experiments/training/trainer/checkpoint-store.ts';

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
    finetune: { ...DEFAULTS.finetune, steps: 0 },
    e2e: { ...DEFAULTS.e2e, steps: 0 },
    e2e2: { ...DEFAULTS.e2e2, steps: 0 },
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
    sameWeights(t, s3.weights, full.weights);
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
  // With a short non-square stage C (stage B's weights reach the worker replicas through their init).
  const finetune = { steps: 4, batch: 4, lr: 3e-3, width: 20, height: 14, scenes: 8 };
  try {
    const full = await trainPrior(microOptions(a, { workers: 2, finetune }));
    t.true(full.completed);
    t.is(full.ftLosses.at(-1)?.step, 4);
    t.false((await trainPrior(microOptions(b, { workers: 2, finetune, stopAfter: 6 }))).completed);
    const resumed = await trainPrior(microOptions(b, { workers: 2, finetune }));
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
  // Non-square (stage C renders at the processing resolution's aspect ratio).
  const serial = buildSceneDataset(seeds, { width: 20, height: 14 });
  const parallel = await renderParallel(seeds, 20, 14, false, 2);
  t.deepEqual(parallel.rgb, serial.rgb);
  t.deepEqual(parallel.depth, serial.depth);
  const cfg = priorConfigs(MICRO).vae;
  const vae = createVae(cfg, 5, { trainable: true });
  const weights = new Map(vae.parameters().map((p) => [p.name, tfjsOps.param(p).dataSync() as Float32Array]));
  const one = encodeLatentSet(vae, serial, 0.7, 4);
  t.is(one.h, 7);
  t.is(one.w, 10);
  const two = await encodeParallel(cfg, weights, 0.7, serial, 7 * 10 * 4, 2, 4);
  t.deepEqual(two.rgb, one.rgb);
  t.deepEqual(two.depth, one.depth);
  vae.dispose();
});

test.serial('a held-out seed can never enter the training set', async (t) => {
  const { buildSceneDataset } = await import('../../experiments/training/data/scene-dataset.ts');
  const { TEST_SEED_START } = await import('../../experiments/training/procedural-scenes.ts');
  t.throws(() => buildSceneDataset([0, TEST_SEED_START], { width: 8, height: 8 }), { message: /held-out/ });
});

/** Micro stage A and B (4 steps each), then a non-square stage C: 20x14 scenes, latent 10x7 (7 -> 4 -> 7 in the UNet). */
function ftOptions(dir: string, overrides: Partial<TrainPriorOptions> = {}): TrainPriorOptions {
  return microOptions(dir, {
    vae: { ...DEFAULTS.vae, steps: 4, batch: 4, crop: 8, lr: 3e-3 },
    unet: { ...DEFAULTS.unet, steps: 4, batch: 4, lr: 3e-3 },
    finetune: { steps: 6, batch: 4, lr: 3e-3, width: 20, height: 14, scenes: 10 },
    ...overrides,
  });
}

test.serial('a bad --ft-real fails before any training, with the flag named; nothing is written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'train-prior-ft-real-'));
  try {
    for (const real of [-3, 2.5, Number.NaN]) {
      const o = ftOptions(dir);
      await t.throwsAsync(trainPrior({ ...o, finetune: { ...o.finetune, real } }), { message: /--ft-real.*non-negative integer/ });
    }
    t.false(existsSync(join(dir, 'work')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('stage C: fine-tunes stage B non-square, resumes bit-identically; --ft-steps 0 exports stage B as before', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'train-prior-ft-a-'));
  const b = mkdtempSync(join(tmpdir(), 'train-prior-ft-b-'));
  const c = mkdtempSync(join(tmpdir(), 'train-prior-ft-c-'));
  try {
    const full = await trainPrior(ftOptions(a));
    t.true(full.completed);
    t.deepEqual(
      full.ftLosses.map((l) => l.step),
      [2, 4, 6],
    );
    t.true(full.ftLosses.every((l) => Number.isFinite(l.loss) && l.parts?.coarse !== undefined));
    const stageB = loadLatestCheckpoint(join(a, 'work', 'unet'))!.snapshot.ema!;
    const stageC = loadLatestCheckpoint(join(a, 'work', 'unet-ft'))!;
    t.is(stageC.step, 6);
    // The export is stage C's EMA, not stage B's.
    for (const [name, w] of stageC.snapshot.ema!) t.deepEqual(full.weights.unet.get(name), w, name);
    t.true([...stageB].some(([name, w]) => !full.weights.unet.get(name)!.every((v, i) => v === w[i])));
    const summary = JSON.parse(readFileSync(join(full.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.deepEqual(summary.finetune, { steps: 6, batch: 4, lr: 3e-3, width: 20, height: 14, scenes: 10 });
    t.is(summary.losses.finetune?.length, 3);
    t.true((summary.seconds.finetune ?? 0) > 0);

    // Session 1 completes stages A and B (4 steps each) and stops in stage C; session 2 finishes it.
    const s1 = await trainPrior(ftOptions(b, { stopAfter: 4 }));
    t.false(s1.completed);
    t.is(s1.ftLosses.at(-1)?.step, 4);
    const s2 = await trainPrior(ftOptions(b));
    t.true(s2.completed);
    sameWeights(t, s2.weights, full.weights);
    t.deepEqual(
      s2.ftLosses.map((l) => l.loss),
      full.ftLosses.map((l) => l.loss),
    );

    // --ft-steps 0: no stage C data or folder, stage B's EMA exported, the summary as before the stage existed.
    const off = await trainPrior(ftOptions(c, { finetune: { ...ftOptions(c).finetune, steps: 0 } }));
    t.true(off.completed);
    t.deepEqual(off.ftLosses, []);
    for (const [name, w] of stageB) t.deepEqual(off.weights.unet.get(name), w, name);
    for (const [name, w] of full.weights.vae) t.deepEqual(off.weights.vae.get(name), w, name);
    for (const f of ['unet-ft', 'ft-scenes.json', 'ft-latents.json']) t.false(existsSync(join(c, 'work', f)), f);
    const offSummary = JSON.parse(readFileSync(join(off.out, 'training.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    t.false('finetune' in offSummary);
    t.deepEqual(Object.keys(offSummary.seconds!), ['data', 'vae', 'encode', 'unet']);
    t.deepEqual(Object.keys(offSummary.losses!), ['vae', 'unet']);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
    rmSync(c, { recursive: true, force: true });
  }
});

/** Micro stages A and B (4 steps each), then stage E on non-square 20x12 scenes (latent 10x6). */
function e2eOptions(dir: string, overrides: Partial<TrainPriorOptions> = {}): TrainPriorOptions {
  return microOptions(dir, {
    vae: { ...DEFAULTS.vae, steps: 4, batch: 4, crop: 8, lr: 3e-3 },
    unet: { ...DEFAULTS.unet, steps: 4, batch: 4, lr: 3e-3 },
    e2e: { steps: 6, batch: 3, lr: 3e-3, width: 20, height: 12, scenes: 7, gradWeight: 0 },
    ...overrides,
  });
}

test.serial('stage E: trains the UNet end to end from stage B, VAE untouched, resumes bit-identically; bad flags fail first', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'train-prior-e2e-a-'));
  const b = mkdtempSync(join(tmpdir(), 'train-prior-e2e-b-'));
  try {
    for (const [e2e, flag] of [
      [{ width: 21 }, /--e2e-width 21 must be a positive multiple of 2/],
      [{ scenes: 0 }, /--e2e-scenes must lie in/],
      [{ steps: -1 }, /--e2e-steps must be a non-negative integer/],
      [{ lr: 0 }, /--e2e-lr must be positive/],
      [{ gradWeight: -0.5 }, /--e2e-grad-weight must be a number >= 0, got -0.5/],
      [{ clutter: -1 }, /--e2e-clutter-scenes must be an integer in \[0, 500000\], got -1/],
    ] as const) {
      const o = e2eOptions(b);
      await t.throwsAsync(trainPrior({ ...o, e2e: { ...o.e2e, ...e2e } }), { message: flag });
    }
    await t.throwsAsync(trainPrior(e2eOptions(b, { clutterScenes: 2.5 })), { message: /--clutter-scenes must be an integer in \[0, 500000\], got 2.5/ });
    await t.throwsAsync(trainPrior(e2eOptions(b, { scenes: 500_001 })), { message: /--scenes must lie in \[1, 500000\], got 500001/ });
    t.false(existsSync(join(b, 'work')));

    const full = await trainPrior(e2eOptions(a));
    t.true(full.completed);
    t.deepEqual(
      full.e2eLosses.map((l) => l.step),
      [2, 4, 6],
    );
    t.true(full.e2eLosses.every((l) => Number.isFinite(l.loss) && l.loss > 0));
    const stageB = loadLatestCheckpoint(join(a, 'work', 'unet'))!.snapshot.ema!;
    const stageE = loadLatestCheckpoint(join(a, 'work', 'unet-e2e'))!;
    t.is(stageE.step, 6);
    // The export is stage E's EMA (different from stage B's); the VAE is stage A's, unchanged.
    for (const [name, w] of stageE.snapshot.ema!) t.deepEqual(full.weights.unet.get(name), w, name);
    t.true([...stageB].some(([name, w]) => !full.weights.unet.get(name)!.every((v, i) => v === w[i])));
    const stageA = loadLatestCheckpoint(join(a, 'work', 'vae'))!.snapshot.ema!;
    for (const [name, w] of stageA) t.deepEqual(full.weights.vae.get(name), w, name);
    const summary = JSON.parse(readFileSync(join(full.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.deepEqual(summary.e2e, { steps: 6, batch: 3, lr: 3e-3, width: 20, height: 12, scenes: 7, gradWeight: 0 });
    t.is(summary.losses.e2e?.length, 3);
    t.true((summary.seconds.e2e ?? 0) > 0);

    // Session 1 stops inside stage E; session 2 finishes it to the same weights and losses.
    const s1 = await trainPrior(e2eOptions(b, { stopAfter: 4 }));
    t.false(s1.completed);
    t.is(s1.e2eLosses.at(-1)?.step, 4);
    const s2 = await trainPrior(e2eOptions(b));
    t.true(s2.completed);
    sameWeights(t, s2.weights, full.weights);
    t.deepEqual(
      s2.e2eLosses.map((l) => l.loss),
      full.e2eLosses.map((l) => l.loss),
    );
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test.serial('stage E on two worker threads: the same losses as one thread within float rounding, VAE untouched', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'train-prior-e2e-w1-'));
  const b = mkdtempSync(join(tmpdir(), 'train-prior-e2e-w2-'));
  try {
    await t.throwsAsync(trainPrior(e2eOptions(b, { workers: 2 })), { message: /--e2e-batch 3 does not split over 2 workers/ });
    t.false(existsSync(join(b, 'work')));
    // With the gradient-matching term, so that its weight reaches the worker threads' losses too, and with clutter
    // scenes in stages A, B and E (their seeds render on the worker threads as on this one).
    const e2e = { steps: 6, batch: 4, lr: 3e-3, width: 20, height: 12, scenes: 7, gradWeight: 0.5, clutter: 3 };
    const one = await trainPrior(e2eOptions(a, { e2e, clutterScenes: 4 }));
    const two = await trainPrior(e2eOptions(b, { e2e, clutterScenes: 4, workers: 2 }));
    t.true(two.completed);
    const summary = JSON.parse(readFileSync(join(two.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.is(summary.clutterScenes, 4);
    t.is(summary.e2e?.clutter, 3);
    // The cached scene sets hold the clutter scenes after the drawn ones: 12 + 4 at 16x16, 7 + 3 at 20x12.
    t.is(statSync(join(b, 'work', 'scenes.depth.bin')).size, 16 * 16 * 16 * 4);
    t.is(statSync(join(b, 'work', 'e2e-scenes.depth.bin')).size, 10 * 20 * 12 * 4);
    // Stages A and B differ only by the order of summing per-worker gradients; stage E follows them closely.
    two.e2eLosses.forEach((l, i) => t.true(Math.abs(l.loss - one.e2eLosses[i]!.loss) < 2e-3 * one.e2eLosses[i]!.loss, `step ${l.step}: ${l.loss} vs ${one.e2eLosses[i]!.loss}`));
    const stageA = loadLatestCheckpoint(join(b, 'work', 'vae'))!.snapshot.ema!;
    for (const [name, w] of stageA) t.deepEqual(two.weights.vae.get(name), w, name);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test.serial('a UNet replica given initWeights starts from them (weights and EMA), in this thread and in workers', async (t) => {
  const { buildReplica } = await import('../../experiments/training/stages/replica.ts');
  const { startEngine } = await import('../../experiments/training/trainer/grad-engine.ts');
  const { writeCachedArrays } = await import('../../experiments/training/data/dataset-cache.ts');
  const { MICRO, priorConfigs } = await import('../../experiments/training/model-configs.ts');
  const dir = mkdtempSync(join(tmpdir(), 'train-prior-init-'));
  try {
    const cfg = priorConfigs(MICRO);
    const [count, h, w] = [4, 7, 10];
    writeCachedArrays(dir, 'ft-latents', 'k', { rgb: new Float32Array(count * h * w * 4), depth: new Float32Array(count * h * w * 4) });
    const donor = createUNet(cfg.unet, 99, { trainable: true });
    const initWeights = new Map(donor.parameters().map((p) => [p.name, (tfjsOps.param(p).dataSync() as Float32Array).slice()]));
    donor.dispose();
    const init = {
      stage: 'unet' as const,
      unetConfig: cfg.unet,
      textEncoderConfig: cfg.textEncoder,
      schedulerConfig: cfg.scheduler,
      seed: 2,
      textSeed: 3,
      settings: { ...DEFAULTS.unet, batch: 2 },
      work: dir,
      cache: 'ft-latents',
      dataKey: 'k',
      count,
      h,
      w,
      initWeights,
    };
    const local = buildReplica(init, 1e-3, 0.999);
    for (const [name, v] of initWeights) {
      t.deepEqual(local.trainer.weights().get(name), v, name);
      t.deepEqual(local.trainer.emaWeights()!.get(name), v, `ema ${name}`);
    }
    local.dispose();
    const { engine } = await startEngine(2, init, 1e-3, 0.999);
    try {
      const snap = await engine.snapshot();
      for (const [name, v] of initWeights) {
        t.deepEqual(snap.weights.get(name), v, name);
        t.deepEqual(snap.ema!.get(name), v, `ema ${name}`);
      }
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A resumed run's exported weights equal an uninterrupted run's, tensor by tensor. */
function sameWeights(t: ExecutionContext, got: TrainPriorResult['weights'], want: TrainPriorResult['weights']): void {
  for (const net of ['vae', 'unet'] as const) {
    t.is(got[net].size, want[net].size);
    for (const [name, w] of want[net]) t.deepEqual(got[net].get(name), w, `${net} ${name}`);
  }
}

test.serial('stage A with --chroma-weight: a negative weight fails before any work; a positive one logs l1_chroma and records the weight in training.json', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'train-prior-chroma-'));
  try {
    const base = microOptions(dir, { vae: { ...DEFAULTS.vae, steps: 4, batch: 4, crop: 8, lr: 3e-3 }, unet: { ...DEFAULTS.unet, steps: 2, batch: 4, lr: 3e-3 } });
    await t.throwsAsync(trainPrior({ ...base, vae: { ...base.vae, chromaWeight: -1 } }), { message: /--chroma-weight must be a number >= 0, got -1/ });
    t.false(existsSync(join(dir, 'work')));
    const r = await trainPrior({ ...base, vae: { ...base.vae, chromaWeight: 2 } });
    t.true(r.completed);
    t.true(r.vaeLosses.length > 0 && r.vaeLosses.every((l) => l.parts !== undefined && l.parts.l1_chroma! > 0 && Number.isFinite(l.parts.l1_chroma!)));
    const summary = JSON.parse(readFileSync(join(r.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.is(summary.vae.chromaWeight, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('--e2e-from: stage E alone from an exported folder (its UNet, VAE and text encoder), resumable; bad folders fail first', async (t) => {
  const src = mkdtempSync(join(tmpdir(), 'train-prior-from-src-'));
  const dst = mkdtempSync(join(tmpdir(), 'train-prior-from-dst-'));
  try {
    const source = await trainPrior(e2eOptions(src));
    t.true(source.completed);
    const from = (overrides: Partial<TrainPriorOptions> = {}) =>
      e2eOptions(dst, { e2eFrom: source.out, e2e: { steps: 4, batch: 3, lr: 3e-3, width: 20, height: 12, scenes: 7, gradWeight: 1 }, ...overrides });
    const fileBytes = (dir: string, rel: string) => readFileSync(join(dir, rel));

    // Refused before any work: no stage E, no training.json, a folder of another preset.
    await t.throwsAsync(trainPrior(from({ e2e: { ...from().e2e, steps: 0 } })), { message: /--e2e-steps: --e2e-from runs stage E alone: give --e2e-steps > 0, got 0/ });
    await t.throwsAsync(trainPrior(from({ e2eFrom: src })), { message: /training\.json: --e2e-from: no training\.json here/ });
    await t.throwsAsync(trainPrior(from({ out: source.out })), { message: /--out: --out is the --e2e-from folder/ });
    const other = join(dst, 'other-preset');
    cpSync(source.out, other, { recursive: true });
    const unetCfg = JSON.parse(readFileSync(join(other, 'unet/config.json'), 'utf8')) as { block_out_channels: number[] };
    writeFileSync(join(other, 'unet/config.json'), JSON.stringify({ ...unetCfg, block_out_channels: unetCfg.block_out_channels.map((c) => 2 * c) }));
    await t.throwsAsync(trainPrior(from({ e2eFrom: other })), { message: /unet[/\\]config\.json: --e2e-from: not the unet config of preset micro/ });
    cpSync(source.out, join(dst, 'no-seed'), { recursive: true });
    const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dst, 'no-seed', 'training.json'), JSON.stringify({ ...summaryOf(source.out), seed: undefined }));
    await t.throwsAsync(trainPrior(from({ e2eFrom: join(dst, 'no-seed') })), { message: /training\.json: seed: expected the integer seed/ });
    t.false(existsSync(join(dst, 'work')) || existsSync(join(dst, 'model')));

    // A vanishing learning rate exports the source's UNet bit for bit: the start weights are the folder's. The
    // preset is the folder's too: --preset tiny (4x VAE) does not refuse 22x12 scenes, fine for this micro (2x) source.
    const still = await trainPrior(from({ e2e: { ...from().e2e, width: 22, lr: 1e-30 }, preset: 'tiny', out: join(dst, 'still'), work: join(dst, 'work-still') }));
    t.true(still.completed);
    t.deepEqual(fileBytes(still.out, 'unet/diffusion_pytorch_model.safetensors'), fileBytes(source.out, 'unet/diffusion_pytorch_model.safetensors'));

    // A real run: new UNet; the VAE and text encoder files are the source's; training.json keeps the source's stages.
    const s1 = await trainPrior(from({ stopAfter: 2 }));
    t.false(s1.completed);
    const run = await trainPrior(from());
    t.true(run.completed);
    t.deepEqual(
      run.e2eLosses.map((l) => l.step),
      [2, 4],
    );
    for (const rel of ['vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors', 'unet/config.json', 'vae/config.json', 'model_index.json']) {
      t.deepEqual(fileBytes(run.out, rel), fileBytes(source.out, rel), rel);
    }
    t.notDeepEqual(fileBytes(run.out, 'unet/diffusion_pytorch_model.safetensors'), fileBytes(source.out, 'unet/diffusion_pytorch_model.safetensors'));
    const before = JSON.parse(readFileSync(join(source.out, 'training.json'), 'utf8')) as TrainingSummary;
    const after = JSON.parse(readFileSync(join(run.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.deepEqual(after.losses.vae, before.losses.vae);
    t.deepEqual(after.losses.unet, before.losses.unet);
    t.is(after.e2e?.gradWeight, 1);
    t.is(after.e2eFrom?.model, source.out);
    t.deepEqual(after.e2eFrom?.e2e, before.e2e);
    t.deepEqual(after.e2eFrom?.losses, before.losses.e2e);
    t.regex(after.e2eFrom?.unetSha256 ?? '', /^[0-9a-f]{64}$/);
    // The interrupted session resumed to the same result as an uninterrupted one, whose texture flag and seed are
    // the source's (micro sources train without natural textures, at seed 0), not this run's.
    const fresh = await trainPrior(from({ out: join(dst, 'fresh'), work: join(dst, 'work-fresh'), naturalTextures: true, seed: 5 }));
    sameWeights(t, run.weights, fresh.weights);
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
  }
});

test.serial('stage E2: a second stage E in the same run equals --e2e-from on stage E\'s export bit for bit, resumes, and needs stage E', async (t) => {
  const one = mkdtempSync(join(tmpdir(), 'train-prior-e2e2-one-'));
  const two = mkdtempSync(join(tmpdir(), 'train-prior-e2e2-two-'));
  const cut = mkdtempSync(join(tmpdir(), 'train-prior-e2e2-cut-'));
  try {
    const e2e2 = { steps: 4, batch: 3, lr: 3e-3, width: 24, height: 16, scenes: 7, gradWeight: 1 };
    // Refused before any work: stage E2 without stage E, and its flags named as --e2e2-*.
    await t.throwsAsync(trainPrior(e2eOptions(one, { e2e: { ...e2eOptions(one).e2e, steps: 0 }, e2e2 })), { message: /--e2e2-steps: stage E2 starts from stage E's weights/ });
    await t.throwsAsync(trainPrior(e2eOptions(one, { e2e2: { ...e2e2, width: 21 } })), { message: /--e2e2-width 21 must be a positive multiple of 2/ });
    await t.throwsAsync(trainPrior(e2eOptions(one, { e2e2: { ...e2e2, lr: -1 } })), { message: /--e2e2-lr must be positive/ });
    await t.throwsAsync(trainPrior(e2eOptions(one, { e2e: { ...e2eOptions(one).e2e, batch: 4 }, e2e2: { ...e2e2, batch: 3 }, workers: 2 })), { message: /--e2e2-batch 3 does not split over 2 workers/ });
    t.false(existsSync(join(one, 'work')));

    // One run with stages E and E2 ...
    const full = await trainPrior(e2eOptions(one, { e2e2 }));
    t.true(full.completed);
    t.deepEqual(
      full.e2e2Losses.map((l) => l.step),
      [2, 4],
    );
    // ... against two: stage E alone, then stage E again with E2's settings from its exported folder.
    const source = await trainPrior(e2eOptions(two));
    const from = await trainPrior(e2eOptions(two, { e2eFrom: source.out, e2e: e2e2, out: join(two, 'from'), work: join(two, 'work-from') }));
    const bytes = (dir: string, rel: string) => readFileSync(join(dir, rel));
    for (const rel of ['unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors']) {
      t.deepEqual(bytes(full.out, rel), bytes(from.out, rel), rel);
    }
    t.notDeepEqual(bytes(full.out, 'unet/diffusion_pytorch_model.safetensors'), bytes(source.out, 'unet/diffusion_pytorch_model.safetensors'));
    const summary = JSON.parse(readFileSync(join(full.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.deepEqual(summary.e2e2, e2e2);
    t.deepEqual(summary.losses.e2e2?.map((l) => l.step), [2, 4]);
    t.true((summary.seconds.e2e2 ?? 0) > 0 && (summary.seconds.e2e2Data ?? -1) >= 0);
    t.is(statSync(join(one, 'work', 'e2e2-scenes.depth.bin')).size, 7 * 24 * 16 * 4);

    // Interrupted in stage E and again in stage E2: the same weights as the uninterrupted run.
    t.false((await trainPrior(e2eOptions(cut, { e2e2, stopAfter: 4 }))).completed);
    const mid = await trainPrior(e2eOptions(cut, { e2e2, stopAfter: 2 }));
    t.false(mid.completed);
    t.deepEqual(
      mid.e2e2Losses.map((l) => l.step),
      [2],
    );
    sameWeights(t, (await trainPrior(e2eOptions(cut, { e2e2 }))).weights, full.weights);

    // --e2e-from on a folder with stage E2 records both of its end-to-end stages as the source's.
    const again = await trainPrior(e2eOptions(two, { e2eFrom: full.out, out: join(two, 'again'), work: join(two, 'work-again') }));
    const after = JSON.parse(readFileSync(join(again.out, 'training.json'), 'utf8')) as TrainingSummary;
    t.false('e2e2' in after);
    t.deepEqual(after.e2eFrom?.e2e2, e2e2);
    t.deepEqual(after.e2eFrom?.e2e2Losses, summary.losses.e2e2);
    t.false('e2e2' in after.seconds || 'e2e2' in after.losses);
    const sourceSeconds = (summary.seconds.e2eData ?? 0) + (summary.seconds.e2e ?? 0) + (summary.seconds.e2e2Data ?? 0) + (summary.seconds.e2e2 ?? 0);
    t.true(Math.abs((after.e2eFrom?.seconds ?? 0) - sourceSeconds) < 1e-9);
  } finally {
    rmSync(one, { recursive: true, force: true });
    rmSync(two, { recursive: true, force: true });
    rmSync(cut, { recursive: true, force: true });
  }
});
