/**
 * Bench: one optimization iteration of the full variant (prior forward + prior gradient + renderer
 * forward/backward + optimizer step), per component, for the two engines of the prior's networks.
 *
 *   npx tsx experiments/bench/iteration.ts                          # (a) then (b)
 *   npx tsx experiments/bench/iteration.ts --part tiny              # (a) default prior, tfjs vs onnx
 *   npx tsx experiments/bench/iteration.ts --part real --size 512x384   # (b) real-Marigold shape, onnx
 *   npx tsx experiments/bench/iteration.ts --part real --size 768x576   # (c) the memory target
 *
 * (a) The embedded default prior (`models/aperture-depth-tiny`; sd2-tiny from the test fixtures while it is
 *     not installed) at its default processing resolution, on a synthetic pair of that size: the tfjs
 *     engine (tfjs autograd on the `--backend`, wasm by default) against the onnx engine (onnxruntime-node);
 *     a line with the word "iteration" carries the speed-up.
 * (b) A UNet and VAE with the real Marigold (SD2) configs and random weights (written once as a checkpoint
 *     folder under .cache/bench, then loaded as any checkpoint), on the onnx engine:
 *     graph build and session creation cold and from the disk cache, one iteration (the mean of iterations
 *     2..`--real-iterations`, default 2, with the first printed beside it) and its parts, GFLOP/s (analytic
 *     FLOPs of the graphs run) against `--peak` GFLOP/s, peak RSS. The native allocator's mode is chosen as
 *     the CLI chooses it (core/engine/native-memory.ts: auto keeps freed blocks where the predicted peak
 *     fits, e.g. at 512x384 and not at 768x576 on 24 GB); `APERTURE_DEPTH_NATIVE_MEMORY=retain|system` forces one.
 * Times are wall (and process CPU, the steadier figure on a shared machine). Every line ends with its command.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NATIVE_MEMORY_ENV,
  nativeMemoryMode,
  RETAIN_ENV,
  relaunchWithNativeMemory,
  type NativeMemoryLoad,
} from '../../core/engine/native-memory.ts';
import { footprintFromConfigs, priorPassBytes } from '../../core/pipeline/memory-budget.ts';
import { parseArgs } from 'node:util';
import { initEngine, type BackendName } from '../../core/engine/backend.ts';
import { defaultModelPath, DEFAULT_MODEL_DIR } from '../../core/pipeline/default-model.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { MarigoldPrior } from '../../diffusion/marigold/marigold-prior.ts';
import { OnnxMarigoldPrior } from '../../diffusion/marigold/onnx-prior.ts';
import { loadComponent } from '../../diffusion/checkpoint/load-weights.ts';
import { fileIdentity } from '../../diffusion/onnx/graph-cache.ts';
import { UNet2DConditionModel } from '../../diffusion/models/unet/unet.ts';
import { AutoencoderKL } from '../../diffusion/models/vae/autoencoder-kl.ts';
import { ensureRandomCheckpoint } from './random-checkpoint.ts';
import { parseUNetConfig } from '../../diffusion/models/unet/config.ts';
import { parseVaeConfig } from '../../diffusion/models/vae/config.ts';
import { loadScheduler } from '../../diffusion/schedulers/index.ts';
import { Adam } from '../../optimizers/adam.ts';
import { l2Loss } from '../../optimizers/losses/index.ts';
import { FreeMapping } from '../../optimizers/mappings/index.ts';
import {
  createDefocusObjective,
  LATENT_GROUP,
  modelFNumber,
  optimizeDepth,
  projectToSphere,
  SCALE_SHIFT_GROUP,
  type DepthProblem,
} from '../../optimizers/optimize-depth.ts';
import type { DepthPrior, PriorVjp } from '../../optimizers/priors/depth-prior.ts';
import { MarigoldDepthPrior } from '../../optimizers/priors/marigold-depth-prior.ts';
import { getRenderer } from '../../physics/renderers/index.ts';
import { ThinLensCamera } from '../../physics/thin-lens-camera.ts';

const { values: args } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    size: { type: 'string', default: '512x384' },
    iterations: { type: 'string', default: '4' },
    threads: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'wasm' },
    peak: { type: 'string', default: '240' },
    'checkpoint-mb': { type: 'string', default: '1024' },
    'keep-mb': { type: 'string', default: '' },
    'cache-dir': { type: 'string', default: '' },
    'random-checkpoint': { type: 'string', default: '' },
    link: { type: 'boolean' },
    'real-iterations': { type: 'string', default: '2' },
    spin: { type: 'boolean' },
    arena: { type: 'boolean' },
    'mem-pattern': { type: 'boolean' },
  },
  allowNegative: true,
});
const part = args.part!;
const threads = Number(args.threads);
const peak = Number(args.peak);
const backend = args.backend as BackendName;
const here = import.meta.dirname;
const root = join(here, '..', '..');

const allocatorLabel = () =>
  Object.entries(RETAIN_ENV).every(([k, v]) => process.env[k] === v)
    ? `keeps freed blocks (${Object.entries(RETAIN_ENV).map(([k, v]) => `${k}=${v}`).join(' ')})`
    : 'system default';
const s = (ms: number) => (ms / 1000).toFixed(2);
const gib = (b: number) => (b / 2 ** 30).toFixed(2);
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
interface Timing {
  wall: number;
  cpu: number;
}
/** `1.23 s (cpu 1.10 s)`, or in ms below a second. */
const fmt = (t: Timing) =>
  t.wall >= 1000 ? `${s(t.wall)} s (cpu ${s(t.cpu)} s)` : `${t.wall.toFixed(1)} ms (cpu ${t.cpu.toFixed(1)} ms)`;

