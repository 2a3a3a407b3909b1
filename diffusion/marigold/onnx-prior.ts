import * as tf from '@tensorflow/tfjs';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import { normalTensor } from '../../core/tensor/normal-tensor.ts';
import { loadComponent, readComponentConfig } from '../checkpoint/load-weights.ts';
import { openModelFolder, type ModelFolder } from '../checkpoint/model-folder.ts';
import { resolveModel, type KnownModel } from '../checkpoint/registry.ts';
import { loadTextEncoder } from '../models/load.ts';
import { parseUNetConfig, type UNetConfig } from '../models/unet/config.ts';
import { timeProjectionData, timeProjectionSpec } from '../models/unet/time-embedding.ts';
import { UNet2DConditionModel } from '../models/unet/unet.ts';
import { parseVaeConfig, type VaeConfig } from '../models/vae/config.ts';
import { AutoencoderKL } from '../models/vae/autoencoder-kl.ts';
import { tfjsOps } from '../ops/tfjs-ops.ts';
import { fileIdentity } from '../onnx/graph-cache.ts';
import { OnnxNetwork, type NetworkStats, type OnnxNetworkOptions } from '../onnx/run-graph.ts';
import type { SessionSettings } from '../onnx/session.ts';
import type { DiffusionScheduler } from '../schedulers/index.ts';
import { depthFromDecoded } from './depth-head.ts';
import {
  checkMarigoldChannels,
  checkNoiseLatent,
  imageGeometry,
  noiseLatentShape,
  resolvePriorSettings,
  stepNoiseRng,
  vaeScaleFactor,
  type MarigoldPriorOptions,
  type SchedulerKind,
} from './pipeline-steps.ts';
import {
  marigoldGeometry,
  preprocessImage,
  restoreInputResolution,
  type MarigoldGeometry,
} from './preprocess.ts';

/**
 * The Marigold prior on the ONNX engine: the frozen networks run as onnxruntime graphs (`diffusion/onnx`),
 * the cheap host parts (input preprocessing, the scheduler steps, the depth head, the resize back) stay
 * tfjs. onnxruntime is asynchronous and outside tfjs autograd, so gradients take an explicit path:
 * `predictWithVjp(z)` returns the depth and a `backward(dDepth)` that chains
 * depth head (tf.grad) -> VAE decoder (ONNX VJP) -> for each step in reverse: scheduler step (tf.grads)
 * -> UNet (ONNX VJP, latent half of its input) -> d depth / d noise latent.
 *
 * Graphs are built per image geometry (their shapes are static), cached on disk (`graph-cache.ts`): a
 * second run opens sessions without tracing or reading the checkpoint. One UNet graph serves every
 * timestep: its time projection is a graph input (`time_proj`, computed on the host by the code the
 * tfjs UNet uses), not a constant of the trace. The text encoder stays tfjs; it runs once at load.
 *
 * @example
 * const prior = await OnnxMarigoldPrior.load('test/data/diffusers-tiny/sd2-tiny/checkpoint', { steps: 1 });
 * await prior.encodeImage(rgb);                       // [H, W, 3] in [0, 1]
 * const z = prior.sampleLatent(0);                    // [1, 4, h, w]
 * const { depth, backward } = await prior.predictWithVjp(z);
 * const dz = await backward(w);                       // d sum(depth * w) / dz, [1, 4, h, w]
 */

/** Where the networks' weights come from; models are built (host arrays only) on a cache miss. */
export interface MarigoldNetworkSource {
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VaeConfig;
  /** JSON-able identity of the weights (file identities, or a seed): part of every graph's cache key. */
  readonly identity: unknown;
  /** Bytes of the UNet's and the VAE's weights, when known without loading them (picks session settings). */
  readonly weightsBytes?: { unet: number; vae: number };
  /** The UNet with host weights (`bind: null`). Called only when a graph must be traced. */
  unet(): UNet2DConditionModel;
  /** The VAE with host weights. Called only when a graph must be traced. */
  vae(): AutoencoderKL;
  /** Frees models built by `unet()`/`vae()` (their weights live in the graph cache afterwards). */
  release(): void;
}

