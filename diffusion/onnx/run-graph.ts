import type * as ort from 'onnxruntime-node';
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { OnnxGraph, sizeOf, type GraphNode } from './graph-builder.ts';
import { cacheKeyHash, defaultCacheDir, entryDir, readMeta, writeEntry } from './graph-cache.ts';
import {
  encodeModel,
  externalBytes,
  initializersOf,
  isExternal,
  memoryWeights,
  writeWeightsFile,
  type WrittenWeights,
  type GraphView,
} from './model-proto.ts';
import { OnnxOps, type SymbolicTensor } from './onnx-ops.ts';
import { planSegments, describeSegments, type Segment } from './segments.ts';
import { onnxDeviceOutputsFromEnv, onnxProfileDirFromEnv } from '../../core/engine/network-engine.ts';
import { createSession, f32Tensor, sessionProviders, type ModelSource, type SessionSettings } from './session.ts';
import { appendVjp } from './vjp.ts';
import type { VjpOptions } from './vjp-rules.ts';

/**
 * A network traced once through `OnnxOps` and run by onnxruntime: `forward(inputs)` and
 * `vjp(inputs, upstream)` (the output and the gradient of `sum(upstream * output)` w.r.t. one input).
 * Built graphs are cached on disk by a key the caller gives (config, weights identity, host constants)
 * plus the input shapes, so a second process opens sessions without tracing or touching the weights.
 * With `checkpointBytes`, the graph is cut into segments (checkpointing at block boundaries): the VJP
 * keeps only the values that cross cuts and recomputes each segment in its own forward+VJP session.
 *
 * @example
 * const net = await OnnxNetwork.load({
 *   name: 'unet', key: { config: unet.config, weights: fileIdentity(file) },
 *   inputs: [{ name: 'sample', shape: [1, 48, 64, 8] }, { name: 'context', shape: [1, 2, 1024] },
 *            { name: 'time_proj', shape: [1, 320] }],  // the timestep as an input: one graph for all
 *   record: (ops, [sample, context, projection]) => unet.forward(ops, sample, { projection }, context),
 * }, { wrt: 'sample', threads: 2 });
 * const time_proj = timeProjectionData(999, 1, timeProjectionSpec(unet.config));
 * const out = await net.forward({ sample, context, time_proj });          // Float32Array [1, 48, 64, 4]
 * const { output, grad } = await net.vjp({ sample, context, time_proj }, w); // grad: [1, 48, 64, 8]
 */

export interface NetworkTrace {
  /** Label for messages and cache folders (`unet`, `vae-decoder`). */
  readonly name: string;
  /** JSON-able: everything that fixes the graph besides input shapes (config, weights identity, host constants). */
  readonly key: unknown;
  /** Graph inputs in logical (project) layout, e.g. NHWC `[1, h, w, 8]`. */
  readonly inputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** Records the network on symbolic inputs (in `inputs` order); called only when the cache misses. */
  record(ops: OnnxOps, inputs: SymbolicTensor[]): SymbolicTensor;
}

export interface OnnxNetworkOptions extends SessionSettings {
  /** Input to differentiate w.r.t.; omit for a forward-only network. */
  readonly wrt?: string;
  /** Disk cache folder; `null` keeps everything in memory (tests). @default defaultCacheDir() */
  readonly cacheDir?: string | null;
  /**
   * Activation budget per segment in bytes for checkpointing; 0 or absent = one joint forward+VJP graph.
   */
  readonly checkpointBytes?: number;
  /**
   * `forwardPass` keeps the activations of checkpoint segments, chosen by recompute FLOPs saved per byte,
   * up to about this many bytes (besides the last segment's, always kept), so `backward` does not recompute
   * those segments. Not part of the graphs: changing it needs no rebuild. @default 0
   */
  readonly keepActivationBytes?: number;
  readonly vjpOptions?: VjpOptions;
  /**
   * Disk cache: hard-link a float32 checkpoint into the entry and write only transformed weights (the
   * flipped backward kernels), instead of copying every weight. Cuts the cold write (5.6 -> 2.2 GiB for the
   * real Marigold UNet + decoder). Iterations from a linked entry ran as fast as from a copied one
   * (512x384, 2026-12-04: 51.4 and 48.2 s against 45.2-51.6 s; an earlier 1.5x slowdown did not come
   * back). `OnnxMarigoldPrior` links large networks by default. @default false
   */
  readonly linkCheckpoint?: boolean;
  /**
   * Profile every session with onnxruntime's profiler and write one JSON file per session into this folder
   * when the network is disposed (`experiments/bench/onnx-profile.ts` sums them by op type). Not part of
   * the graphs. @default `APERTURE_DEPTH_ONNX_PROFILE`, else off
   */
  readonly profileDir?: string;
}