/** Min over `reps` runs (after `warmup` runs) of wall and CPU ms. */
async function time(fn: () => unknown, reps = 1, warmup = 0): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    await fn();
    wall = Math.min(wall, performance.now() - t0);
    cpu = Math.min(cpu, cpuMs() - c0);
  }
  return { wall, cpu };
}

/**
 * A synthetic aperture pair `[H, W, 3]`: textured image over a depth ramp 1.2 m -> 6 m with a near box,
 * f = 50 mm focused at 2 m, f/22 and f/8, pixel pitch scaled so CoCs are those of a 768 px wide frame at 5 um.
 */
function syntheticScene(W: number, H: number) {
  const rng = new Rng(1);
  const img = new Float32Array(H * W * 3);
  const depth = new Float32Array(H * W);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const p = i * W + j;
      const u = (j + 0.5) / W;
      depth[p] = 1 / (1 / 1.2 + u * (1 / 6 - 1 / 1.2));
      if (i > H / 3 && i < (2 * H) / 3 && j > W / 3 && j < (2 * W) / 3) depth[p] = 0.96;
      for (let c = 0; c < 3; c++) {
        img[p * 3 + c] =
          0.3 + 0.25 * Math.sin((0.07 * i * 768) / W + c) * Math.cos((0.05 * j * 768) / W - c) + 0.1 * rng.uniform();
      }
    }
  }
  const camera = new ThinLensCamera({ focalLengthMm: 50, pixelPitchUm: (5 * 768) / W, focusDistanceM: 2 });
  const aif = tf.tensor3d(img, [H, W, 3]);
  const depthT = tf.tensor2d(depth, [H, W]);
  const observed = getRenderer('scatter').render(aif, depthT, camera, modelFNumber(22, 8, true));
  depthT.dispose();
  const srgb = tf.tidy(() => tf.clipByValue(tf.pow(aif, 1 / 2.2), 0, 1) as tf.Tensor3D);
  return {
    srgb,
    problem: (prior: DepthPrior): DepthProblem => ({ aif, observed, camera, fNumberAif: 22, fNumberBlurred: 8, prior }),
    dispose: () => tf.dispose([aif, observed, srgb]),
  };
}

/** Splits the prior's share of a loop iteration: time in predictWithVjp (forward) and in backward. */
class TimedPrior implements DepthPrior {
  readonly name: string;
  readonly latentShape: readonly number[];
  readonly outputShape: readonly [number, number];
  readonly sphericalLatent: boolean;
  readonly trainable: boolean;
  forward: Timing = { wall: 0, cpu: 0 };
  backward: Timing = { wall: 0, cpu: 0 };
  /** When `predictWithVjp` or `predict` was first called (the start of a loop's first iteration). */
  firstCall?: Timing;
  /** A copy of the relative depth of the last `predictWithVjp` call. */
  lastDepth?: tf.Tensor2D;
  readonly predictAsync?: (latent: tf.Tensor) => Promise<tf.Tensor2D>;
  readonly predictWithVjp?: (latent: tf.Tensor) => Promise<PriorVjp>;

