import { ApertureDepthError } from '../errors.ts';

/**
 * Which executor runs the frozen diffusion networks (UNet, VAE): `tfjs` (the TensorFlow.js backend of
 * `backend.ts`, gradients by tfjs autograd) or `onnx` (onnxruntime-node graphs with generated
 * input-gradient graphs, `diffusion/onnx`). The one place the choice is made: `auto` (the default) takes
 * the faster one available, `onnx` when onnxruntime-node loads, else `tfjs`.
 */
export const NETWORK_ENGINES = Object.freeze(['tfjs', 'onnx'] as const);
export type NetworkEngineName = (typeof NETWORK_ENGINES)[number];
export type NetworkEngineRequest = NetworkEngineName | 'auto';
export const ENGINE_CHOICES: readonly NetworkEngineRequest[] = Object.freeze(['auto', ...NETWORK_ENGINES]);

/** Whether onnxruntime-node can be loaded here, and why not. */
export interface OnnxRuntimeStatus {
  available: boolean;
  /** onnxruntime's version when it loaded. */
  version?: string;
  /** Execution providers the binding lists (`cpu`, `webgpu`, `cuda`...), with whether each is bundled. */
  backends?: { name: string; bundled: boolean }[];
  /** Why it did not load. */
  reason?: string;
}

let probe: Promise<OnnxRuntimeStatus> | undefined;

/** Loads onnxruntime-node once per process (native binding included) and reports the outcome. */
export function onnxRuntimeStatus(): Promise<OnnxRuntimeStatus> {
  probe ??= (async (): Promise<OnnxRuntimeStatus> => {
    try {
      const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node') & {
        listSupportedBackends?: () => { name: string; bundled: boolean }[];
      };
      const versions = (ort.env as { versions?: Record<string, string> }).versions;
      let backends: { name: string; bundled: boolean }[] | undefined;
      try {
        backends = ort.listSupportedBackends?.();
      } catch {
        backends = undefined;
      }
      return { available: true, version: versions?.node ?? versions?.common, backends };
    } catch (err) {
      return { available: false, reason: (err as Error).message.split('\n')[0] };
    }
  })();
  return probe;
}

/** The engine in use and how it was chosen, for logs and run records. */
export interface ResolvedEngine {
  engine: NetworkEngineName;
  requested: NetworkEngineRequest;
  /** Why: `requested`, or what `auto` found. */
  reason: string;
  onnxruntime?: string;
}

/**
 * Resolves an engine request: `auto` (or nothing) is `onnx` when onnxruntime-node loads, else `tfjs`;
 * an explicit `onnx` that cannot load is an error naming `argName`. `status` is for tests.
 */
export async function resolveNetworkEngine(
  requested: NetworkEngineRequest | undefined,
  argName = '--engine',
  status: () => Promise<OnnxRuntimeStatus> = onnxRuntimeStatus,
): Promise<ResolvedEngine> {
  const want = parseNetworkEngine(requested ?? 'auto', argName);
  if (want === 'tfjs') return { engine: 'tfjs', requested: want, reason: 'requested' };
  const s = await status();
  if (want === 'onnx') {
    if (!s.available) {
      throw new ApertureDepthError(
        `engine "onnx" needs onnxruntime-node, which did not load here (${s.reason ?? 'unknown reason'}); ` +
          'use --engine tfjs, or reinstall onnxruntime-node for this platform',
        { key: argName },
      );
    }
    return { engine: 'onnx', requested: want, reason: 'requested', onnxruntime: s.version };
  }
  return s.available
    ? { engine: 'onnx', requested: want, reason: 'auto: onnxruntime-node loads', onnxruntime: s.version }
    : { engine: 'tfjs', requested: want, reason: `auto: onnxruntime-node unavailable (${s.reason})` };
}

/** Parses a user string (flag or config value) into an engine request, with an error naming the source. */
export function parseNetworkEngine(value: unknown, source = '--engine'): NetworkEngineRequest {
  if (typeof value === 'string' && (ENGINE_CHOICES as readonly string[]).includes(value)) {
    return value as NetworkEngineRequest;
  }
  throw new ApertureDepthError(`expected one of ${ENGINE_CHOICES.join(', ')}, got ${JSON.stringify(value)}`, {
    key: source,
  });
}

/**
 * onnxruntime execution providers from `APERTURE_DEPTH_ONNX_PROVIDERS` (comma-separated, in order of
 * preference, e.g. `webgpu,cpu` or `cuda,cpu`), or undefined (CPU).
 */
export function onnxProvidersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const v = env.APERTURE_DEPTH_ONNX_PROVIDERS?.trim();
  if (!v) return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * `APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS`: `1` keeps the values checkpoint segments hand each other on a GPU
 * provider's device, `0` copies them to host memory, unset leaves the choice to the network (on behind
 * WebGPU); anything else is an error naming the variable.
 */
export function onnxDeviceOutputsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean | undefined {
  const v = env.APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS?.trim();
  if (v === undefined || v === '') return undefined;
  if (v === '1' || v === '0') return v === '1';
  throw new ApertureDepthError(`expected 1 or 0, got ${JSON.stringify(v)}`, { key: 'APERTURE_DEPTH_ONNX_DEVICE_OUTPUTS' });
}

/**
 * `APERTURE_DEPTH_ONNX_PROFILE`: a folder; every onnxruntime session then records onnxruntime's own
 * per-node profile and writes it there as JSON when its network is disposed (one file per session, named
 * `<network>-<kind>-<segment>_<time>.json`; `experiments/bench/onnx-profile.ts` sums them by op type).
 * Unset or empty: no profiling.
 */
export function onnxProfileDirFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env.APERTURE_DEPTH_ONNX_PROFILE?.trim();
  return v ? v : undefined;
}
