import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { openSafetensors, writeSafetensors } from '../../core/io/safetensors.ts';
import { dirname, join, resolve } from 'node:path';
import { MarigoldPrior, type SchedulerKind } from '../../diffusion/marigold/marigold-prior.ts';
import { LINK_CHECKPOINT_ENV, OnnxMarigoldPrior, shouldLinkCheckpoint } from '../../diffusion/marigold/onnx-prior.ts';
import { leakedTensors, setupEngine } from '../helpers/engine.ts';
import { fixture, relL2 } from '../helpers/npy-fixture.ts';
import { fixtureImage } from '../helpers/prior-parity.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

/**
 * The Marigold prior on the ONNX engine (UNet and VAE as onnxruntime graphs, scheduler and depth head in
 * tfjs, gradients by the explicit predictWithVjp path) against the tfjs prior (tf.grad through everything)
 * and diffusers' fixtures, on sd2-tiny.
 */

const CKPT = 'test/data/diffusers-tiny/sd2-tiny/checkpoint';
const DEFAULT_MODEL = resolve('models/aperture-depth-tiny');
const tmp = makeTempDir('onnx-prior');
let image: tf.Tensor4D;

test.before(async () => {
  await setupEngine();
  image = fixtureImage(); // [1, 64, 48, 3]
});
test.after.always(() => {
  image?.dispose();
  tmp.remove();
});

interface Pair {
  tfjs: MarigoldPrior;
  onnx: OnnxMarigoldPrior;
  dispose(): Promise<void>;
}

async function priors(
  options: { steps: number; scheduler?: SchedulerKind; margin?: number },
  processingResolution: number,
  engine: { checkpointBytes?: number; keepActivationBytes?: number } = {},
): Promise<Pair> {
  const tfjs = await MarigoldPrior.load(CKPT, options);
  const onnx = await OnnxMarigoldPrior.load(CKPT, { ...options, ...engine, cacheDir: null, threads: 1 });
  tfjs.encodeImage(image, { processingResolution });
  await onnx.encodeImage(image, { processingResolution });
  return {
    tfjs,
    onnx,
    dispose: async () => {
      tfjs.dispose();
      await onnx.dispose();
    },
  };
}

/** Depth and d sum(depth * W) / d latent from both engines. */
async function bothEngines(p: Pair, z: tf.Tensor, w: tf.Tensor2D, noiseSeed = 0) {
  const tfDepth = p.tfjs.predictDepth(z, { noiseSeed });
  const tfGrad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(p.tfjs.predictDepth(v, { noiseSeed }), w)))(z);
  const asyncDepth = await p.onnx.predictDepthAsync(z, { noiseSeed });
  const pass = await p.onnx.predictWithVjp(z, { noiseSeed });
  const grad = await pass.backward(w);
  const r = {
    depth: relL2(asyncDepth.dataSync(), tfDepth.dataSync()),
    vjpDepth: relL2(pass.depth.dataSync(), tfDepth.dataSync()),
    grad: relL2(grad.dataSync(), tfGrad.dataSync()),
    onnxDepth: asyncDepth.dataSync().slice(),
    onnxGrad: grad.dataSync().slice(),
  };
  tf.dispose([tfDepth, tfGrad, asyncDepth, pass.depth, grad]);
  return r;
}