/** Below this many weight bytes a network counts as small (see `netOptions`). */
const SMALL_NETWORK_BYTES = 256 * 2 ** 20;

/**
 * `1` links float32 checkpoints into the graph cache, `0` copies them (`OnnxEngineOptions.linkCheckpoint`);
 * unset: {@link shouldLinkCheckpoint}'s size rule.
 */
export const LINK_CHECKPOINT_ENV = 'APERTURE_DEPTH_ONNX_LINK';

/**
 * Whether a network's float32 checkpoint is linked into the graph cache rather than copied
 * (`OnnxNetworkOptions.linkCheckpoint`): as `LINK_CHECKPOINT_ENV` says (`1` / `0`; another value is an
 * error naming it), else for networks of at least 256 MiB of weights. Linking writes only the flipped
 * backward kernels (the real Marigold UNet + decoder: 2.2 GiB instead of 5.6), which is what brings a cold
 * start under 30 s; iterations ran as fast as with the copied weights (BENCHMARKS.md). Small networks keep
 * the copy: their first build takes seconds either way, and their results stay what they were.
 */
export function shouldLinkCheckpoint(weightsBytes: number | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[LINK_CHECKPOINT_ENV];
  if (v === '1') return true;
  if (v === '0') return false;
  if (v !== undefined && v !== '')
    throw new ApertureDepthError(`"${v}": expected 1 (link the checkpoint) or 0 (copy its weights)`, { key: LINK_CHECKPOINT_ENV });
  return weightsBytes !== undefined && weightsBytes >= SMALL_NETWORK_BYTES;
}

/** Engine settings of {@link OnnxMarigoldPrior}. */
export interface OnnxEngineOptions extends SessionSettings {
  /** See `OnnxNetworkOptions.linkCheckpoint`. @default {@link shouldLinkCheckpoint} (env, else by size) */
  linkCheckpoint?: boolean;
  /** Graph cache folder; `null` keeps graphs in memory. @default `APERTURE_DEPTH_ONNX_CACHE` or ~/.cache/aperture-depth/onnx */
  cacheDir?: string | null;
  /**
   * Checkpointing budget of the UNet's and the decoder's gradient graphs in bytes (segments of about this
   * many produced bytes; 0 = one joint graph). @default 1 GiB (a tiny model stays one segment)
   */
  checkpointBytes?: number;
  /**
   * Activations a forward pass keeps per network (UNet, decoder) so the backward need not recompute those
   * checkpoint segments (`OnnxNetworkOptions.keepActivationBytes`). @default 1.5 GiB
   */
  keepActivationBytes?: number;
  /** See `OnnxNetworkOptions.profileDir`. @default `APERTURE_DEPTH_ONNX_PROFILE`, else off */
  profileDir?: string;
  /** Messages about graph builds and cache hits. @default none */
  log?: (line: string) => void;
}

export interface OnnxMarigoldPriorOptions extends MarigoldPriorOptions, OnnxEngineOptions {}

/** The encoded image of the ONNX prior: geometry, RGB latent and the networks of its shapes. */
export interface OnnxEncodedImage {
  geometry: MarigoldGeometry;
  /** `vae.encode(image).mean * scaling_factor`, NHWC `[1, h, w, 4]`, kept until `dispose()`. */
  rgbLatent: tf.Tensor4D;
}

export interface OnnxPredictOptions {
  /** @default the prior's `steps` */
  steps?: number;
  /** Seed of LCM's multi-step noise (as `MarigoldPrior`). @default 0 */
  noiseSeed?: number;
  /** @default the image of the last `encodeImage` call */
  image?: OnnxEncodedImage;
}

/** What `predictWithVjp` returns: the depth (caller owns it) and the way back to the latent. */
export interface DepthVjp {
  /** Relative depth `[H, W]` in [0, 1] at the input resolution. */
  depth: tf.Tensor2D;
  /** d sum(depth * dDepth) / d noiseLatent, NCHW like the latent (caller owns it). Runs once. */
  backward(dDepth: tf.Tensor2D): Promise<tf.Tensor4D>;
}

