import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { ApertureDepthError } from '../errors.ts';

/** The tfjs backends this project knows how to start. `tensorflow` is tfjs-node(-gpu), optional. */
export const BACKENDS = Object.freeze(['wasm', 'cpu', 'tensorflow'] as const);
export type BackendName = (typeof BACKENDS)[number];

const require = createRequire(import.meta.url);

/** Which optional native tfjs package is installed, if any (checked without loading it). */
export function nativeTfjsPackage(): string | undefined {
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(name);
      return name;
    } catch {
      // not installed: optional
    }
  }
  return undefined;
}

let active: BackendName | undefined;
let pending: Promise<BackendName> | undefined;

/**
 * Initializes TensorFlow.js once per process on the named backend (default `wasm`). This is the only
 * place that calls `tf.setBackend`. Asking for a backend that cannot start is an error naming it.
 */
export async function initEngine(backend: BackendName = 'wasm', argName = 'backend'): Promise<BackendName> {
  // Concurrent callers (tests run in parallel) share one start-up.
  while (pending) await pending.catch(() => undefined);
  pending = startBackend(backend, argName);
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

async function startBackend(backend: BackendName, argName: string): Promise<BackendName> {
  if (!BACKENDS.includes(backend)) {
    throw new ApertureDepthError(`unknown backend "${backend}"; expected one of ${BACKENDS.join(', ')}`, {
      key: argName,
    });
  }
  if (active === backend && tf.getBackend() === backend) return backend;
  if (backend === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  } else if (backend === 'tensorflow') {
    const pkg = nativeTfjsPackage();
    if (!pkg) {
      throw new ApertureDepthError(
        'backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, and neither is installed ' +
          '(npm install @tensorflow/tfjs-node-gpu on a machine with CUDA); available here: wasm, cpu',
        { key: argName },
      );
    }
    await import(pkg);
  }
  let ok = false;
  try {
    ok = await tf.setBackend(backend);
  } catch (err) {
    throw new ApertureDepthError(`backend "${backend}" failed to start: ${(err as Error).message}`, {
      key: argName,
      cause: err,
    });
  }
  if (!ok) throw new ApertureDepthError(`backend "${backend}" failed to start`, { key: argName });
  await tf.ready();
  active = backend;
  return backend;
}

/** The backend chosen by `initEngine`, or undefined before it ran. */
export function activeBackend(): BackendName | undefined {
  return active;
}

/** Parses a user string (flag or config value) into a backend name, with an error naming the source. */
export function parseBackend(value: unknown, source = '--backend'): BackendName {
  if (typeof value === 'string' && (BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new ApertureDepthError(`expected one of ${BACKENDS.join(', ')}, got ${JSON.stringify(value)}`, {
    key: source,
  });
}