test.serial(
  'ddim_1step: depth and latent gradient equal the tfjs engine (1e-5 / 1e-4) and the diffusers fixture',
  async (t) => {
    const p = await priors({ steps: 1 }, 64);
    try {
      const a = (name: string) => fixture(`sd2-tiny/arrays/pipeline/ddim_1step/${name}.npy`);
      t.true(relL2(p.onnx.image.rgbLatent.dataSync(), p.tfjs.image.rgbLatent.dataSync()) < 1e-5, 'rgb latent');
      const zf = a('latents_in');
      const W = a('grad_W');
      const z = tf.tensor4d(zf.data, zf.shape as [number, number, number, number]);
      const w = tf.tensor2d(W.data, [W.shape[2]!, W.shape[3]!]);
      const r = await bothEngines(p, z, w);
      const vsPrediction = relL2(r.onnxDepth, a('prediction').data);
      const vsFixture = relL2(r.onnxGrad, a('grad_wrt_latents').data);
      t.log(
        `onnx vs tfjs: depth ${r.depth.toExponential(2)} (vjp pass ${r.vjpDepth.toExponential(2)}), ` +
          `grad ${r.grad.toExponential(2)}; vs diffusers: prediction ${vsPrediction.toExponential(2)}, ` +
          `grad_wrt_latents ${vsFixture.toExponential(2)}`,
      );
      t.true(r.depth < 1e-5 && r.vjpDepth < 1e-5, `depth ${r.depth} ${r.vjpDepth}`);
      t.true(r.grad < 1e-4, `grad ${r.grad}`);
      t.true(vsPrediction < 1e-4, `prediction vs fixture ${vsPrediction}`);
      t.true(vsFixture < 1e-4, `grad vs fixture ${vsFixture}`);
      tf.dispose([z, w]);
    } finally {
      await p.dispose();
    }
  },
);

for (const c of [
  {
    label: 'checkpointed networks, some segments kept, some recomputed',
    options: { steps: 1 },
    pr: 64,
    engine: { checkpointBytes: 150_000, keepActivationBytes: 60_000 },
  },
  { label: 'DDIM 2 steps (chained UNet VJPs)', options: { steps: 2 }, pr: 64 },
  { label: 'LCM 2 steps (fresh noise between steps)', options: { steps: 2, scheduler: 'lcm' as const }, pr: 64 },
  { label: 'DDIM 1 step at 40 px (padding, odd latent 5x4)', options: { steps: 1 }, pr: 40 },
  { label: 'DDIM 1 step at 40 px with a 3 px reflected margin (latent 6x5)', options: { steps: 1, margin: 3 }, pr: 40 },
]) {
  test.serial(`${c.label}: depth and latent gradient equal the tfjs engine`, async (t) => {
    const p = await priors(c.options, c.pr, c.engine);
    try {
      if (c.options.margin) t.deepEqual([p.tfjs.latentShape, p.onnx.latentShape], [[1, 4, 6, 5], [1, 4, 6, 5]]);
      const z = p.tfjs.sampleLatent(3);
      const w = tf.randomNormal([64, 48], 0, 1, 'float32', 5) as tf.Tensor2D;
      const r = await bothEngines(p, z, w, 2);
      const st = await p.onnx.networkStats();
      const seg = [st.unet!, st.decoder].map((n) => `${n.keptSegments}/${n.segments}`).join(', ');
      t.log(`${c.label}: depth ${r.depth.toExponential(2)}, grad ${r.grad.toExponential(2)}; kept segments ${seg}`);
      if (c.engine) {
        t.true(st.decoder.segments > 2 && st.decoder.keptSegments > 1 && st.decoder.keptSegments < st.decoder.segments, seg);
      }
      t.true(r.depth < 1e-5 && r.vjpDepth < 1e-5, `depth ${r.depth} ${r.vjpDepth}`);
      t.true(r.grad < 1e-4, `grad ${r.grad}`);
      tf.dispose([z, w]);
    } finally {
      await p.dispose();
    }
  });
}

test.serial('disk cache: a second prior opens the graphs without tracing; no tensor leaks; backward runs once', async (t) => {
  const first = await OnnxMarigoldPrior.load(CKPT, { steps: 1, cacheDir: tmp.dir, threads: 1 });
  await first.encodeImage(image);
  const z = first.sampleLatent(1);
  const w = tf.ones([64, 48]) as tf.Tensor2D;
  const d1 = await first.predictDepthAsync(z);
  t.false((await first.networkStats()).decoder.fromCache);
  await first.dispose();
  const lines: string[] = [];
  const second = await OnnxMarigoldPrior.load(CKPT, { steps: 1, cacheDir: tmp.dir, threads: 1, log: (l) => lines.push(l) });
  try {
    await second.encodeImage(image);
    const leaked = await leakedTensors(async () => {
      const d2 = await second.predictDepthAsync(z);
      t.true(relL2(d2.dataSync(), d1.dataSync()) < 1e-7);
      const pass = await second.predictWithVjp(z);
      const g = await pass.backward(w);
      await t.throwsAsync(() => pass.backward(w), { message: /once/ });
      tf.dispose([d2, pass.depth, g]);
    });
    t.is(leaked, 0);
    const stats = await second.networkStats();
    t.true(stats.decoder.fromCache && stats.unet!.fromCache, lines.join('\n'));
    t.true(lines.every((l) => /from the cache/.test(l)), lines.join('\n'));
    t.throws(() => second.predictDepth(), { message: /asynchronously/ });
  } finally {
    tf.dispose([z, w, d1]);
    await second.dispose();
  }
});