  constructor(private readonly inner: DepthPrior) {
    this.name = inner.name;
    this.latentShape = inner.latentShape;
    this.outputShape = inner.outputShape;
    this.sphericalLatent = inner.sphericalLatent;
    this.trainable = inner.trainable;
    if (inner.predictAsync) this.predictAsync = (z) => inner.predictAsync!(z);
    if (inner.predictWithVjp) {
      this.predictWithVjp = async (z) => {
        const c0 = cpuMs();
        const t0 = performance.now();
        this.firstCall ??= { wall: t0, cpu: c0 };
        const pass = await inner.predictWithVjp!(z);
        this.add(this.forward, t0, c0);
        this.lastDepth?.dispose();
        this.lastDepth = tf.keep(pass.depth.clone());
        return {
          depth: pass.depth,
          backward: async (d) => {
            const c1 = cpuMs();
            const t1 = performance.now();
            const g = await pass.backward(d);
            this.add(this.backward, t1, c1);
            return g;
          },
        };
      };
    }
  }

  private add(acc: Timing, t0: number, c0: number) {
    acc.wall += performance.now() - t0;
    acc.cpu += cpuMs() - c0;
  }

  reset() {
    this.forward = { wall: 0, cpu: 0 };
    this.backward = { wall: 0, cpu: 0 };
    this.firstCall = undefined;
  }

  initialLatent(seed: number) {
    return this.inner.initialLatent(seed);
  }

  predict(latent: tf.Tensor) {
    // The tfjs engine's loop differentiates `predict` under a tape: its first call starts the loop too.
    this.firstCall ??= { wall: performance.now(), cpu: cpuMs() };
    return this.inner.predict(latent);
  }

  dispose() {
    this.lastDepth?.dispose();
    this.inner.dispose();
  }
}

/** Renderer + loss forward/backward (relative depth given) and one Adam step with the sphere projection. */
async function hostParts(problem: DepthProblem, relative: tf.Tensor2D, reps: number) {
  const mapping = new FreeMapping();
  const { loss } = createDefocusObjective(problem, {
    mapping,
    renderer: getRenderer('scatter'),
    fNumber: modelFNumber(22, 8, true),
    lossFn: l2Loss(),
  });
  const z = problem.prior.initialLatent(0);
  const ss = tf.tensor1d(mapping.paramsFor({ scale: 4, shift: 1.2 }));
  const renderer = await time(
    () =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((rel: tf.Tensor, p: tf.Tensor) =>
          loss({ [LATENT_GROUP]: z, [SCALE_SHIFT_GROUP]: p }, 0, rel as tf.Tensor2D),
        )([relative, ss]);
        value.dataSync();
        grads.forEach((g) => g.dataSync());
      }),
    reps,
    1,
  );
  const adam = new Adam([
    { name: LATENT_GROUP, lr: 0.01 },
    { name: SCALE_SHIFT_GROUP, lr: 0.01 },
  ]);
  const gz = tf.randomNormal(z.shape, 0, 1, 'float32', 3);
  const gs = tf.onesLike(ss);
  const step = await time(
    () => {
      const next = adam.step({ [LATENT_GROUP]: z, [SCALE_SHIFT_GROUP]: ss }, { [LATENT_GROUP]: gz, [SCALE_SHIFT_GROUP]: gs }, 1);
      const p = projectToSphere(next[LATENT_GROUP]);
      p.dataSync();
      next[SCALE_SHIFT_GROUP].dataSync();
      tf.dispose([p, ...Object.values(next)]);
    },
    reps,
    1,
  );
  adam.dispose();
  tf.dispose([z, ss, gz, gs]);
  return { renderer, step };
}

/**
 * Wall and CPU ms per iteration of the full variant's loop (optimizeDepth), from marks taken after each
 * iteration (a hook): over iterations 2..N, or, for one iteration, from the prior's first
 * `predictWithVjp` / `predict` call. `warm` first runs one iteration (kernels, sessions).
 */
