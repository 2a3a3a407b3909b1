/**
 * Resumable training checkpoints: weights, their EMA and Adam moments in one safetensors file (float32, project
 * layout, so the round trip is exact) plus a JSON state (step, RNG state, loss log, run settings).
 * Each checkpoint is written to a temp folder that is renamed into place, then `latest.json` is replaced
 * atomically: a killed run always finds a complete checkpoint or none.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../../../core/errors.ts';
import { writeFileAtomic } from '../../../core/io/atomic.ts';
import { readJsonFile } from '../../../core/io/json-file.ts';
import { openSafetensors } from '../../../core/io/safetensors.ts';
import type { RngState } from '../../../core/tensor/rng.ts';
import { encodeSafetensors, type NamedWeight } from '../../../diffusion/checkpoint/save-weights.ts';
import type { AdamState } from '../../../optimizers/adam.ts';
import type { TrainerSnapshot } from './param-trainer.ts';

/** The JSON half of a checkpoint. */
export interface CheckpointState<E = unknown> {
  /** Training steps completed. */
  step: number;
  rng: RngState;
  adam: { step: number; beta1: number; beta2: number; epsilon: number; groups: { name: string; lr: number; shape: number[] }[] };
  /** Free-form run data (settings fingerprint, loss log ...). */
  extra: E;
}

export interface LoadedCheckpoint<E = unknown> {
  step: number;
  rng: RngState;
  snapshot: TrainerSnapshot;
  extra: E;
}

const M = 'adam.m/';
const V = 'adam.v/';
const E = 'ema/';

/** Saves a checkpoint for `step` under `dir`, keeping only the newest `keep` checkpoints. */
export function saveCheckpoint<E>(
  dir: string,
  step: number,
  snapshot: TrainerSnapshot,
  rng: RngState,
  extra: E,
  keep = 1,
): string {
  mkdirSync(dir, { recursive: true });
  const name = `ckpt-${String(step).padStart(7, '0')}`;
  const final = join(dir, name);
  const tmp = join(dir, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const tensors: NamedWeight[] = [];
  for (const [n, data] of snapshot.weights) tensors.push({ name: n, shape: [data.length], layout: 'vector', data });
  for (const [n, data] of snapshot.ema ?? []) tensors.push({ name: E + n, shape: [data.length], layout: 'vector', data });
  for (const g of snapshot.adam.groups) {
    if (g.m.length === 0) continue;
    tensors.push({ name: M + g.name, shape: [g.m.length], layout: 'vector', data: g.m });
    tensors.push({ name: V + g.name, shape: [g.v.length], layout: 'vector', data: g.v });
  }
  const state: CheckpointState<E> = {
    step,
    rng,
    adam: {
      step: snapshot.adam.step,
      beta1: snapshot.adam.beta1,
      beta2: snapshot.adam.beta2,
      epsilon: snapshot.adam.epsilon,
      groups: snapshot.adam.groups.map((g) => ({ name: g.name, lr: g.lr, shape: g.shape })),
    },
    extra,
  };
  writeFileAtomic(join(tmp, 'weights.safetensors'), encodeSafetensors(tensors, 'F32'));
  writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(state));
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeFileAtomic(join(dir, 'latest.json'), JSON.stringify({ checkpoint: name, step }));
  const all = readdirSync(dir)
    .filter((f) => /^ckpt-\d+$/.test(f))
    .sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, old), { recursive: true, force: true });
  return final;
}

/** The newest complete checkpoint under `dir`, or undefined when there is none. */
export function loadLatestCheckpoint<E>(dir: string): LoadedCheckpoint<E> | undefined {
  const latestPath = join(dir, 'latest.json');
  if (!existsSync(latestPath)) return undefined;
  const latest = readJsonFile(latestPath, 'checkpoint pointer') as { checkpoint: string };
  const ckpt = join(dir, latest.checkpoint);
  const state = readJsonFile(join(ckpt, 'state.json'), 'checkpoint state') as CheckpointState<E>;
  const file = openSafetensors(join(ckpt, 'weights.safetensors'));
  try {
    const weights = new Map<string, Float32Array>();
    const ema = new Map<string, Float32Array>();
    for (const n of file.names()) {
      if (n.startsWith(E)) ema.set(n.slice(E.length), file.read(n));
      else if (!n.startsWith(M) && !n.startsWith(V)) weights.set(n, file.read(n));
    }
    const adam: AdamState = {
      step: state.adam.step,
      beta1: state.adam.beta1,
      beta2: state.adam.beta2,
      epsilon: state.adam.epsilon,
      groups: state.adam.groups.map((g) => {
        const has = file.has(M + g.name);
        check(!has || file.has(V + g.name), () => `checkpoint lacks ${V + g.name}`, { file: ckpt });
        return {
          name: g.name,
          lr: g.lr,
          shape: g.shape,
          m: has ? file.read(M + g.name) : new Float32Array(0),
          v: has ? file.read(V + g.name) : new Float32Array(0),
        };
      }),
    };
    return { step: state.step, rng: state.rng, snapshot: { weights, adam, ...(ema.size ? { ema } : {}) }, extra: state.extra };
  } finally {
    file.close();
  }
}
