/**
 * Worker-thread entry of `WorkerEngine`: builds one replica (its own tfjs-wasm instance) and serves
 * gradient, update, snapshot and restore requests, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../../../core/engine/backend.ts';
import type { AdamState } from '../../../optimizers/adam.ts';
import { buildReplica, type Replica, type ReplicaInit } from '../stages/replica.ts';

const { init, lr, emaDecay } = workerData as { init: ReplicaInit; lr: number; emaDecay: number };
let replica: Replica | undefined;

type Request =
  | { type: 'init' }
  | { type: 'grads'; items: unknown[] }
  | { type: 'apply'; grads: Float32Array; lrFactor: number }
  | { type: 'snapshot' }
  | { type: 'restore'; weights: [string, Float32Array][]; adam: AdamState; ema?: [string, Float32Array][] };

parentPort!.on('message', async (msg: Request) => {
  try {
    if (msg.type === 'init') {
      await initEngine('wasm');
      replica = buildReplica(init, lr, emaDecay);
      parentPort!.postMessage({ type: 'ready', size: replica.trainer.size });
      return;
    }
    const r = replica!;
    switch (msg.type) {
      case 'grads': {
        const out = r.trainer.computeGrads(r.loss(msg.items));
        parentPort!.postMessage({ type: 'grads', ...out }, [out.grads.buffer as ArrayBuffer]);
        return;
      }
      case 'apply':
        parentPort!.postMessage({ type: 'applied', gradNorm: r.trainer.applyGrads(msg.grads, msg.lrFactor) });
        return;
      case 'snapshot': {
        const s = r.trainer.snapshot();
        parentPort!.postMessage({ type: 'snapshot', weights: [...s.weights.entries()], adam: s.adam, ema: s.ema ? [...s.ema.entries()] : undefined });
        return;
      }
      case 'restore':
        r.trainer.restore({ weights: new Map(msg.weights), adam: msg.adam, ...(msg.ema ? { ema: new Map(msg.ema) } : {}) });
        parentPort!.postMessage({ type: 'restored' });
        return;
    }
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
});