async function loop(
  problem: DepthProblem,
  prior: TimedPrior,
  iterations: number,
  warm = true,
  onFirstMark?: () => void,
): Promise<Timing> {
  // No grid search and no depth-edge mask: they cost prior forwards before the loop, not in it.
  const config = {
    variant: 'full' as const,
    iterations,
    seed: 0,
    mappingInit: 'default' as const,
    masks: { depthEdges: null },
  };
  if (warm) (await optimizeDepth(problem, { ...config, iterations: 1 }, { progress: false })).dispose();
  prior.reset();
  const marks: Timing[] = [];
  const hooks = [
    {
      every: 1,
      fn: () => {
        marks.push({ wall: performance.now(), cpu: cpuMs() });
        if (marks.length === 1) onFirstMark?.();
      },
    },
  ];
  (await optimizeDepth(problem, config, { progress: false, hooks })).dispose();
  const first = iterations > 1 ? marks[0] : prior.firstCall;
  const last = marks[marks.length - 1];
  if (!first || !last) throw new Error('loop: no timing marks');
  const n = iterations > 1 ? iterations - 1 : 1;
  return { wall: (last.wall - first.wall) / n, cpu: (last.cpu - first.cpu) / n };
}

// ---------------------------------------------------------------------------------------------------------
// (a) the default prior, tfjs vs onnx

async function tiny(): Promise<void> {
  const installed = defaultModelPath();
  const ckpt = installed ?? join(root, 'test/data/diffusers-tiny/sd2-tiny/checkpoint');
  const label = installed ? DEFAULT_MODEL_DIR : 'sd2-tiny (fallback: the default model is not installed)';
  const iterations = Number(args.iterations);
  const cmd = `npx tsx experiments/bench/iteration.ts --part tiny --iterations ${iterations} --backend ${backend}${threads ? ` --threads ${threads}` : ''}`;
  const line = (t: string) => console.log(`${t}    # ${cmd}`);
  const cacheDir = mkdtempSync(join(tmpdir(), 'aperture-depth-iteration-'));
  try {
    const tfjsModel = await MarigoldPrior.load(ckpt);
    const res = tfjsModel.processingResolution;
    const steps = tfjsModel.steps;
    // An image of the processing size, 4:3 landscape.
    const W = res;
    const H = Math.round((res * 3) / 4);
    const onnxModel = await OnnxMarigoldPrior.load(ckpt, { cacheDir, threads });
    const results: Record<string, { iteration: Timing; fwd: Timing; grad: Timing; renderer: Timing; step: Timing }> = {};
    for (const engine of ['tfjs', 'onnx'] as const) {
      const scene = syntheticScene(W, H);
      const inner =
        engine === 'tfjs'
          ? MarigoldDepthPrior.create(tfjsModel, scene.srgb)
          : await MarigoldDepthPrior.createAsync(onnxModel, scene.srgb);
      const prior = new TimedPrior(inner);
      const problem = scene.problem(prior);
      const z = prior.initialLatent(0);
      const w = tf.randomNormal([...prior.outputShape], 0, 1, 'float32', 2) as tf.Tensor2D;
      let fwd: Timing;
      let grad: Timing;
      let relative: tf.Tensor2D;
      if (engine === 'tfjs') {
        fwd = await time(() => tf.tidy(() => prior.predict(z).dataSync()), 3, 1);
        const both = await time(
          () => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(prior.predict(x), w)))(z).dataSync()),
          3,
          1,
        );
        grad = { wall: both.wall - fwd.wall, cpu: both.cpu - fwd.cpu };
        relative = prior.predict(z);
      } else {
        await onnxModel.prepare({ steps });
        fwd = await time(async () => (await prior.predictAsync!(z)).dispose(), 3, 1);
        const both = await time(async () => {
          const pass = await prior.predictWithVjp!(z);
          tf.dispose([pass.depth, await pass.backward(w)]);
        }, 3, 1);
        grad = { wall: both.wall - fwd.wall, cpu: both.cpu - fwd.cpu };
        relative = await prior.predictAsync!(z);
      }
      const { renderer, step } = await hostParts(problem, relative, 3);
      const iteration = await loop(problem, prior, iterations);
      results[engine] = { iteration, fwd, grad, renderer, step };
      line(
        `${engine} engine, ${label}, ${W}x${H} (latent ${prior.latentShape.slice(2).reverse().join('x')}, ${steps} step(s)): ` +
          `prior forward ${fmt(fwd)}, prior gradient ${fmt(grad)}, renderer fwd+bwd ${fmt(renderer)}, ` +
          `optimizer step ${fmt(step)}; one iteration ${fmt(iteration)} (loop of ${iterations}); load ${loadavg()[0].toFixed(1)}`,
      );
      tf.dispose([z, w, relative]);
      prior.dispose();
      scene.dispose();
    }
    const a = results.tfjs!.iteration;
    const b = results.onnx!.iteration;
    line(
      `iteration speed-up onnx vs tfjs (${backend}), ${label}: ${(a.wall / b.wall).toFixed(1)}x wall ` +
        `(${s(a.wall)} s -> ${s(b.wall)} s), ${(a.cpu / b.cpu).toFixed(1)}x cpu; prior forward+gradient ` +
        `${((results.tfjs!.fwd.wall + results.tfjs!.grad.wall) / (results.onnx!.fwd.wall + results.onnx!.grad.wall)).toFixed(1)}x`,
    );
    tfjsModel.dispose();
    await onnxModel.dispose();
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// (b), (c) the real Marigold shape, random weights, onnx

