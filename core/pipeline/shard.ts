import { ApertureDepthError } from '../errors.ts';

/** One of `count` shards of a run: `index` in 0..count-1. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * Parses `K/N` (K in 0..N-1, as Slurm's `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT` with `--array=0-(N-1)`).
 */
export function parseShard(text: string, key = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ApertureDepthError(`expected K/N (e.g. 0/4), got ${JSON.stringify(text)}`, { key });
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) {
    throw new ApertureDepthError(`shard ${index}/${count}: expected 0 <= K < N (K is 0-based)`, { key });
  }
  return { index, count };
}

/** The items of shard `K/N`: every N-th, starting at K (scene order is the dataset's, so shards are disjoint). */
export function shardItems<T>(items: readonly T[], shard?: Shard): T[] {
  if (!shard || shard.count === 1) return [...items];
  return items.filter((_, i) => i % shard.count === shard.index);
}
