import { existsSync, readFileSync } from 'node:fs';
import { ApertureDepthError, check } from '../core/errors.ts';
import { writeFileAtomic } from '../core/io/atomic.ts';
import type { RngState } from '../core/tensor/rng.ts';
import type { AdamState } from './adam.ts';
import type { PlateauState } from './early-stopping.ts';

/** A named float32 array (a parameter, a moment). */
export interface StoredArray {
  shape: number[];
  data: Float32Array;
}

/**
 * The whole state of an optimization between two iterations: enough to continue it bit-identically.
 * `iteration` counts the completed Adam steps.
 */
export interface OptimizerState {
  iteration: number;
  /** Current parameters by group (`latent`, `scale_shift`). */
  params: Record<string, StoredArray>;
  adam: AdamState;
  rng: RngState;
  /** Loss before each completed step. */
  lossHistory: number[];
  stopper: PlateauState | null;
  stoppedEarly: boolean;
  /** Border mask width chosen at the start (pixels). */
  borderPx: number;
  /** Depth-edge mask radius chosen at the start (pixels); null when that mask is off. */
  edgeRadiusPx: number | null;
  /** Scale/shift the coarse search chose, when it ran. */
  gridInit: { scale: number; shift: number; loss: number } | null;
  /** What the run was started with; a resume with different values is refused. */
  fingerprint: Record<string, unknown>;
}

const FORMAT = 'aperture-depth-optimizer-checkpoint';
const VERSION = 1;

function encodeF32(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function decodeF32(s: unknown, file: string, key: string): Float32Array {
  check(typeof s === 'string', () => 'expected base64 float32 data', { file, key });
  const buf = Buffer.from(s, 'base64');
  check(buf.length % 4 === 0, () => `base64 data of ${buf.length} bytes is not float32`, { file, key });
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** Writes `state` to `path` atomically (a temp file and a rename: a kill never leaves half a checkpoint). */
export function writeCheckpoint(path: string, state: OptimizerState): void {
  const json = {
    format: FORMAT,
    version: VERSION,
    iteration: state.iteration,
    params: Object.fromEntries(
      Object.entries(state.params).map(([k, v]) => [k, { shape: v.shape, data: encodeF32(v.data) }]),
    ),
    adam: {
      ...state.adam,
      groups: state.adam.groups.map((g) => ({ ...g, m: encodeF32(g.m), v: encodeF32(g.v) })),
    },
    rng: state.rng,
    loss_history: state.lossHistory,
    stopper: state.stopper && {
      ...state.stopper,
      best: Number.isFinite(state.stopper.best) ? state.stopper.best : null,
    },
    stopped_early: state.stoppedEarly,
    border_px: state.borderPx,
    edge_radius_px: state.edgeRadiusPx,
    grid_init: state.gridInit,
    fingerprint: state.fingerprint,
  };
  writeFileAtomic(path, JSON.stringify(json));
}

/** Reads a checkpoint written by {@link writeCheckpoint}; undefined when the file does not exist. */
export function readCheckpoint(path: string): OptimizerState | undefined {
  if (!existsSync(path)) return undefined;
  let json: any;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ApertureDepthError(`not a readable checkpoint: ${(err as Error).message}`, {
      file: path,
      cause: err,
    });
  }
  check(
    json && json.format === FORMAT,
    () => `not an optimizer checkpoint (format ${JSON.stringify(json?.format)})`,
    {
      file: path,
      key: 'format',
    },
  );
  check(json.version === VERSION, () => `checkpoint version ${json.version}, this build reads ${VERSION}`, {
    file: path,
    key: 'version',
  });
  check(Number.isInteger(json.iteration) && json.iteration >= 0, () => `bad iteration ${json.iteration}`, {
    file: path,
    key: 'iteration',
  });
  const isObject = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x);
  check(isObject(json.params ?? {}), () => 'expected an object of parameter groups', {
    file: path,
    key: 'params',
  });
  check(
    isObject(json.adam) && Array.isArray(json.adam.groups) && json.adam.groups.every(isObject),
    () => 'expected { groups: [...] }',
    {
      file: path,
      key: 'adam',
    },
  );
  check(
    Array.isArray(json.loss_history ?? []) &&
      (json.loss_history ?? []).every((x: unknown) => typeof x === 'number'),
    () => 'expected a list of numbers',
    {
      file: path,
      key: 'loss_history',
    },
  );
  const params: Record<string, StoredArray> = {};
  for (const [k, v] of Object.entries<any>(json.params ?? {})) {
    check(isObject(v), () => 'expected { shape, data }', { file: path, key: `params.${k}` });
    const data = decodeF32(v.data, path, `params.${k}`);
    // The shape must describe the data that is there: a shape claiming more is refused, not allocated.
    check(
      Array.isArray(v.shape) &&
        v.shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0) &&
        v.shape.reduce((a: number, b: number) => a * b, 1) === data.length,
      () => `shape ${JSON.stringify(v.shape)?.slice(0, 80)} does not match the ${data.length} stored values`,
      { file: path, key: `params.${k}.shape` },
    );
    params[k] = { shape: v.shape, data };
  }
  const adam: AdamState = {
    ...json.adam,
    groups: json.adam.groups.map((g: any) => ({
      ...g,
      m: decodeF32(g.m, path, `adam.${g.name}.m`),
      v: decodeF32(g.v, path, `adam.${g.name}.v`),
    })),
  };
  return {
    iteration: json.iteration,
    params,
    adam,
    rng: json.rng,
    lossHistory: json.loss_history ?? [],
    stopper: json.stopper ? { ...json.stopper, best: json.stopper.best ?? Infinity } : null,
    stoppedEarly: Boolean(json.stopped_early),
    borderPx: json.border_px ?? 0,
    edgeRadiusPx: json.edge_radius_px ?? null,
    gridInit: json.grid_init ?? null,
    fingerprint: json.fingerprint ?? {},
  };
}