/** Per-image networks: the encoder (forward only), the UNet (every timestep, with gradient), the decoder. */
interface ImageNetworks {
  encoder?: OnnxNetwork;
  /** Built on first use (a prediction or `prepare`). */
  unet?: Promise<OnnxNetwork>;
  decoder: OnnxNetwork;
}

/** Name of the UNet graph's time projection input, `[1, block_out_channels[0]]`. */
const TIME_INPUT = 'time_proj';

const GIB = 2 ** 30;
const nchwToNhwc = (x: tf.Tensor) => tf.transpose(x, [0, 2, 3, 1]);
const nhwcToNchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);

/** A network source over a checkpoint folder: configs read now, weights only on a cache miss. */
export function checkpointNetworkSource(folder: ModelFolder): MarigoldNetworkSource {
  const unetCfg = readComponentConfig(folder.unet.dir);
  const vaeCfg = readComponentConfig(folder.vae.dir);
  let unet: UNet2DConditionModel | undefined;
  let vae: AutoencoderKL | undefined;
  return {
    unetConfig: parseUNetConfig(unetCfg.raw, unetCfg.file),
    vaeConfig: parseVaeConfig(vaeCfg.raw, vaeCfg.file),
    identity: {
      unet: fileIdentity(folder.unet.weights!.file),
      vae: fileIdentity(folder.vae.weights!.file),
    },
    weightsBytes: {
      unet: fileIdentity(folder.unet.weights!.file).size,
      vae: fileIdentity(folder.vae.weights!.file).size,
    },
    unet: () =>
      (unet ??= loadComponent(
        folder.unet.dir,
        (raw, file, src) => new UNet2DConditionModel(parseUNetConfig(raw, file), src),
      ).model),
    vae: () =>
      (vae ??= loadComponent(
        folder.vae.dir,
        (raw, file, src) => new AutoencoderKL(parseVaeConfig(raw, file), src),
      ).model),
    release: () => {
      unet?.dispose();
      vae?.dispose();
      unet = undefined;
      vae = undefined;
    },
  };
}

export class OnnxMarigoldPrior {
  readonly engine = 'onnx';
  private current?: OnnxEncodedImage;
  /** Networks by latent geometry (`PPHxPPW`), shared by the images of that size. */
  private readonly byGeometry = new Map<string, Promise<ImageNetworks>>();
  private readonly networks = new Map<OnnxEncodedImage, ImageNetworks>();

  private constructor(
    private readonly source: MarigoldNetworkSource,
    readonly scheduler: DiffusionScheduler,
    readonly steps: number,
    readonly processingResolution: number,
    /** Reflected margin in processing pixels (`marigoldGeometry`). */
    readonly margin: number,
    /** The empty-prompt text embedding `[1, S, D]` (host copy). */
    private readonly textEmbedding: { data: Float32Array; shape: number[] },
    private readonly engineOptions: OnnxEngineOptions,
    readonly notes: readonly string[],
    readonly known?: Readonly<KnownModel>,
  ) {}

  /** Loads a Marigold checkpoint (folder or known name): configs, scheduler, the text embedding (tfjs, once). */
  static async load(dirOrName: string, options: OnnxMarigoldPriorOptions = {}): Promise<OnnxMarigoldPrior> {
    const { path, known } = resolveModel(dirOrName);
    const folder = openModelFolder(path);
    const { scheduler, steps, processingResolution, margin, promptIds, notes } = resolvePriorSettings(
      folder,
      known,
      options,
    );
    const source = checkpointNetworkSource(folder);
    checkMarigoldChannels(source.unetConfig, source.vaeConfig.latent_channels, folder.unet.configFile);
    const textEncoder = await loadTextEncoder(folder.textEncoder.dir);
    let embedding: { data: Float32Array; shape: number[] };
    try {
      embedding = tf.tidy(() => {
        const e = textEncoder.forward(tfjsOps, promptIds.ids) as tf.Tensor;
        return { data: (e.dataSync() as Float32Array).slice(), shape: e.shape.slice() };
      });
    } finally {
      textEncoder.dispose();
    }
    return new OnnxMarigoldPrior(
      source,
      scheduler,
      steps,
      processingResolution,
      margin,
      embedding,
      options,
      notes,
      known,
    );
  }

