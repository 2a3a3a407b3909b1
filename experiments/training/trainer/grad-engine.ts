/**
 * Where a training step's gradient is computed: in this thread (`LocalEngine`) or data-parallel in worker
 * threads (`WorkerEngine`; tfjs-wasm runs one thread per process in Node, so this is how training uses a
 * second core). Each worker holds an identical replica; a step splits the batch items evenly, averages the
 * flat gradients in worker order (deterministic), and every replica applies the same clipped Adam update,
 * so the replicas never diverge and no weights travel between threads.
 */
import type { Worker } from 'node:worker_threads';
import { check } from '../../../core/errors.ts';
import type { AdamState } from '../../../optimizers/adam.ts';
import { buildReplica, type Replica, type ReplicaInit } from '../stages/replica.ts';
import type { StepResult, TrainerSnapshot } from './param-trainer.ts';
import { startTsWorker } from './ts-worker.ts';

export interface GradEngine {
  readonly workers: number;
  step(items: readonly unknown[], lrFactor: number): Promise<StepResult>;
  snapshot(): Promise<TrainerSnapshot>;
  restore(s: TrainerSnapshot): Promise<void>;
  close(): Promise<void>;
}

/** Single-threaded: the replica lives in this thread (and is exposed for validation and export). */
export class LocalEngine implements GradEngine {
  readonly workers = 1;
  constructor(readonly replica: Replica) {}

  async step(items: readonly unknown[], lrFactor: number): Promise<StepResult> {
    return this.replica.trainer.step(this.replica.loss(items), lrFactor);
  }

  async snapshot(): Promise<TrainerSnapshot> {
    return this.replica.trainer.snapshot();
  }

  async restore(s: TrainerSnapshot): Promise<void> {
    this.replica.trainer.restore(s);
  }

  async close(): Promise<void> {}
}

type Reply =
  | { type: 'ready'; size: number }
  | { type: 'grads'; loss: number; parts: Record<string, number>; grads: Float32Array }
  | { type: 'applied'; gradNorm: number }
  | { type: 'snapshot'; weights: [string, Float32Array][]; adam: AdamState; ema?: [string, Float32Array][] }
  | { type: 'restored' }
  | { type: 'error'; message: string };

class WorkerHandle {
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  constructor(readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (r.type === 'error') p.reject(new Error(r.message));
      else p.resolve(r);
    });
    worker.on('error', (e) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    });
  }

  request(msg: unknown, transfer: ArrayBuffer[] = []): Promise<Reply> {
    check(!this.pending, () => 'worker is busy', { key: 'WorkerEngine' });
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(msg, transfer);
    });
  }
}

/** Data-parallel over `n` worker threads, each building the replica described by `init`. */
export class WorkerEngine implements GradEngine {
  private constructor(
    private readonly handles: WorkerHandle[],
    private readonly size: number,
  ) {}

  get workers(): number {
    return this.handles.length;
  }

  static async start(n: number, init: ReplicaInit, lr: number, emaDecay = 0): Promise<WorkerEngine> {
    check(Number.isInteger(n) && n >= 1, () => `workers must be a positive integer, got ${n}`, { key: '--workers' });
    const handles = Array.from({ length: n }, () => new WorkerHandle(startTsWorker(new URL('./grad-worker.ts', import.meta.url), { init, lr, emaDecay })));
    const replies = await Promise.all(handles.map((h) => h.request({ type: 'init' })));
    const size = (replies[0] as { size: number }).size;
    return new WorkerEngine(handles, size);
  }

  async step(items: readonly unknown[], lrFactor: number): Promise<StepResult> {
    const n = this.handles.length;
    check(items.length % n === 0, () => `batch of ${items.length} does not split over ${n} workers`, { key: '--workers' });
    const share = items.length / n;
    const replies = (await Promise.all(
      this.handles.map((h, k) => h.request({ type: 'grads', items: items.slice(k * share, (k + 1) * share) })),
    )) as Extract<Reply, { type: 'grads' }>[];
    const grads = new Float32Array(this.size);
    for (const r of replies) for (let i = 0; i < grads.length; i++) grads[i]! += r.grads[i]!;
    for (let i = 0; i < grads.length; i++) grads[i]! /= n;
    const loss = replies.reduce((a, r) => a + r.loss, 0) / n;
    const parts: Record<string, number> = {};
    for (const r of replies) for (const [k, v] of Object.entries(r.parts)) parts[k] = (parts[k] ?? 0) + v / n;
    const applied = (await Promise.all(this.handles.map((h) => h.request({ type: 'apply', grads, lrFactor })))) as Extract<
      Reply,
      { type: 'applied' }
    >[];
    return { loss, gradNorm: applied[0]!.gradNorm, parts };
  }

  async snapshot(): Promise<TrainerSnapshot> {
    const r = (await this.handles[0]!.request({ type: 'snapshot' })) as Extract<Reply, { type: 'snapshot' }>;
    return { weights: new Map(r.weights), adam: r.adam, ...(r.ema ? { ema: new Map(r.ema) } : {}) };
  }

  async restore(s: TrainerSnapshot): Promise<void> {
    const msg = { type: 'restore', weights: [...s.weights.entries()], adam: s.adam, ema: s.ema ? [...s.ema.entries()] : undefined };
    await Promise.all(this.handles.map((h) => h.request(msg)));
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }
}

/** `workers` = 1: a local replica; more: worker threads. */
export async function startEngine(
  workers: number,
  init: ReplicaInit,
  lr: number,
  emaDecay = 0,
): Promise<{ engine: GradEngine; local?: Replica }> {
  if (workers <= 1) {
    const replica = buildReplica(init, lr, emaDecay);
    return { engine: new LocalEngine(replica), local: replica };
  }
  return { engine: await WorkerEngine.start(workers, init, lr, emaDecay) };
}