test('checkpoint linking: by size unless the environment says 1 or 0; another value names the variable', (t) => {
  const MiB = 2 ** 20;
  t.false(shouldLinkCheckpoint(9 * MiB, {})); // the embedded prior: copied
  t.true(shouldLinkCheckpoint(3303 * MiB, {})); // the real UNet: linked
  t.true(shouldLinkCheckpoint(256 * MiB, { [LINK_CHECKPOINT_ENV]: '' }));
  t.false(shouldLinkCheckpoint(undefined, {}));
  t.true(shouldLinkCheckpoint(9 * MiB, { [LINK_CHECKPOINT_ENV]: '1' }));
  t.false(shouldLinkCheckpoint(3303 * MiB, { [LINK_CHECKPOINT_ENV]: '0' }));
  const err = t.throws(() => shouldLinkCheckpoint(3303 * MiB, { [LINK_CHECKPOINT_ENV]: 'yes' }));
  t.regex(err!.message, new RegExp(`${LINK_CHECKPOINT_ENV}.*"yes".*expected 1`));
});

test.serial('linkCheckpoint: checkpoint weights are linked, not copied; only flipped kernels are written; same numbers', async (t) => {
  // The embedded model stored as float32 (it ships as float16, which has to be converted and so is
  // written): every forward weight is read in place from the checkpoint's safetensors (hard-linked into
  // the entry); the written bytes are the gradient graphs' flipped convolution kernels only, so the
  // forward-only encoder writes nothing. The depth and its gradient equal those of graphs holding
  // in-memory copies of the weights (wrong offsets would not).
  const dir = makeTempDir('onnx-prior-linked');
  const model = join(dir.dir, 'model-f32');
  cpSync(DEFAULT_MODEL, model, { recursive: true });
  for (const component of ['unet', 'vae']) {
    const file = join(model, component, 'diffusion_pytorch_model.safetensors');
    const src = openSafetensors(file);
    const tensors = Object.fromEntries(src.names().map((n) => [n, { shape: src.info(n).shape, data: src.read(n), dtype: 'F32' as const }]));
    src.close();
    writeSafetensors(file, tensors);
  }
  const cache = join(dir.dir, 'cache');
  const run = async (cacheDir: string | null) => {
    const prior = await OnnxMarigoldPrior.load(model, { steps: 1, cacheDir, threads: 1, linkCheckpoint: true });
    try {
      await prior.encodeImage(image);
      const z = prior.sampleLatent(3);
      const pass = await prior.predictWithVjp(z);
      const w = tf.randomNormal([...pass.depth.shape], 0, 1, 'float32', 5) as tf.Tensor2D;
      const g = await pass.backward(w);
      const out = { depth: pass.depth.dataSync().slice(), grad: g.dataSync().slice() };
      tf.dispose([z, pass.depth, w, g]);
      return out;
    } finally {
      await prior.dispose();
    }
  };
  try {
    const linked = await run(cache);
    const memory = await run(null);
    t.true(relL2(linked.depth, memory.depth) < 1e-6 && relL2(linked.grad, memory.grad) < 1e-6);
    // Linear layers of a checkpoint run as Gemm on the torch-order weights: still the tfjs engine's numbers.
    const tfjsPrior = await MarigoldPrior.load(model, { steps: 1 });
    try {
      tfjsPrior.encodeImage(image);
      const z = tfjsPrior.sampleLatent(3);
      const depth = tfjsPrior.predictDepth(z);
      const w = tf.randomNormal([...depth.shape], 0, 1, 'float32', 5) as tf.Tensor2D; // run()'s upstream
      const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tfjsPrior.predictDepth(v), w)))(z);
      t.true(relL2(linked.depth, depth.dataSync()) < 1e-5, `depth vs tfjs ${relL2(linked.depth, depth.dataSync())}`);
      t.true(relL2(linked.grad, grad.dataSync()) < 1e-4, `grad vs tfjs ${relL2(linked.grad, grad.dataSync())}`);
      tf.dispose([z, w, depth, grad]);
    } finally {
      tfjsPrior.dispose();
    }
    const metas = readdirSync(cache)
      .map((e) => join(cache, e, 'meta.json'))
      .filter((f) => existsSync(f))
      .map((f) => ({ entry: dirname(f), meta: JSON.parse(readFileSync(f, 'utf8')) as CacheMeta }));
    t.deepEqual(metas.map((m) => m.meta.name).sort(), ['unet', 'vae-decoder', 'vae-encoder']);
    // Without the option (the default) the same model's entries link nothing and write every weight.
    const copyCache = join(dir.dir, 'cache-copy');
    const copied = await (async () => {
      const prior = await OnnxMarigoldPrior.load(model, { steps: 1, cacheDir: copyCache, threads: 1 });
      try {
        await prior.encodeImage(image);
        const z = prior.sampleLatent(3);
        const d = await prior.predictDepthAsync(z);
        const out = d.dataSync().slice();
        tf.dispose([z, d]);
        return out;
      } finally {
        await prior.dispose();
      }
    })();
    t.true(relL2(copied, linked.depth) < 1e-5);
    for (const e of readdirSync(copyCache).filter((e) => existsSync(join(copyCache, e, 'meta.json')))) {
      const meta = JSON.parse(readFileSync(join(copyCache, e, 'meta.json'), 'utf8')) as CacheMeta;
      t.is(meta.disk.links.length, 0, meta.name);
      t.is(meta.disk.linkedBytes, 0, meta.name);
      t.true(meta.disk.writtenBytes >= meta.weightsBytes, meta.name);
    }
    for (const { entry, meta } of metas) {
      const component = meta.name === 'unet' ? 'unet' : 'vae';
      const file = resolve(model, component, 'diffusion_pytorch_model.safetensors');
      t.is(meta.disk.links.length, 1, meta.name);
      const { as, mode } = meta.disk.links[0]!;
      t.is(meta.disk.links[0]!.file, file);
      if (mode === 'link') t.is(statSync(join(entry, as)).ino, statSync(file).ino, `${meta.name}: a hard link to the checkpoint`);
      else t.deepEqual(readFileSync(join(entry, as)), readFileSync(file));
      t.is(statSync(join(entry, 'weights.bin')).size, meta.disk.writtenBytes);
      const unlinked = meta.weightsBytes - meta.disk.linkedBytes; // written, page-aligned per weight
      t.true(meta.disk.writtenBytes >= unlinked && meta.disk.writtenBytes < unlinked + 4096 * 200, meta.name);
      if (meta.name === 'vae-encoder') t.is(meta.disk.writtenBytes, 0);
      // A gradient graph adds one flipped copy per convolution kernel (each the size of a linked one).
      else t.true(unlinked > 0 && unlinked <= meta.disk.linkedBytes, `${meta.name}: ${unlinked} unlinked, ${meta.disk.linkedBytes} linked`);
    }
  } finally {
    dir.remove();
  }
});

