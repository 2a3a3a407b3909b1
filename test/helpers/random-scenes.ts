import { Rng } from '../../core/tensor/rng.ts';
import type { SceneDataset } from '../../experiments/training/data/scene-dataset.ts';

/** `count` scenes of `width` x `height` with random RGB bytes and normalized depth in [-1, 1], seeded. */
export function randomSceneDataset(seed: number, width: number, height: number, count: number): SceneDataset {
  const rng = new Rng(seed);
  return {
    width,
    height,
    seeds: Array.from({ length: count }, (_, i) => i),
    rgb: Uint8Array.from({ length: count * width * height * 3 }, () => Math.floor(rng.uniform() * 256)),
    depth: Float32Array.from({ length: count * width * height }, () => rng.uniform() * 2 - 1),
  };
}
