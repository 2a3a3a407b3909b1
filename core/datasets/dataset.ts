import type { FloatImage } from '../io/raster.ts';

/** Pinhole intrinsics in pixels. */
export interface Intrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

/**
 * Metric depth, row-major `[H, W]`: metres, `NaN` where there is no ground truth.
 * @example `{ width: 347, height: 277, data: Float32Array(96119) }` (Middlebury ArtL at quarter size: 1.42-2.16 m)
 */
export interface DepthMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** One scene of a dataset, before loading: a stable id (also its folder name in a run) and where it lives. */
export interface SceneRef {
  /** Unique within the dataset, filename-safe (`[A-Za-z0-9._-]`). */
  id: string;
  /** Position in the dataset's full (unfiltered) order. */
  index: number;
  /** The file or folder it is read from (for messages and reports). */
  source: string;
}

/** A scene that is an aperture pair already: its `pair.json` (ground truth optional, named inside). */
export interface PairScene {
  kind: 'pair';
  id: string;
  pairFile: string;
}

/**
 * A scene with an all-in-focus sRGB image and metric depth: simulation turns it into a pair.
 * `rgb` is `[H, W, 3]` in [0, 1], sRGB-encoded as stored; `depth` has the same size.
 */
export interface RgbdScene {
  kind: 'rgbd';
  id: string;
  rgb: FloatImage;
  depth: DepthMap;
  intrinsics?: Intrinsics;
  /** Non-zero where metrics are taken (a dataset's standard crop), row-major `[H, W]`; absent = everywhere. */
  evalMask?: Uint8Array;
  /** The files it was read from. */
  files: string[];
}

export type Scene = PairScene | RgbdScene;

/**
 * A dataset: a list of scenes and a loader. Implementations are small and chosen by name in the config
 * (`data.name`, see `registry.ts`).
 */
export interface Dataset {
  readonly name: string;
  /** Every scene, in a fixed order (sharding and resuming rely on it). */
  scenes(): SceneRef[];
  load(ref: SceneRef): Promise<Scene>;
}

/** Makes a scene id filename-safe: every character outside `[A-Za-z0-9._-]` becomes `_`. */
export function safeSceneId(raw: string): string {
  const id = raw.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return id || 'scene';
}