interface ModelMeta {
  readonly file: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly flops: number;
}

interface SegmentMeta {
  readonly forward: ModelMeta;
  /** Forward+VJP graph: inputs = segment inputs + seeds, outputs = grads (+ the network output if made here). */
  readonly vjp?: ModelMeta & {
    /** forward value -> seed input name */
    readonly seeds: Readonly<Record<string, string>>;
    /** forward value (segment input) -> gradient output name */
    readonly grads: Readonly<Record<string, string>>;
  };
  /**
   * A forward graph that also outputs the activations the segment's backward reads (`forward`), and the
   * backward alone over them (`backward`: inputs = seeds + segment inputs + saved values), so that
   * `forwardPass` + `backward` need not recompute a segment whose activations it kept (`bytes` of them).
   */
  readonly saved?: {
    readonly forward: ModelMeta;
    readonly backward: ModelMeta;
    readonly bytes: number;
  };
}

/** Options that act when the network runs, not on its graphs (no rebuild when they change). */
type RuntimeOptions = Pick<OnnxNetworkOptions, 'keepActivationBytes' | 'profileDir'>;

/** The sessions a segment can have (forward only, recomputing VJP, saving forward, backward over saved values). */
const MODEL_KINDS = ['forward', 'vjp', 'saved-forward', 'saved-backward'] as const;
type ModelKind = (typeof MODEL_KINDS)[number];

/** Prefix of a session's profile file: `<network>-<kind>-<segment>` (onnxruntime appends `_<time>.json`). */
function profileName(network: string, kind: ModelKind, segment: number): string {
  return `${network}-${kind}-${segment}`;
}

/** The network and session kind of a profile file written by `profileDir` (undefined for other names). */
export function profileSession(file: string): { network: string; kind: ModelKind } | undefined {
  const m = new RegExp(`^(.*?)-(${MODEL_KINDS.join('|')})-\\d+_`).exec(file);
  return m ? { network: m[1]!, kind: m[2] as ModelKind } : undefined;
}

interface NetworkMeta {
  readonly name: string;
  readonly hash: string;
  readonly inputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly output: { readonly name: string; readonly shape: readonly number[] };
  readonly wrt?: string;
  readonly segments: readonly SegmentMeta[];
  readonly forwardFlops: number;
  readonly vjpFlops: number;
  readonly weightsBytes: number;
  readonly nodes: number;
  /** The disk cache entry's weights: bytes written, bytes read in place from linked checkpoint files. */
  readonly disk?: { readonly writtenBytes: number; readonly linkedBytes: number; readonly links: WrittenWeights['links'] };
}

export interface NetworkStats {
  /** Time to trace, differentiate and serialize (0 on a cache hit). */
  buildMs: number;
  /** Where a cold build spent its time: tracing, differentiation, writing weights and models. */
  buildPhasesMs: { trace: number; vjp: number; write: number };
  /** Time spent creating sessions so far. */
  sessionMs: number;
  fromCache: boolean;
  segments: number;
  forwardFlops: number;
  /** FLOPs of one `vjp` call (forward, recomputation and backward). */
  vjpFlops: number;
  /** FLOPs of `forwardPass` + `backward` (the forward, then each segment's VJP, recomputing unless kept). */
  forwardPassFlops: number;
  /** Segments whose activations `forwardPass` keeps (`keepActivationBytes`; the last one always). */
  keptSegments: number;
  nodes: number;
  weightsBytes: number;
  /** Disk cache only: weight bytes written to the cache, and bytes read in place from the checkpoint's files. */
  disk?: { writtenBytes: number; linkedBytes: number; linkMode?: 'link' | 'copy' };
}

type Sources = (kind: ModelKind, segment: number) => ModelSource;

const OUTPUT = 'output';

export class OnnxNetwork {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  /** Segments whose activations `forwardPass` keeps (their backward then runs without recomputing). */
  private readonly kept: ReadonlySet<number>;
  readonly stats: NetworkStats;