  /**
   * A prior over networks given in memory (host weights, e.g. `createUNet(config, seed, { bind: null })`):
   * benchmarks of real-size shapes with random weights. `identity` must change when the weights do. The
   * model functions are called only when a graph is not in the cache; the prior disposes what they return
   * once the graphs that needed it are built (the weights then live in the graph cache).
   */
  static fromNetworks(
    parts: {
      unetConfig: UNetConfig;
      vaeConfig: VaeConfig;
      unet: () => UNet2DConditionModel;
      vae: () => AutoencoderKL;
      identity: unknown;
      /** Bytes of the UNet's and the VAE's weights (picks session settings and linking). */
      weightsBytes?: { unet: number; vae: number };
      scheduler: DiffusionScheduler;
      steps: number;
      processingResolution: number;
      /** @default 0 */
      margin?: number;
      /** `[1, S, cross_attention_dim]` */
      textEmbedding: { data: Float32Array; shape: number[] };
    },
    options: OnnxEngineOptions = {},
  ): OnnxMarigoldPrior {
    let unet: UNet2DConditionModel | undefined;
    let vae: AutoencoderKL | undefined;
    const source: MarigoldNetworkSource = {
      unetConfig: parts.unetConfig,
      vaeConfig: parts.vaeConfig,
      identity: parts.identity,
      ...(parts.weightsBytes ? { weightsBytes: parts.weightsBytes } : {}),
      unet: () => (unet ??= parts.unet()),
      vae: () => (vae ??= parts.vae()),
      release: () => {
        unet?.dispose();
        vae?.dispose();
        unet = undefined;
        vae = undefined;
      },
    };
    parts.scheduler.setTimesteps(parts.steps);
    return new OnnxMarigoldPrior(
      source,
      parts.scheduler,
      parts.steps,
      parts.processingResolution,
      parts.margin ?? 0,
      parts.textEmbedding,
      options,
      [],
    );
  }

  get scalingFactor(): number {
    return this.source.vaeConfig.scaling_factor;
  }

  get vaeScaleFactor(): number {
    return vaeScaleFactor(this.source.vaeConfig);
  }

  get schedulerKind(): SchedulerKind {
    return this.scheduler.kind;
  }

  geometry(height: number, width: number): MarigoldGeometry {
    return marigoldGeometry(height, width, this.processingResolution, this.vaeScaleFactor, this.margin);
  }

  /**
   * Encodes an RGB image in [0, 1] (`[H, W, 3]` or `[1, H, W, 3]`): builds (or finds in the cache) the
   * networks of its geometry, runs the VAE encoder once, keeps `mean * scaling_factor`. Becomes the
   * current image (the previous one's latent is disposed, as `MarigoldPrior` does); an image of the same
   * geometry reuses the networks.
   */
  async encodeImage(
    rgb01: tf.Tensor,
    options: { processingResolution?: number; margin?: number } = {},
  ): Promise<OnnxEncodedImage> {
    const resolution = options.processingResolution ?? this.processingResolution;
    const geometry = imageGeometry(rgb01.shape, resolution, this.vaeScaleFactor, options.margin ?? this.margin);
    const image = tf.tidy(() => preprocessImage(rgb01, geometry)); // [1, PPH, PPW, 3] in [-1, 1]
    let nets: ImageNetworks;
    let mean: Float32Array;
    try {
      nets = await this.networksFor(geometry);
      mean = await nets.encoder!.forward({ image: image.dataSync() as Float32Array });
    } finally {
      image.dispose();
      this.source.release();
    }
    // The encoder runs once per image: give its sessions' memory back.
    await nets.encoder!.dispose();
    const [h, w] = geometry.latent;
    const c = this.source.vaeConfig.latent_channels;
    const rgbLatent = tf.tidy(() => tf.mul(tf.tensor4d(mean, [1, h, w, c]), this.scalingFactor) as tf.Tensor4D);
    const encoded: OnnxEncodedImage = { geometry, rgbLatent };
    if (this.current) {
      this.current.rgbLatent.dispose();
      this.networks.delete(this.current);
    }
    this.networks.set(encoded, nets);
    this.current = encoded;
    return encoded;
  }

