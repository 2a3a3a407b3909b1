import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * The one HDF5 worker of the process and its message protocol. libhdf5 (h5wasm) runs in a worker thread
 * (`hdf5-worker.js`) because a corrupt file can make it loop forever or abort the wasm module, and only a
 * worker can be stopped: a call that outlives its timeout, or that aborts, terminates the worker, closes
 * the file descriptors it held, and the next call starts a fresh one. Calls run one at a time.
 */

/** A dataset or group as listed by the worker. `meta` mirrors h5wasm's metadata. */
export interface Hdf5Entry {
  name: string;
  kind: 'dataset' | 'group' | 'other';
  /** The path h5wasm uses for the object. */
  path: string;
  meta?: {
    type: number;
    size: number;
    signed: boolean;
    littleEndian: boolean;
    shape: number[] | null;
    chunks: number[] | null;
  };
  filters?: number;
}

export interface Hdf5Selection {
  count: number[];
  offset: number[];
  strides: number[];
}

export type Hdf5WriteAttr = [name: string, value: string | number | number[]];

export interface Hdf5WriteContent {
  attrs: Hdf5WriteAttr[];
  datasets: {
    name: string;
    shape: number[];
    format: string;
    data: ArrayBufferView;
    attrs: Hdf5WriteAttr[];
  }[];
}

/** Requests the worker understands (`op`), with what each returns. */
export interface Hdf5Ops {
  open: { args: { path: string }; result: number };
  close: { args: { fid: number }; result: null };
  list: { args: { fid: number }; result: Hdf5Entry[] };
  attrs: {
    args: { fid: number; path: string };
    result: { values: Record<string, string | number | number[] | string[]>; skipped: string[] };
  };
  read: {
    args: { fid: number; path: string; sel: Hdf5Selection | null; nbytes: number };
    result: ArrayBuffer;
  };
  write: { args: { path: string; content: Hdf5WriteContent }; result: null };
}

type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string; trap: boolean };

/** Why a call failed: libhdf5 reported an error, aborted, or ran past its time. */
export class Hdf5CallError extends Error {
  constructor(
    message: string,
    readonly kind: 'error' | 'abort' | 'timeout',
  ) {
    super(message);
  }
}

const FD_SLOTS = 256;
/** Ordinary failures after which the worker is replaced anyway (h5wasm leaks handles and descriptors on errors). */
const MAX_FAILURES_PER_WORKER = 256;

class Hdf5Worker {
  readonly worker: Worker;
  readonly fds = new Int32Array(new SharedArrayBuffer(FD_SLOTS * 4));
  failures = 0;
  private nextId = 1;
  private pending?: { id: number; resolve: (r: Reply) => void; reject: (e: Error) => void };

  constructor() {
    this.worker = new Worker(new URL('./hdf5-worker.js', import.meta.url), {
      workerData: { fds: this.fds.buffer },
    });
    this.worker.on('message', (msg: Reply | { ready: true }) => {
      if ('id' in msg && this.pending?.id === msg.id) this.pending.resolve(msg);
    });
    const fail = (err: Error) => this.pending?.reject(err);
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the HDF5 worker exited (code ${code})`)));
    // After the listeners: adding a 'message' listener refs the port again. An idle worker must not keep
    // the process alive; a pending call's timer does.
    this.worker.unref();
  }

  call(op: string, args: object, timeoutMs: number): Promise<Reply | 'timeout'> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve('timeout'), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.pending = undefined;
        f();
      };
      this.pending = { id, resolve: (r) => done(() => resolve(r)), reject: (e) => done(() => reject(e)) };
      this.worker.postMessage({ id, op, ...args });
    });
  }

  /** Stops the worker and closes the descriptors it left open. */
  async stop(): Promise<void> {
    await this.worker.terminate();
    for (let i = 0; i < FD_SLOTS; i++) {
      const fd = Atomics.exchange(this.fds, i, 0);
      if (fd > 0) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
    }
  }
}

let current: Hdf5Worker | undefined;
let generation = 0;
let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` when no other HDF5 operation is running (operations hold files open across calls). */
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** The worker generation: file ids from `open` are only valid within the generation that made them. */
export function workerGeneration(): number {
  return generation;
}

async function replaceWorker(): Promise<void> {
  const old = current;
  current = undefined;
  generation++;
  await old?.stop();
}

/** Calls `op` in the worker; a timeout or an abort replaces the worker before the error is thrown. */
export async function hdf5Call<K extends keyof Hdf5Ops>(
  op: K,
  args: Hdf5Ops[K]['args'],
  timeoutMs: number,
): Promise<Hdf5Ops[K]['result']> {
  if (current && current.failures >= MAX_FAILURES_PER_WORKER && op === 'open') await replaceWorker();
  current ??= new Hdf5Worker();
  const w = current;
  let reply: Reply | 'timeout';
  try {
    reply = await w.call(op, args, timeoutMs);
  } catch (err) {
    await replaceWorker();
    throw new Hdf5CallError((err as Error).message, 'abort');
  }
  if (reply === 'timeout') {
    await replaceWorker();
    throw new Hdf5CallError(`libhdf5 did not finish within ${timeoutMs} ms`, 'timeout');
  }
  if (!reply.ok) {
    w.failures++;
    if (reply.trap) await replaceWorker();
    throw new Hdf5CallError(reply.message, reply.trap ? 'abort' : 'error');
  }
  return reply.result as Hdf5Ops[K]['result'];
}