  private constructor(
    private readonly meta: NetworkMeta,
    private readonly sources: Sources,
    private readonly settings: SessionSettings,
    stats: Omit<NetworkStats, 'forwardPassFlops' | 'keptSegments'>,
    runtime: RuntimeOptions,
  ) {
    this.kept = keptSegments(meta, runtime.keepActivationBytes ?? 0);
    this.profileDir = runtime.profileDir ?? onnxProfileDirFromEnv();
    if (this.profileDir) {
      try {
        mkdirSync(this.profileDir, { recursive: true });
      } catch (err) {
        throw new ApertureDepthError(`cannot make the onnxruntime profile folder: ${(err as Error).message}`, {
          file: this.profileDir,
          key: runtime.profileDir ? 'profileDir' : 'APERTURE_DEPTH_ONNX_PROFILE',
        });
      }
    }
    const passFlops = meta.segments.reduce(
      (a, s, k) => a + (this.kept.has(k) ? s.saved!.backward.flops : (s.vjp?.flops ?? 0)),
      meta.forwardFlops,
    );
    this.stats = { ...stats, forwardPassFlops: passFlops, keptSegments: this.kept.size };
    const first = sessionProviders(settings)[0];
    // On by default behind WebGPU (measured on an H200: the same numbers, 3.2x faster; BENCHMARKS.md).
    this.deviceOutputs = (settings.deviceOutputs ?? onnxDeviceOutputsFromEnv() ?? first === 'webgpu') && first !== 'cpu';
  }

  /** Where sessions write onnxruntime's per-node profiles (on `dispose`), if profiling. */
  readonly profileDir: string | undefined;

  /** Whether forward sessions leave the values they hand on (all but the output) on the provider's device. */
  readonly deviceOutputs: boolean;

  /** Traces (or finds in the cache) and returns the network; sessions open on first use or `prepare`. */
  static async load(trace: NetworkTrace, options: OnnxNetworkOptions = {}): Promise<OnnxNetwork> {
    const settings: SessionSettings = {
      threads: options.threads,
      optimization: options.optimization,
      providers: options.providers,
      deviceOutputs: options.deviceOutputs,
      // Each session's arena keeps its own peak: with many segment sessions that would add up to more
      // than the joint graph, so segments return their memory after every run.
      cpuArena: options.cpuArena ?? !((options.checkpointBytes ?? 0) > 0),
      spinning: options.spinning,
      prepacking: options.prepacking,
      memPattern: options.memPattern,
    };
    if (options.wrt !== undefined) {
      check(
        trace.inputs.some((i) => i.name === options.wrt),
        () => `wrt "${options.wrt}" is not an input of ${trace.name}`,
        {
          key: 'wrt',
        },
      );
    }
    const hash = cacheKeyHash({
      name: trace.name,
      key: trace.key,
      inputs: trace.inputs,
      wrt: options.wrt ?? null,
      checkpointBytes: options.checkpointBytes ?? 0,
      vjp: options.vjpOptions ?? {},
      linkCheckpoint: options.linkCheckpoint ?? false,
    });
    const t0 = performance.now();
    if (options.cacheDir === null) {
      const built = buildNetwork(trace, options, hash);
      const files = memoryWeights(built.graph);
      return new OnnxNetwork(
        built.meta,
        memorySources(built, files),
        settings,
        statsOf(built.meta, performance.now() - t0, false, built.phases),
        options,
      );
    }
    const dir = entryDir(options.cacheDir ?? defaultCacheDir(), hash);
    const cached = readMeta<NetworkMeta>(dir);
    if (cached !== undefined && cached.hash === hash) {
      return new OnnxNetwork(cached, diskSources(dir, cached), settings, statsOf(cached, 0, true), options);
    }
    const built = buildNetwork(trace, options, hash);
    const tw = performance.now();
    const disk = await writeCacheEntry(dir, built);
    const meta = { ...built.meta, disk };
    return new OnnxNetwork(
      meta,
      diskSources(dir, meta),
      settings,
      statsOf(meta, performance.now() - t0, false, { ...built.phases, write: performance.now() - tw }),
      options,
    );
  }

  get inputShapes(): ReadonlyMap<string, readonly number[]> {
    return new Map(this.meta.inputs.map((i) => [i.name, i.shape]));
  }

  get outputShape(): readonly number[] {
    return this.meta.output.shape;
  }