  get image(): OnnxEncodedImage {
    check(this.current, () => 'call encodeImage(rgb) before predicting', { key: 'OnnxMarigoldPrior' });
    return this.current;
  }

  get latentShape(): [number, number, number, number] {
    return noiseLatentShape(this.image.geometry, this.source.vaeConfig.latent_channels);
  }

  sampleLatent(seed: number): tf.Tensor4D {
    return normalTensor(new Rng(seed), this.latentShape) as tf.Tensor4D;
  }

  /** Not available: onnxruntime is asynchronous. */
  predictDepth(): tf.Tensor2D {
    throw new ApertureDepthError(
      'the ONNX engine runs asynchronously: use predictDepthAsync or predictWithVjp (or the tfjs engine for tf.grad)',
      { key: 'engine' },
    );
  }

  /** Relative depth `[H, W]` in [0, 1] at the input resolution (no gradient kept). */
  async predictDepthAsync(noiseLatent: tf.Tensor, options: OnnxPredictOptions = {}): Promise<tf.Tensor2D> {
    const { image, unet, timesteps, context, nets } = await this.begin(noiseLatent, options);
    const rng = stepNoiseRng(this.scheduler.kind, timesteps.length, options.noiseSeed);
    let latent = nchwToNhwc(noiseLatent); // [1, h, w, 4]
    try {
      for (let i = 0; i < timesteps.length; i++) {
        const t = timesteps[i]!;
        const v = await unet.forward({ sample: this.sampleOf(image, latent), context, [TIME_INPUT]: this.timeInput(t) });
        const next = this.step(v, t, i, latent, rng);
        latent.dispose();
        latent = next;
      }
      const z = tf.tidy(() => tf.div(latent, this.scalingFactor).dataSync() as Float32Array);
      const decoded = await nets.decoder.forward({ z });
      return tf.tidy(() => this.head(tf.tensor(decoded, [...nets.decoder.outputShape]), image.geometry));
    } finally {
      latent.dispose();
    }
  }