const diskOf = (n: { disk?: { writtenBytes: number; linkedBytes: number } }) => n.disk ?? { writtenBytes: 0, linkedBytes: 0 };

/** The real Marigold (SD2) UNet and VAE configs. */
function realConfigs() {
  const unetRaw = JSON.parse(readFileSync(join(here, 'configs', 'marigold-depth-v1-0-unet.json'), 'utf8'));
  const unetConfig = parseUNetConfig(unetRaw, 'marigold-depth-v1-0-unet.json');
  const vaeConfig = parseVaeConfig(
    {
      _class_name: 'AutoencoderKL',
      act_fn: 'silu',
      block_out_channels: [128, 256, 512, 512],
      down_block_types: Array(4).fill('DownEncoderBlock2D'),
      up_block_types: Array(4).fill('UpDecoderBlock2D'),
      in_channels: 3,
      out_channels: 3,
      latent_channels: 4,
      layers_per_block: 2,
      norm_num_groups: 32,
      sample_size: 768,
      scaling_factor: 0.18215,
    },
    'SD2 vae config',
  );
  return { unetRaw, unetConfig, vaeConfig };
}

/** What the real part loads, for the native allocator's auto mode (as the CLI decides it). */
function realLoad(): NativeMemoryLoad {
  const [W, H] = args.size!.split('x').map(Number) as [number, number];
  const { unetRaw, unetConfig, vaeConfig } = realConfigs();
  const ckpt = randomCheckpoint(unetRaw, vaeConfig.raw);
  const bytes = ['unet', 'vae'].reduce((a, c) => a + fileIdentity(join(ckpt, c, 'diffusion_pytorch_model.safetensors')).size, 0);
  const fp = footprintFromConfigs(unetConfig, vaeConfig, bytes / 4, { steps: 1, processingResolution: Math.max(W, H) });
  const pass = priorPassBytes(fp, W, H);
  return { networkWeightBytes: bytes, passBytes: pass.unet + pass.decoder };
}

/**
 * The stand-in for the user's checkpoint on disk: random weights, written once (not part of the cold
 * start, as a downloaded checkpoint is not) and read back as any checkpoint is.
 */
function randomCheckpoint(unetRaw: Record<string, unknown>, vaeRaw: Record<string, unknown>): string {
  const ckpt = args['random-checkpoint'] || join(root, '.cache', 'bench', 'marigold-shape-random-seed0');
  const ckptSeconds = ensureRandomCheckpoint(ckpt, { unet: unetRaw, vae: vaeRaw });
  if (ckptSeconds > 0) console.log(`random-weight checkpoint written to ${ckpt} in ${ckptSeconds.toFixed(1)} s (once; reused by later runs)`);
  return ckpt;
}