interface CacheMeta {
  name: string;
  weightsBytes: number;
  disk: { writtenBytes: number; linkedBytes: number; links: { file: string; as: string; mode: 'link' | 'copy' }[] };
}

/** Cache entries (complete ones: with a meta.json) by network name. */
function cacheEntries(dir: string): Map<string, number> {
  const byName = new Map<string, number>();
  for (const e of readdirSync(dir)) {
    const meta = join(dir, e, 'meta.json');
    if (!existsSync(meta)) continue;
    const name = (JSON.parse(readFileSync(meta, 'utf8')) as { name: string }).name;
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  return byName;
}

test.serial('one UNet graph for every timestep: a 2-step prior writes one UNet cache entry, reused by 1 and 3 steps', async (t) => {
  const dir = makeTempDir('onnx-prior-timesteps');
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  try {
    const two = await OnnxMarigoldPrior.load(CKPT, { steps: 2, cacheDir: dir.dir, threads: 1, log });
    t.is(two.steps, 2);
    await two.encodeImage(image);
    const z = two.sampleLatent(4);
    const w = tf.ones([64, 48]) as tf.Tensor2D;
    try {
      const depth = await two.predictDepthAsync(z);
      const pass = await two.predictWithVjp(z);
      const g = await pass.backward(w);
      tf.dispose([depth, pass.depth, g]);
      const stats = await two.networkStats();
      t.false(stats.unet!.fromCache);
      // Steps at other timesteps use the same graph.
      tf.dispose([await two.predictDepthAsync(z, { steps: 3 })]);
    } finally {
      await two.dispose();
    }
    const entries = cacheEntries(dir.dir);
    t.log(`cache entries: ${JSON.stringify(Object.fromEntries(entries))}; log:\n${lines.join('\n')}`);
    t.is(entries.get('unet'), 1, 'one UNet entry');
    t.is(lines.filter((l) => /onnx unet /.test(l)).length, 1, lines.join('\n'));
    t.false(lines.some((l) => /t=\d+/.test(l)), 'no per-timestep UNet');
    // A prior with another step count finds it.
    lines.length = 0;
    const one = await OnnxMarigoldPrior.load(CKPT, { steps: 1, cacheDir: dir.dir, threads: 1, log });
    try {
      await one.encodeImage(image);
      tf.dispose([await one.predictDepthAsync(z)]);
      t.true((await one.networkStats()).unet!.fromCache, lines.join('\n'));
    } finally {
      await one.dispose();
    }
    t.is(cacheEntries(dir.dir).get('unet'), 1);
    tf.dispose([z, w]);
  } finally {
    dir.remove();
  }
});

test.serial('profileDir: the prior profiles its encoder, UNet and decoder sessions, written on dispose', async (t) => {
  const dir = join(tmp.dir, 'profile');
  const onnx = await OnnxMarigoldPrior.load(CKPT, { steps: 1, cacheDir: null, threads: 1, profileDir: dir });
  await onnx.encodeImage(image, { processingResolution: 64 });
  const z = onnx.sampleLatent(3);
  const pass = await onnx.predictWithVjp(z, { noiseSeed: 0 });
  const grad = await pass.backward(tf.onesLike(pass.depth) as tf.Tensor2D);
  tf.dispose([z, pass.depth, grad]);
  await onnx.dispose();
  const networks = new Set(readdirSync(dir).map((f) => f.replace(/-(forward|saved-forward|vjp|saved-backward)-\d+_.*$/, '')));
  t.deepEqual([...networks].sort(), ['unet', 'vae-decoder', 'vae-encoder']);
});

test.serial('margin: a load option and an encodeImage override; it changes the prediction, not its size', async (t) => {
  const framed = await MarigoldPrior.load(CKPT, { steps: 1, margin: 3 });
  const plain = await MarigoldPrior.load(CKPT, { steps: 1 });
  try {
    t.is(framed.margin, 3);
    framed.encodeImage(image, { processingResolution: 40 });
    plain.encodeImage(image, { processingResolution: 40 });
    t.deepEqual([framed.latentShape, plain.latentShape], [[1, 4, 6, 5], [1, 4, 5, 4]]);
    const a = framed.predictDepth(framed.sampleLatent(3));
    const b = plain.predictDepth(plain.sampleLatent(3));
    t.deepEqual(a.shape, [64, 48]);
    const diff = relL2(a.dataSync(), b.dataSync());
    t.log(`margin 3 vs 0: relative L2 difference of the depth ${diff.toExponential(2)}`);
    t.true(diff > 1e-3 && diff < 0.5, `${diff}`);
    framed.encodeImage(image, { processingResolution: 40, margin: 0 });
    t.deepEqual(framed.latentShape, [1, 4, 5, 4]);
    tf.dispose([a, b]);
    await t.throwsAsync(() => MarigoldPrior.load(CKPT, { margin: -1 }), { message: /margin.*got -1/ });
  } finally {
    framed.dispose();
    plain.dispose();
  }
});