  /**
   * The depth and its vector-Jacobian product with respect to the noise latent. Keeps what the backward
   * pass needs (checkpointed network values on the host, the per-step tfjs inputs) until `backward` runs.
   */
  async predictWithVjp(noiseLatent: tf.Tensor, options: OnnxPredictOptions = {}): Promise<DepthVjp> {
    const { image, unet, nets, timesteps, context, steps } = await this.begin(noiseLatent, options);
    const rng = stepNoiseRng(this.scheduler.kind, timesteps.length, options.noiseSeed);
    const [h, w] = image.geometry.latent;
    const c = this.source.vaeConfig.latent_channels;
    // Per step: the latent it read, the UNet output and the injected noise (tfjs, NHWC), the UNet's backward.
    const saved: {
      t: number;
      latent: tf.Tensor;
      v: tf.Tensor;
      noise?: tf.Tensor;
      backward: (up: Float32Array) => Promise<Float32Array>;
    }[] = [];
    let latent = tf.keep(nchwToNhwc(noiseLatent)); // [1, h, w, 4]
    let decodedImage: tf.Tensor | undefined;
    const release = () => {
      for (const s of saved) tf.dispose([s.latent, s.v, ...(s.noise ? [s.noise] : [])]);
      saved.length = 0;
      decodedImage?.dispose();
      decodedImage = undefined;
    };
    let decoderBackward: (up: Float32Array) => Promise<Float32Array>;
    let depth: tf.Tensor2D;
    try {
      for (let i = 0; i < timesteps.length; i++) {
        const t = timesteps[i]!;
        const pass = await unet.forwardPass({
          sample: this.sampleOf(image, latent),
          context,
          [TIME_INPUT]: this.timeInput(t),
        });
        const v = tf.tensor4d(pass.output, [1, h, w, c]);
        const noise = this.noiseFor(i, latent.shape, rng);
        const next = tf.tidy(() => this.scheduler.step(v, t, latent, { noise, stepIndex: i }).prevSample);
        saved.push({ t, latent, v, noise, backward: pass.backward });
        latent = next;
      }
      const z = tf.tidy(() => tf.div(latent, this.scalingFactor).dataSync() as Float32Array);
      latent.dispose();
      const pass = await nets.decoder.forwardPass({ z });
      decoderBackward = pass.backward;
      decodedImage = tf.tensor(pass.output, [...nets.decoder.outputShape]); // [1, PPH, PPW, 3]
      depth = tf.tidy(() => this.head(decodedImage!, image.geometry));
    } catch (err) {
      latent.dispose();
      release();
      throw err;
    }
    let used = false;
    const backward = async (dDepth: tf.Tensor2D): Promise<tf.Tensor4D> => {
      check(!used, () => 'backward() of a prediction can run once', { key: 'backward' });
      used = true;
      check(
        dDepth.shape[0] === depth.shape[0] && dDepth.shape[1] === depth.shape[1],
        () => `dDepth is [${dDepth.shape}], the depth [${depth.shape}]`,
        { key: 'dDepth' },
      );
      try {
        // depth head and resize: d/d decoded image
        const dImage = tf.tidy(
          () =>
            tf
              .grad((x: tf.Tensor) => this.head(x, image.geometry))(decodedImage!, dDepth)
              .dataSync() as Float32Array,
        );
        const dz = await decoderBackward(dImage); // d/dz, z = latent / scaling_factor
        let dLatent = tf.tidy(() => tf.div(tf.tensor4d(dz, [1, h, w, c]), this.scalingFactor));
        this.scheduler.setTimesteps(steps);
        for (let i = saved.length - 1; i >= 0; i--) {
          const s = saved[i]!;
          const [dV, dPrev] = tf.tidy(() =>
            tf.grads((v: tf.Tensor, x: tf.Tensor) =>
              this.scheduler.step(v, s.t, x, { noise: s.noise, stepIndex: i }).prevSample,
            )([s.v, s.latent], dLatent),
          );
          dLatent.dispose();
          const dV32 = dV.dataSync() as Float32Array;
          dV.dispose();
          const dSample = await s.backward(dV32); // [1, h, w, 2c]: rgb latent first, then the latent
          dLatent = tf.tidy(() =>
            tf.add(dPrev, tf.slice(tf.tensor4d(dSample, [1, h, w, 2 * c]), [0, 0, 0, c], [-1, -1, -1, c])),
          );
          dPrev.dispose();
        }
        const out = tf.tidy(() => nhwcToNchw(dLatent) as tf.Tensor4D);
        dLatent.dispose();
        return out;
      } finally {
        release();
      }
    };
    return { depth: depth!, backward };
  }

  /**
   * Opens every session predictions will use for the current image (otherwise opened on first use).
   * `steps` is accepted for compatibility: the UNet's sessions serve any number of steps.
   */
  async prepare(options: { steps?: number; gradient?: boolean } = {}): Promise<void> {
    const image = this.image;
    const nets = this.networks.get(image)!;
    const which = { forward: true, pass: options.gradient ?? true }; // pass: forwardPass + backward
    await (await this.unetFor(image, nets)).prepare(which); // one UNet for every step (and step count)
    await nets.decoder.prepare(which);
  }

  /**
   * Build and session statistics of the current image's networks: the UNet (one for every timestep;
   * absent until a prediction or `prepare` built it), the decoder, the encoder.
   */
  async networkStats(): Promise<{ unet?: NetworkStats; decoder: NetworkStats; encoder?: NetworkStats }> {
    const nets = this.networks.get(this.image)!;
    const unet = nets.unet ? await nets.unet : undefined;
    return { unet: unet?.stats, decoder: nets.decoder.stats, encoder: nets.encoder?.stats };
  }