  /**
   * Opens the sessions `forward`, `vjp` and/or `forwardPass` + `backward` (`pass`) will use (otherwise
   * opened on first call).
   */
  async prepare(which: { forward?: boolean; vjp?: boolean; pass?: boolean } = { forward: true }): Promise<void> {
    const n = this.meta.segments.length;
    const ids: [ModelKind, number][] = [];
    for (let k = 0; k < n; k++) {
      const kept = this.kept.has(k);
      // forward() and forwardPass run a kept segment's saving forward (one session, not two)
      if (which.forward || which.pass) ids.push([kept ? 'saved-forward' : 'forward', k]);
      if (which.pass) ids.push([kept ? 'saved-backward' : 'vjp', k]);
      if (which.vjp) {
        if (k < n - 1) ids.push(['forward', k]);
        ids.push(['vjp', k]);
      }
    }
    // Sequential creation keeps the peak low and the cores for one job at a time.
    const seen = new Set<string>();
    for (const [kind, k] of ids) {
      if (seen.has(`${kind}:${k}`)) continue;
      seen.add(`${kind}:${k}`);
      await this.session(kind, k);
    }
  }

  /** The network output (logical layout) for named host inputs. */
  async forward(inputs: Readonly<Record<string, Float32Array>>): Promise<Float32Array> {
    const values = this.feedInputs(inputs);
    // Kept segments run their saving forward here too (the sessions forwardPass uses; extra outputs dropped).
    for (let k = 0; k < this.meta.segments.length; k++) await this.runForward(k, values, this.kept.has(k));
    const output = values.get(OUTPUT)!.data as Float32Array;
    for (const v of values.values()) release(v);
    return output;
  }

  /**
   * The output and the gradient of `sum(upstream * output)` w.r.t. the `wrt` input (same shape as it).
   * A joint graph computes both in one run; with segments, the forward keeps only cut values.
   */
  async vjp(
    inputs: Readonly<Record<string, Float32Array>>,
    upstream: Float32Array,
  ): Promise<{ output: Float32Array; grad: Float32Array }> {
    this.checkGradient();
    const values = this.feedInputs(inputs);
    // The last segment's VJP graph recomputes (and outputs) its forward: skip running it forward.
    for (let k = 0; k < this.meta.segments.length - 1; k++) await this.runForward(k, values);
    return this.backward(values, upstream);
  }

  /**
   * A forward pass that keeps what a later `backward(upstream)` needs, for callers whose upstream gradient
   * depends on the output (UNet -> scheduler -> VAE decoder -> loss). Costs one forward more than `vjp`
   * for a joint graph (its VJP graph recomputes everything), and nothing more with segments.
   */
  async forwardPass(inputs: Readonly<Record<string, Float32Array>>): Promise<{
    output: Float32Array;
    backward: (upstream: Float32Array) => Promise<Float32Array>;
  }> {
    this.checkGradient();
    const values = this.feedInputs(inputs);
    // Kept segments output their activations too: their backward then runs without recomputing.
    for (let k = 0; k < this.meta.segments.length; k++) await this.runForward(k, values, this.kept.has(k));
    let used = false;
    return {
      output: values.get(OUTPUT)!.data as Float32Array,
      backward: async (upstream) => {
        check(!used, () => 'backward() of a forward pass can run once', { key: 'backward' });
        used = true;
        return (await this.backward(values, upstream, true)).grad;
      },
    };
  }

  private checkGradient(): void {
    check(this.meta.wrt !== undefined, () => `${this.meta.name} was built without a gradient (pass wrt)`, {
      key: 'vjp',
    });
  }