async function real(): Promise<void> {
  const [W, H] = args.size!.split('x').map(Number) as [number, number];
  const checkpointBytes = Number(args['checkpoint-mb']) * 2 ** 20;
  const cmd =
    (nativeMemoryMode() !== 'auto' ? `${NATIVE_MEMORY_ENV}=${nativeMemoryMode()} ` : '') +
    `npx tsx experiments/bench/iteration.ts --part real --size ${W}x${H}` +
    (args['checkpoint-mb'] !== '1024' ? ` --checkpoint-mb ${args['checkpoint-mb']}` : '') +
    (args['keep-mb'] ? ` --keep-mb ${args['keep-mb']}` : '') +
    (threads ? ` --threads ${threads}` : '') +
    (args['real-iterations'] !== '2' ? ` --real-iterations ${args['real-iterations']}` : '') +
    (args.link === undefined ? '' : args.link ? ' --link' : ' --no-link');
  const line = (t: string) => console.log(`${t}    # ${cmd}`);
  const { unetRaw, unetConfig, vaeConfig } = realConfigs();
  const ownCache = !args['cache-dir'];
  const cacheDir = args['cache-dir'] || mkdtempSync(join(tmpdir(), 'aperture-depth-iteration-real-'));
  const crossDim = unetConfig.cross_attention_dim[0]!;
  const embedding = { data: new Rng(7).normalArray(2 * crossDim), shape: [1, 2, crossDim] };
  const ckpt = randomCheckpoint(unetRaw, vaeConfig.raw);
  const unetFile = join(ckpt, 'unet', 'diffusion_pytorch_model.safetensors');
  const vaeFile = join(ckpt, 'vae', 'diffusion_pytorch_model.safetensors');
  let weightsMs = 0;
  const timedLoad = <T>(f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    weightsMs += performance.now() - t0;
    return r;
  };
  const makePrior = () =>
    OnnxMarigoldPrior.fromNetworks(
      {
        unetConfig,
        vaeConfig,
        unet: () => timedLoad(() => loadComponent(join(ckpt, 'unet'), (raw, file, src) => new UNet2DConditionModel(parseUNetConfig(raw, file), src)).model),
        vae: () => timedLoad(() => loadComponent(join(ckpt, 'vae'), (raw, file, src) => new AutoencoderKL(parseVaeConfig(raw, file), src)).model),
        identity: { unet: fileIdentity(unetFile), vae: fileIdentity(vaeFile) },
        weightsBytes: { unet: fileIdentity(unetFile).size, vae: fileIdentity(vaeFile).size }, // linked by default (large)
        scheduler: loadScheduler(join(root, 'test/data/marigold-configs/marigold-depth-v1-0/scheduler')),
        steps: 1,
        processingResolution: Math.max(W, H),
        textEmbedding: embedding,
      },
      { cacheDir, threads, checkpointBytes, ...(args['keep-mb'] ? { keepActivationBytes: Number(args['keep-mb']) * 2 ** 20 } : {}), ...(args.link === undefined ? {} : { linkCheckpoint: args.link }), spinning: args.spin, cpuArena: args.arena, memPattern: args['mem-pattern'] },
    );
  try {
    // 1. cold: load the checkpoint, trace, VJP, write (link the checkpoint, write flipped kernels); sessions
    const scene = syntheticScene(W, H);
    let t0 = performance.now();
    const model = makePrior();
    const inner = await MarigoldDepthPrior.createAsync(model, scene.srgb);
    const encodeMs = performance.now() - t0;
    t0 = performance.now();
    await model.prepare();
    const prepareMs = performance.now() - t0;
    const st = await model.networkStats();
    const unet = st.unet!; // one UNet graph for every timestep
    const dec = st.decoder;
    const build = unet.buildMs + dec.buildMs + (st.encoder?.buildMs ?? 0);
    const sessions = unet.sessionMs + dec.sessionMs;
    line(
      `real-shape UNet (${unet.nodes} nodes, ${unet.segments} segments, ${unet.keptSegments} kept) + VAE decoder ` +
        `(${dec.nodes} nodes, ${dec.segments} segments, ${dec.keptSegments} kept), ` +
        `latent ${W / 8}x${H / 8}, cold: graph build ${s(build)} s incl. opening the checkpoint ${s(weightsMs)} s (its values are read where the build needs them) ` +
        `(unet trace ${s(unet.buildPhasesMs.trace)} + vjp ${s(unet.buildPhasesMs.vjp)} + write ${s(unet.buildPhasesMs.write)}; ` +
        `decoder ${s(dec.buildMs)}; encoder ${s(st.encoder?.buildMs ?? 0)}), ` +
        `${gib(diskOf(unet).writtenBytes + diskOf(dec).writtenBytes)} GiB written, ${gib(diskOf(unet).linkedBytes + diskOf(dec).linkedBytes)} GiB read in place from the checkpoint (${unet.disk?.linkMode ?? 'no'} link); ` +
        `sessions (unet + decoder, forward + gradient) ${s(sessions)} s; build + sessions ${s(build + sessions)} s ` +
        `(encode image incl. encoder build + run ${s(encodeMs)} s, prepare ${s(prepareMs)} s); peak RSS ${gib(peakRss())} GiB`,
    );

    // 2. one iteration and its parts (the prior's split measured inside the loop)
    // The first iteration pays one-time costs (first touch of weights and buffers); the figure is the mean
    // of iterations 2..N (a run does hundreds), the first one is printed beside it.
    const prior = new TimedPrior(inner);
    const problem = scene.problem(prior);
    const realIterations = Math.max(1, Number(args['real-iterations']));
    let firstIteration: Timing | undefined;
    const t1 = { wall: performance.now(), cpu: cpuMs() };
    const iteration = await loop(problem, prior, realIterations, false, () => {
      if (realIterations === 1) return; // the one iteration is timed from the prior's first call
      firstIteration = { wall: performance.now() - t1.wall, cpu: cpuMs() - t1.cpu };
      prior.reset();
    });
    if (realIterations > 1) {
      const n = realIterations - 1;
      for (const t of [prior.forward, prior.backward]) {
        t.wall /= n;
        t.cpu /= n;
      }
    }
    const { renderer, step } = await hostParts(problem, prior.lastDepth!, 1);
    const fwdFlops = unet.forwardFlops + dec.forwardFlops;
    const iterFlops = unet.forwardPassFlops + dec.forwardPassFlops;
    const rate = (flops: number, t: Timing) =>
      `${(flops / 1e9).toFixed(0)} GFLOP, ${(flops / 1e6 / t.wall).toFixed(0)} GFLOP/s wall (${((100 * flops) / 1e6 / t.wall / peak).toFixed(0)} % of ${peak}), ` +
      `${(flops / 1e6 / t.cpu).toFixed(0)} GFLOP per cpu-s`;
    line(
      `real-shape ${W}x${H} onnx: one iteration ${fmt(iteration)}${realIterations > 1 ? ` (${realIterations > 2 ? `mean of iterations 2-${realIterations}` : 'the second'}; the first ${fmt(firstIteration!)})` : ''}, ${rate(iterFlops, iteration)}; ` +
        `prior forward ${fmt(prior.forward)} (${rate(fwdFlops, prior.forward)}), prior gradient ${fmt(prior.backward)} ` +
        `(${rate(iterFlops - fwdFlops, prior.backward)}), renderer fwd+bwd ${fmt(renderer)}, optimizer step ${fmt(step)}; ` +
        `peak RSS ${gib(peakRss())} GiB; load ${loadavg()[0].toFixed(1)}; allocator ${allocatorLabel()}`,
    );
    prior.dispose();
    await model.dispose();

    // 3. from the cache: no weights, no tracing
    weightsMs = 0;
    t0 = performance.now();
    const again = makePrior();
    const inner2 = await MarigoldDepthPrior.createAsync(again, scene.srgb);
    const encode2 = performance.now() - t0;
    t0 = performance.now();
    await again.prepare();
    const prepare2 = performance.now() - t0;
    const st2 = await again.networkStats();
    const hit = st2.unet!.fromCache && st2.decoder.fromCache && weightsMs === 0;
    line(
      `real-shape ${W}x${H} from the cache: hit ${hit}, sessions (unet + decoder) ${s(st2.unet!.sessionMs + st2.decoder.sessionMs)} s ` +
        `(prepare ${s(prepare2)} s; encode image incl. encoder session + run ${s(encode2)} s); peak RSS ${gib(peakRss())} GiB`,
    );
    inner2.dispose();
    await again.dispose();
    scene.dispose();
  } finally {
    if (ownCache) rmSync(cacheDir, { recursive: true, force: true });
  }
}

// As the CLI does (glibc): start again with the allocator settings that keep onnxruntime's freed blocks when
// APERTURE_DEPTH_NATIVE_MEMORY=retain, or when auto finds the real part's predicted peak fits (native-memory.ts).
await relaunchWithNativeMemory(part === 'all' || part === 'real' ? realLoad : undefined, (l) => console.log(l));
await initEngine(backend);
if (part === 'all' || part === 'tiny') await tiny();
if (part === 'all' || part === 'real') await real();