  /** Releases every session and the encoded images. */
  async dispose(): Promise<void> {
    for (const image of this.networks.keys()) image.rgbLatent.dispose();
    this.networks.clear();
    for (const p of this.byGeometry.values()) {
      const nets = await p.catch(() => undefined);
      if (!nets) continue;
      await nets.encoder?.dispose();
      await (await nets.unet?.catch(() => undefined))?.dispose();
      await nets.decoder.dispose();
    }
    this.byGeometry.clear();
    this.current = undefined;
    this.source.release();
  }

  // ---------------------------------------------------------------------------------------------------

  private netOptions(part: 'unet' | 'vae', wrt?: string): OnnxNetworkOptions {
    const o = this.engineOptions;
    // Small networks are bound by per-node overhead: onnxruntime's `all` level (layout transforms, more
    // fusions) ran the embedded prior's forward + gradient ~12 % faster. Large ones gain < 2 % and open
    // sessions ~3x slower with it (README), so they stay `extended`.
    const bytes = this.source.weightsBytes?.[part];
    const optimization = o.optimization ?? (bytes !== undefined && bytes < SMALL_NETWORK_BYTES ? 'all' : 'extended');
    return {
      threads: o.threads,
      optimization,
      providers: o.providers,
      deviceOutputs: o.deviceOutputs,
      cpuArena: o.cpuArena,
      spinning: o.spinning ?? false, // tfjs host work runs between the sessions' runs
      prepacking: o.prepacking,
      memPattern: o.memPattern,
      cacheDir: o.cacheDir,
      linkCheckpoint: o.linkCheckpoint ?? shouldLinkCheckpoint(bytes),
      profileDir: o.profileDir,
      ...(wrt
        ? { wrt, checkpointBytes: o.checkpointBytes ?? GIB, keepActivationBytes: o.keepActivationBytes ?? 1.5 * GIB }
        : {}),
    };
  }

  private key(part: string, extra: Record<string, unknown> = {}): unknown {
    const identity = this.source.identity as Record<string, unknown>;
    const config = part === 'unet' ? this.source.unetConfig.raw : this.source.vaeConfig.raw;
    return { config, weights: identity?.[part === 'unet' ? 'unet' : 'vae'] ?? identity, ...extra };
  }

  /** The encoder and decoder of a geometry (the UNet comes on demand), built once. */
  private networksFor(geometry: MarigoldGeometry): Promise<ImageNetworks> {
    const id = geometry.padded.join('x');
    let p = this.byGeometry.get(id);
    if (!p) {
      p = this.buildNetworks(geometry);
      this.byGeometry.set(id, p);
      p.catch(() => this.byGeometry.delete(id));
    }
    return p;
  }

  private async buildNetworks(geometry: MarigoldGeometry): Promise<ImageNetworks> {
    const [h, w] = geometry.latent;
    const [ph, pw] = geometry.padded;
    const c = this.source.vaeConfig.latent_channels;
    const log = this.engineOptions.log;
    const encoder = await OnnxNetwork.load(
      {
        name: 'vae-encoder',
        key: this.key('vae'),
        inputs: [{ name: 'image', shape: [1, ph, pw, this.source.vaeConfig.in_channels] }],
        record: (ops, [x]) => this.source.vae().encode(ops, x).mean,
      },
      this.netOptions('vae'),
    );
    const decoder = await OnnxNetwork.load(
      {
        name: 'vae-decoder',
        key: this.key('vae'),
        inputs: [{ name: 'z', shape: [1, h, w, c] }],
        record: (ops, [z]) => this.source.vae().decode(ops, z),
      },
      this.netOptions('vae', 'z'),
    );
    for (const [name, n] of [
      ['vae-encoder', encoder],
      ['vae-decoder', decoder],
    ] as const) {
      log?.(describe(name, `${w}x${h}`, n.stats));
    }
    return { encoder, decoder };
  }