  /** Runs the VJP graphs of all segments in reverse, given the forward values they read. */
  private async backward(
    values: Map<string, ort.Tensor>,
    upstream: Float32Array,
    useSaved = false,
  ): Promise<{ output: Float32Array; grad: Float32Array }> {
    const wrt = this.meta.wrt!;
    check(
      upstream.length === sizeOf(this.meta.output.shape),
      () => `upstream has ${upstream.length} values, output [${this.meta.output.shape}]`,
      { key: 'upstream' },
    );
    const grads = new Map<string, Float32Array>([[OUTPUT, upstream]]);
    let output = values.get(OUTPUT)?.data as Float32Array | undefined;
    const n = this.meta.segments.length;
    for (let k = n - 1; k >= 0; k--) {
      const seg = this.meta.segments[k].vjp!;
      const saved = useSaved && this.kept.has(k) ? this.meta.segments[k].saved : undefined;
      const seedOf = new Map(Object.entries(seg.seeds).map(([value, seed]) => [seed, value]));
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of saved ? saved.backward.inputs : seg.inputs) {
        const value = seedOf.get(name);
        if (value !== undefined) {
          const shape = this.valueShape(value, values);
          feeds[name] = f32Tensor(grads.get(value) ?? new Float32Array(sizeOf(shape)), shape);
        } else {
          const v = values.get(name);
          if (!v)
            throw new ApertureDepthError(`segment ${k} input "${name}" was not computed`, { key: 'vjp' });
          feeds[name] = v;
        }
      }
      const out = await (await this.session(saved ? 'saved-backward' : 'vjp', k)).run(feeds);
      if (out[OUTPUT]) output = out[OUTPUT].data as Float32Array;
      for (const [value, gname] of Object.entries(seg.grads)) {
        const gdata = out[gname].data as Float32Array;
        const prev = grads.get(value);
        // Gradients of a value read by several segments add up (onnxruntime's outputs are ours to change).
        if (prev) for (let i = 0; i < prev.length; i++) prev[i] += gdata[i];
        else grads.set(value, gdata);
      }
      // Values this segment produced, and their gradients, are no longer needed.
      for (const o of saved ? saved.forward.outputs : this.meta.segments[k].forward.outputs) {
        if (o === OUTPUT) continue;
        release(values.get(o));
        values.delete(o);
        grads.delete(o);
      }
    }
    check(output !== undefined, () => 'vjp produced no output', { key: 'vjp' });
    // An input the output does not depend on has a zero gradient.
    const grad = grads.get(wrt) ?? new Float32Array(sizeOf(this.inputShapes.get(wrt)!));
    return { output: output!, grad };
  }

  async dispose(): Promise<void> {
    for (const p of this.sessions.values()) {
      const s = await p;
      if (this.profileDir) s.endProfiling();
      await s.release();
    }
    this.sessions.clear();
  }

  private feedInputs(inputs: Readonly<Record<string, Float32Array>>): Map<string, ort.Tensor> {
    const values = new Map<string, ort.Tensor>();
    for (const i of this.meta.inputs) {
      const data = inputs[i.name];
      check(data !== undefined, () => `${this.meta.name}: input "${i.name}" missing`, { key: i.name });
      check(
        data.length === sizeOf(i.shape),
        () => `${this.meta.name}: input "${i.name}" has ${data.length} values, expected [${i.shape}]`,
        {
          key: i.name,
        },
      );
      values.set(i.name, f32Tensor(data, i.shape));
    }
    return values;
  }

  private valueShape(name: string, values: Map<string, ort.Tensor>): readonly number[] {
    if (name === OUTPUT) return this.meta.output.shape;
    const v = values.get(name);
    if (v) return v.dims;
    throw new ApertureDepthError(`no shape known for "${name}"`, { key: 'vjp' });
  }

  private async runForward(k: number, values: Map<string, ort.Tensor>, keepActivations = false): Promise<void> {
    const m = keepActivations ? this.meta.segments[k].saved!.forward : this.meta.segments[k].forward;
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of m.inputs) feeds[name] = values.get(name)!;
    const out = await (await this.session(keepActivations ? 'saved-forward' : 'forward', k)).run(feeds);
    for (const name of m.outputs) values.set(name, out[name]);
  }

  private session(kind: ModelKind, k: number): Promise<ort.InferenceSession> {
    const id = `${kind}:${k}`;
    let s = this.sessions.get(id);
    if (!s) {
      const t0 = performance.now();
      let settings = this.settings;
      if (this.deviceOutputs && (kind === 'forward' || kind === 'saved-forward')) {
        // Values for the next segment (or for the backward) stay on the device; the network output returns.
        // Gradients return to the host (sums of those read by several segments are taken here): a trial that
        // left them on the device too (seeds fed as device tensors, sums after Tensor.getData) aborted the
        // process with a C++ exception in onnxruntime-node 1.30 on WebGPU; which call was not isolated.
        const seg = this.meta.segments[k];
        const outputs = kind === 'forward' ? seg.forward.outputs : seg.saved!.forward.outputs;
        settings = { ...settings, outputLocations: Object.fromEntries(outputs.map((o) => [o, o === OUTPUT ? 'cpu' : 'gpu-buffer'])) };
      }
      if (this.profileDir) settings = { ...settings, profilePrefix: join(this.profileDir, profileName(this.meta.name, kind, k)) };
      s = createSession(this.sources(kind, k), settings).then((session) => {
        this.stats.sessionMs += performance.now() - t0;
        return session;
      });
      this.sessions.set(id, s);
    }
    return s;
  }
}

