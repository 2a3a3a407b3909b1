import * as ort from 'onnxruntime-node';
import { onnxProvidersFromEnv } from '../../core/engine/network-engine.ts';
import { ApertureDepthError } from '../../core/errors.ts';

/**
 * onnxruntime session creation with this project's defaults: extended graph optimizations, a configurable
 * thread count, CPU unless another execution provider is named. The only place that creates sessions.
 */

export interface SessionSettings {
  /** Intra-op threads (0 = onnxruntime's default, all cores). @default 0 */
  readonly threads?: number;
  /** @default 'all' */
  /**
   * onnxruntime graph optimization level. `extended` runs the UNet as fast as `all` here (the NCHWc
   * layout pass of `all` gained < 2 %) and opens sessions several times faster. @default 'extended'
   */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Execution providers in order of preference (`cpu`, `webgpu`, `cuda` where installed; README, "GPUs").
   * @default `APERTURE_DEPTH_ONNX_PROVIDERS` (comma-separated), else ['cpu']
   */
  readonly providers?: readonly string[];
  /**
   * Memory arena of the CPU provider (faster reuse, but each session keeps its peak).
   * @default true (false for checkpointed networks, whose many sessions would each keep theirs)
   */
  readonly cpuArena?: boolean;
  /**
   * Whether idle intra-op threads spin (onnxruntime's default: lower latency, but burns cores that other
   * processes could use, and inflates CPU-time measurements). @default true
   */
  readonly spinning?: boolean;
  /**
   * Whether kernels pre-pack constant weights (MatMul). Off saves a copy of the linear weights (0.9 GB of
   * the real UNet's VJP session) for ~4 % more time. @default true
   */
  readonly prepacking?: boolean;
  /**
   * onnxruntime's memory pattern: one planned block per run for a session's intermediate values.
   * @default true
   */
  readonly memPattern?: boolean;
  /**
   * With a GPU provider first in `providers`: leave the intermediate values that one checkpoint segment
   * hands to the next (cut values, kept activations) on the device instead of copying each back to host
   * memory (`preferredOutputLocation: 'gpu-buffer'`; the network output and gradients still come back).
   * @default `APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS` (1 / 0), else on when `webgpu` comes first (other GPU
   * providers were not tried)
   */
  readonly deviceOutputs?: boolean;
  /**
   * Record onnxruntime's per-node profile; it is written to `<profilePrefix>_<time>.json` when the session
   * ends profiling (run-graph.ts sets one prefix per session from `profileDir`). @default off
   */
  readonly profilePrefix?: string;
  /** Per-session output locations (set by run-graph.ts from `deviceOutputs`). @default all on the CPU */
  readonly outputLocations?: Readonly<Record<string, 'cpu' | 'gpu-buffer'>>;
}

/** A model to open: a file on disk (external data beside it) or bytes plus in-memory external data files. */
export type ModelSource =
  | { readonly path: string }
  | { readonly bytes: Uint8Array; readonly externalData: readonly { path: string; data: Uint8Array }[] };

/** The execution providers sessions with `settings` ask for, in order of preference. */
export function sessionProviders(settings: SessionSettings = {}): readonly string[] {
  return settings.providers ?? onnxProvidersFromEnv() ?? ['cpu'];
}

export function sessionOptions(settings: SessionSettings = {}): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: settings.optimization ?? 'extended',
    executionProviders: [...sessionProviders(settings)] as ort.InferenceSession.ExecutionProviderConfig[],
    enableCpuMemArena: settings.cpuArena ?? true,
    enableMemPattern: settings.memPattern ?? true,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
  if (settings.profilePrefix) {
    options.enableProfiling = true;
    options.profileFilePrefix = settings.profilePrefix;
  }
  if (settings.outputLocations) options.preferredOutputLocation = { ...settings.outputLocations };
  if (settings.threads && settings.threads > 0) options.intraOpNumThreads = settings.threads;
  // Nested keys are joined with '.' by the Node binding: session.intra_op.allow_spinning.
  const session: Record<string, unknown> = {};
  if (settings.spinning === false) session.intra_op = { allow_spinning: '0' };
  if (settings.prepacking === false) session.disable_prepacking = '1';
  if (Object.keys(session).length > 0) options.extra = { session };
  return options;
}

export async function createSession(
  model: ModelSource,
  settings: SessionSettings = {},
): Promise<ort.InferenceSession> {
  const options = sessionOptions(settings);
  try {
    if ('path' in model) return await ort.InferenceSession.create(model.path, options);
    return await ort.InferenceSession.create(model.bytes, {
      ...options,
      externalData: [...model.externalData],
    });
  } catch (err) {
    const where = 'path' in model ? model.path : '<in-memory model>';
    throw new ApertureDepthError(`onnxruntime could not create a session: ${(err as Error).message}`, {
      file: where,
      cause: err,
    });
  }
}

/** A float32 ort tensor over `data` (no copy). */
export function f32Tensor(data: Float32Array, shape: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, [...shape]);
}