  /**
   * The UNet of a geometry, built (or found in the cache) once: the timestep is an input (its projection,
   * `time_proj`), so one graph and one cache entry serve every timestep. The gradient is w.r.t. `sample`
   * only (`context` and `time_proj` are constants of the VJP).
   */
  private unetFor(image: OnnxEncodedImage, nets: ImageNetworks): Promise<OnnxNetwork> {
    if (!nets.unet) {
      const [h, w] = image.geometry.latent;
      const c = this.source.vaeConfig.latent_channels;
      const p = OnnxNetwork.load(
        {
          name: 'unet',
          key: this.key('unet'),
          inputs: [
            { name: 'sample', shape: [1, h, w, 2 * c] },
            { name: 'context', shape: this.textEmbedding.shape },
            { name: TIME_INPUT, shape: [1, timeProjectionSpec(this.source.unetConfig).dim] },
          ],
          record: (ops, [sample, context, projection]) =>
            this.source.unet().forward(ops, sample, { projection }, context),
        },
        this.netOptions('unet', 'sample'),
      ).then((net) => {
        this.source.release();
        this.engineOptions.log?.(describe('unet', `${w}x${h}`, net.stats));
        return net;
      });
      nets.unet = p;
      // A failed build is not cached.
      p.catch(() => {
        if (nets.unet === p) nets.unet = undefined;
      });
    }
    return nets.unet;
  }

  /** The UNet's `time_proj` input for timestep `t`: the projection the tfjs UNet makes a constant of. */
  private timeInput(t: number): Float32Array {
    return timeProjectionData(t, 1, timeProjectionSpec(this.source.unetConfig));
  }

  /** Checks the latent, sets the timesteps and makes sure the UNet exists. */
  private async begin(noiseLatent: tf.Tensor, options: OnnxPredictOptions) {
    const image = options.image ?? this.image;
    const nets = this.networks.get(image);
    check(nets, () => 'this image was not encoded by this prior (or the prior was disposed)', { key: 'image' });
    checkNoiseLatent(
      noiseLatent.shape,
      noiseLatentShape(image.geometry, this.source.vaeConfig.latent_channels),
    );
    const steps = options.steps ?? this.steps;
    const timesteps = [...this.scheduler.setTimesteps(steps)];
    const unet = await this.unetFor(image, nets);
    this.scheduler.setTimesteps(steps); // a concurrent call may have changed them while we waited
    return { image, nets, unet, timesteps, steps, context: this.textEmbedding.data };
  }

  private noiseFor(i: number, shape: number[], rng: Rng | undefined): tf.Tensor | undefined {
    if (!this.scheduler.injectsNoise(i)) return undefined;
    return normalTensor(rng!, shape);
  }

  /** `concat([rgb latent, latent], channels)` as host data `[1, h, w, 2c]`. */
  private sampleOf(image: OnnxEncodedImage, latent: tf.Tensor): Float32Array {
    return tf.tidy(() => tf.concat([image.rgbLatent, latent], 3).dataSync() as Float32Array);
  }

  /** One scheduler step on the UNet output (host data); a new latent. */
  private step(v: Float32Array, t: number, i: number, latent: tf.Tensor, rng: Rng | undefined): tf.Tensor {
    const noise = this.noiseFor(i, latent.shape, rng);
    try {
      return tf.tidy(() =>
        this.scheduler.step(tf.tensor(v, latent.shape), t, latent, { noise, stepIndex: i }).prevSample,
      );
    } finally {
      noise?.dispose();
    }
  }

  /** Depth head + resize back: decoded `[1, PPH, PPW, 3]` -> `[H, W]`. Differentiable (tfjs). */
  private head(decoded: tf.Tensor, geometry: MarigoldGeometry): tf.Tensor2D {
    return tf.tidy(
      () =>
        restoreInputResolution(
          tf.reshape(depthFromDecoded(decoded), geometry.padded),
          geometry,
        ) as tf.Tensor2D,
    );
  }
}

function describe(name: string, size: string, s: NetworkStats): string {
  return s.fromCache
    ? `onnx ${name} ${size}: from the cache (${s.segments} segment(s))`
    : `onnx ${name} ${size}: built in ${(s.buildMs / 1000).toFixed(1)} s (${s.nodes} nodes, ${s.segments} segment(s))`;
}