/** Frees a tensor an onnxruntime provider left on its device (host tensors are garbage-collected). */
function release(t: ort.Tensor | undefined): void {
  if (t && t.location !== 'cpu') t.dispose();
}

/** Session sources from a cache entry on disk. */
function diskSources(dir: string, m: NetworkMeta): Sources {
  return (kind, k) => {
    const seg = m.segments[k];
    const file =
      kind === 'forward'
        ? seg.forward.file
        : kind === 'vjp'
          ? seg.vjp!.file
          : kind === 'saved-forward'
            ? seg.saved!.forward.file
            : seg.saved!.backward.file;
    return { path: join(dir, file) };
  };
}

/** Session sources from the built graph, its external weights passed as in-memory files. */
function memorySources(built: Built, files: ReturnType<typeof memoryWeights>): Sources {
  const byName = new Map(files.files.map((f) => [f.path, f]));
  return (kind, k) => {
    const v = built.views[k];
    const view =
      kind === 'forward' ? v.forward : kind === 'vjp' ? v.vjp! : kind === 'saved-forward' ? v.saved!.forward : v.saved!.backward;
    const bytes = encodeModel(built.graph, view, files.layout);
    const used = initializersOf(built.graph, view.nodes)
      .filter(isExternal)
      .map((i) => byName.get(files.layout.get(i.name)!.location)!);
    return { bytes, externalData: used };
  };
}

/** Writes a cache entry (weights, every segment's models, meta.json last); returns what went to disk. */
async function writeCacheEntry(dir: string, built: Built): Promise<NonNullable<NetworkMeta['disk']>> {
  let disk: NetworkMeta['disk'];
  await writeEntry(dir, async (tmp) => {
    const { layout, ...bytes } = await writeWeightsFile(built.graph, tmp, 'weights.bin');
    disk = bytes;
    const write = async (file: string, view: GraphView) => writeFile(join(tmp, file), encodeModel(built.graph, view, layout));
    for (const [k, v] of built.views.entries()) {
      const seg = built.meta.segments[k];
      await write(seg.forward.file, v.forward);
      if (v.vjp) await write(seg.vjp!.file, v.vjp);
      if (v.saved && seg.saved) {
        await write(seg.saved.forward.file, v.saved.forward);
        await write(seg.saved.backward.file, v.saved.backward);
      }
    }
    await writeFile(join(tmp, 'meta.json'), JSON.stringify({ ...built.meta, disk }, null, 1));
  });
  return disk!;
}

function diskStats(disk: NonNullable<NetworkMeta['disk']>): NonNullable<NetworkStats['disk']> {
  return {
    writtenBytes: disk.writtenBytes,
    linkedBytes: disk.linkedBytes,
    ...(disk.links.length ? { linkMode: disk.links.some((l) => l.mode === 'copy') ? ('copy' as const) : ('link' as const) } : {}),
  };
}

/**
 * The segments whose activations a forward pass keeps: the last one (when built with a saving forward),
 * then others by recompute FLOPs avoided per kept byte while their bytes fit `keepBytes`.
 */
function keptSegments(meta: NetworkMeta, keepBytes: number): Set<number> {
  const n = meta.segments.length;
  const kept = new Set<number>();
  if (n === 0 || !meta.segments[n - 1]!.saved) return kept;
  kept.add(n - 1);
  const candidates = meta.segments
    .map((s, k) => ({ k, bytes: s.saved?.bytes ?? Infinity, flops: s.forward.flops }))
    .filter((c) => c.k < n - 1 && Number.isFinite(c.bytes))
    .sort((a, b) => b.flops / Math.max(b.bytes, 1) - a.flops / Math.max(a.bytes, 1));
  let used = 0;
  for (const c of candidates) {
    if (used + c.bytes > keepBytes) continue;
    used += c.bytes;
    kept.add(c.k);
  }
  return kept;
}

function statsOf(
  meta: NetworkMeta,
  buildMs: number,
  fromCache: boolean,
  phases = { trace: 0, vjp: 0, write: 0 },
): Omit<NetworkStats, 'forwardPassFlops' | 'keptSegments'> {
  return {
    buildMs,
    buildPhasesMs: phases,
    sessionMs: 0,
    fromCache,
    segments: meta.segments.length,
    forwardFlops: meta.forwardFlops,
    vjpFlops: meta.vjpFlops,
    nodes: meta.nodes,
    weightsBytes: meta.weightsBytes,
    ...(meta.disk ? { disk: diskStats(meta.disk) } : {}),
  };
}

