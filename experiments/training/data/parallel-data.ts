/**
 * The data phases on worker threads: rendering the training scenes and encoding them with the trained VAE
 * split into contiguous chunks, one per worker. Results are the same arrays, in the same order, as the
 * single-threaded path (scenes are rendered per seed; encoding keeps batches of `batch` scenes).
 */
import type { Worker } from 'node:worker_threads';
import type { JsonObject } from '../model-configs.ts';
import { requestOnce, startTsWorker } from '../trainer/ts-worker.ts';
import type { SceneDataset } from './scene-dataset.ts';

/** Contiguous [start, end) chunks of `n`, each a multiple of `align` except the last. */
export function chunks(n: number, parts: number, align = 1): [number, number][] {
  const per = Math.ceil(n / parts / align) * align;
  const out: [number, number][] = [];
  for (let start = 0; start < n; start += per) out.push([start, Math.min(n, start + per)]);
  return out;
}

async function withWorkers<T>(n: number, run: (workers: Worker[]) => Promise<T>): Promise<T> {
  const workers = Array.from({ length: n }, () => startTsWorker(new URL('./data-worker.ts', import.meta.url)));
  try {
    return await run(workers);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Renders `seeds` on `workers` threads at `width` x `height`: `{ rgb [N, H, W, 3] bytes, depth [N, H, W]
 * normalized }`.
 */
export async function renderParallel(
  seeds: readonly number[],
  width: number,
  height: number,
  naturalTextures: boolean,
  workers: number,
): Promise<{ rgb: Uint8Array; depth: Float32Array }> {
  const parts = chunks(seeds.length, workers);
  const hw = width * height;
  const rgb = new Uint8Array(seeds.length * hw * 3);
  const depth = new Float32Array(seeds.length * hw);
  await withWorkers(parts.length, (ws) =>
    Promise.all(
      parts.map(async ([a, b], k) => {
        const r = await requestOnce<{ rgb: Uint8Array; depth: Float32Array }>(ws[k]!, {
          type: 'render',
          seeds: seeds.slice(a, b),
          width,
          height,
          naturalTextures,
        });
        rgb.set(r.rgb, a * hw * 3);
        depth.set(r.depth, a * hw);
      }),
    ),
  );
  return { rgb, depth };
}

/** Encodes every scene and its mirror (`encodeLatentSet` layout) on `workers` threads. */
export async function encodeParallel(
  vaeConfig: JsonObject,
  weights: ReadonlyMap<string, Float32Array>,
  scalingFactor: number,
  ds: SceneDataset,
  latentPerItem: number,
  workers: number,
  batch = 8,
): Promise<{ rgb: Float32Array; depth: Float32Array }> {
  const n = ds.seeds.length;
  const parts = chunks(n, workers, batch);
  const hw = ds.width * ds.height;
  const rgb = new Float32Array(2 * n * latentPerItem);
  const depth = new Float32Array(2 * n * latentPerItem);
  await withWorkers(parts.length, (ws) =>
    Promise.all(
      parts.map(async ([a, b], k) => {
        const r = await requestOnce<{ rgb: Float32Array; depth: Float32Array }>(ws[k]!, {
          type: 'encode',
          vaeConfig,
          weights: [...weights.entries()],
          scalingFactor,
          scenes: { rgb: ds.rgb.slice(a * hw * 3, b * hw * 3), depth: ds.depth.slice(a * hw, b * hw), count: b - a, width: ds.width, height: ds.height },
          batch,
        });
        rgb.set(r.rgb, 2 * a * latentPerItem);
        depth.set(r.depth, 2 * a * latentPerItem);
      }),
    ),
  );
  return { rgb, depth };
}
