import { Worker } from 'node:worker_threads';

/**
 * A worker thread running a TypeScript module. Worker threads do not inherit tsx's module hooks, so the
 * thread registers them itself before importing `entry`.
 */
export function startTsWorker(entry: URL, workerData?: unknown): Worker {
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/** Sends one message and waits for the reply (`{ type: 'error', message }` rejects). */
export function requestOnce<R>(worker: Worker, msg: unknown, transfer: ArrayBuffer[] = []): Promise<R> {
  return new Promise((resolve, reject) => {
    const onMessage = (r: { type: string; message?: string }) => {
      cleanup();
      if (r.type === 'error') reject(new Error(r.message));
      else resolve(r as R);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.postMessage(msg, transfer);
  });
}