/** Ops whose output is a view of their first input (onnxruntime aliases the buffer: no copy, no work). */
const VIEW_OPS: ReadonlySet<string> = new Set(['Reshape', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten']);

/**
 * The backward nodes of a saved segment, preceded by the forward's view nodes (Reshape & co.) whose outputs
 * they read: the saving forward then outputs the viewed value once instead of also its reshaped copy (a
 * graph output gets a buffer of its own, so each kept view cost a full copy there and its bytes in the
 * kept budget; GroupNorm keeps its `[B, G, -1]` rows this way). `available` values need no producer.
 */
export function rematerializeViews(
  fwdNodes: readonly GraphNode[],
  bwdNodes: readonly GraphNode[],
  available: (v: string) => boolean,
): GraphNode[] {
  const producer = new Map<string, GraphNode>();
  for (const n of fwdNodes) for (const o of n.outputs) producer.set(o, n);
  const chosen = new Set<GraphNode>();
  const pending = bwdNodes.flatMap((n) => n.inputs);
  while (pending.length > 0) {
    const v = pending.pop()!;
    if (v === '' || available(v)) continue;
    const p = producer.get(v);
    if (!p || !VIEW_OPS.has(p.op) || chosen.has(p)) continue;
    chosen.add(p);
    pending.push(...p.inputs);
  }
  return [...fwdNodes.filter((n) => chosen.has(n)), ...bwdNodes];
}

interface Built {
  graph: OnnxGraph;
  phases: { trace: number; vjp: number; write: number };
  meta: NetworkMeta;
  views: { forward: GraphView; vjp?: GraphView; saved?: { forward: GraphView; backward: GraphView } }[];
}

/** Traces the network and builds the forward and forward+VJP views of every segment. */
export function buildNetwork(trace: NetworkTrace, options: OnnxNetworkOptions, hash: string): Built {
  const t0 = performance.now();
  const g = new OnnxGraph();
  const ops = new OnnxOps(g, options.linkCheckpoint ?? false);
  const symbolic = trace.inputs.map((i) => ops.input(i.name, i.shape));
  const y = trace.record(ops, symbolic);
  ops.output(y, OUTPUT);
  const forwardEnd = g.nodes.length;
  const t1 = performance.now();
  const budget = options.checkpointBytes ?? 0;
  const segments: Segment[] =
    budget > 0 && options.wrt !== undefined
      ? planSegments(g, forwardEnd, [OUTPUT], budget)
      : describeSegments(g, [0, forwardEnd], [OUTPUT]);

  // Which values carry gradient: depend on wrt and reach the output.
  const wrt = options.wrt;
  const active = new Set<string>(wrt ? [wrt] : []);
  for (let k = 0; k < forwardEnd; k++) {
    const n = g.nodes[k];
    if (n.inputs.some((i) => active.has(i))) for (const o of n.outputs) active.add(o);
  }
  const needed = new Set<string>([OUTPUT]);
  for (let k = forwardEnd - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (n.outputs.some((o) => needed.has(o))) for (const i of n.inputs) needed.add(i);
  }
  const carries = (v: string) => active.has(v) && needed.has(v);

  const views: Built['views'] = [];
  const segMeta: SegmentMeta[] = [];
  let vjpFlops = 0;
  segments.forEach((seg, k) => {
    const fwdNodes = g.nodes.slice(seg.start, seg.end);
    const forward: GraphView = {
      name: `${trace.name}_fwd${k}`,
      nodes: fwdNodes,
      inputs: seg.inputs,
      outputs: seg.outputs,
    };
    const fwdMeta: ModelMeta = {
      file: `forward-${k}.onnx`,
      inputs: seg.inputs,
      outputs: seg.outputs,
      flops: flopsOf(g, fwdNodes),
    };
    if (!wrt) {
      views.push({ forward });
      segMeta.push({ forward: fwdMeta });
      return;
    }
    const seeds = new Map<string, string>();
    for (const o of seg.outputs) if (carries(o)) seeds.set(o, g.addInput(`seed${k}:${o}`, g.shape(o)));
    const wrtValues = seg.inputs.filter(carries);
    const range = Array.from({ length: seg.end - seg.start }, (_, i) => seg.start + i);
    const res = appendVjp(g, { wrt: wrtValues, seeds, nodes: range, options: options.vjpOptions });
    const gradNames: Record<string, string> = {};
    const outputs: string[] = [];
    for (const w of wrtValues) {
      const name = `grad${k}:${w}`;
      g.node('Identity', [res.grads.get(w)!], {}, 1, [name]);
      gradNames[w] = name;
      outputs.push(name);
    }
    if (seg.outputs.includes(OUTPUT)) outputs.push(OUTPUT);
    const all = [...fwdNodes, ...g.nodes.slice(res.emitted[0])];
    const nodes = pruneTo(all, outputs);
    const inputs = [...seg.inputs, ...seeds.values()].filter(
      (i) => nodes.some((n) => n.inputs.includes(i)) || outputs.includes(i),
    );
    const flops = flopsOf(g, nodes);
    vjpFlops += flops + (k < segments.length - 1 ? fwdMeta.flops : 0);
    const vjpMeta = {
      file: `vjp-${k}.onnx`,
      inputs,
      outputs,
      flops,
      seeds: Object.fromEntries(seeds),
      grads: gradNames,
    };
    // The backward alone, reading the activations a saving forward outputs (forwardPass on a budget).
    const gradOutputs = Object.values(gradNames);
    const seedInputs = new Set(seeds.values());
    const bwdNodes = rematerializeViews(
      fwdNodes,
      pruneTo(g.nodes.slice(res.emitted[0]), gradOutputs),
      (v) => g.isInitializer(v) || seedInputs.has(v) || seg.outputs.includes(v),
    );
    const produced = new Set(bwdNodes.flatMap((n) => n.outputs));
    const reads = [...new Set(bwdNodes.flatMap((n) => n.inputs))].filter(
      (i) => i !== '' && !produced.has(i) && !g.isInitializer(i),
    );
    const keep = reads.filter((r) => !seedInputs.has(r) && !seg.inputs.includes(r) && !seg.outputs.includes(r));
    const savedForward: GraphView = {
      name: `${trace.name}_fwd${k}_saving`,
      nodes: fwdNodes,
      inputs: seg.inputs,
      outputs: [...seg.outputs, ...keep],
    };
    const savedBackward: GraphView = {
      name: `${trace.name}_bwd${k}`,
      nodes: bwdNodes,
      inputs: reads,
      outputs: gradOutputs,
    };
    views.push({
      forward,
      vjp: { name: `${trace.name}_vjp${k}`, nodes, inputs, outputs },
      saved: { forward: savedForward, backward: savedBackward },
    });
    segMeta.push({
      forward: fwdMeta,
      vjp: vjpMeta,
      saved: {
        forward: { ...fwdMeta, file: `saving-forward-${k}.onnx`, outputs: savedForward.outputs },
        backward: { file: `backward-${k}.onnx`, inputs: reads, outputs: gradOutputs, flops: flopsOf(g, bwdNodes) },
        bytes: keep.reduce((a, v) => a + 4 * sizeOf(g.shape(v)), 0),
      },
    });
  });
  const forwardFlops = segMeta.reduce((a, s) => a + s.forward.flops, 0);
  const meta: NetworkMeta = {
    name: trace.name,
    hash,
    inputs: trace.inputs.map((i) => ({ name: i.name, shape: [...i.shape] })),
    output: { name: OUTPUT, shape: [...y.shape] },
    wrt,
    segments: segMeta,
    forwardFlops,
    vjpFlops,
    weightsBytes: externalBytes(g, g.nodes),
    nodes: forwardEnd,
  };
  return { graph: g, meta, views, phases: { trace: t1 - t0, vjp: performance.now() - t1, write: 0 } };
}

/** Only the nodes needed to produce `outputs` (in order). */
function pruneTo(nodes: readonly GraphNode[], outputs: readonly string[]): GraphNode[] {
  const want = new Set(outputs);
  const keep: boolean[] = new Array(nodes.length).fill(false);
  for (let k = nodes.length - 1; k >= 0; k--) {
    if (!nodes[k].outputs.some((o) => want.has(o))) continue;
    keep[k] = true;
    for (const i of nodes[k].inputs) want.add(i);
  }
  return nodes.filter((_, k) => keep[k]);
}

function flopsOf(g: OnnxGraph, nodes: readonly GraphNode[]): number {
  return nodes.reduce((a, n) => a + g.nodeFlops(n), 0);
}
