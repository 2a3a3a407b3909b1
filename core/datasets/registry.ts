import { check } from '../errors.ts';
import type { DataConfig, DatasetName } from '../config/schema.ts';
import type { Dataset, Scene, SceneRef } from './dataset.ts';
import { Middlebury2014Dataset } from './middlebury2014.ts';
import { NyuV2LabeledDataset } from './nyuv2-labeled.ts';
import { PairsDataset } from './pairs.ts';
import { clipDepthRange, downscaleScene } from './resample.ts';
import { RgbdFolderDataset } from './rgbd-folder.ts';

type Factory<N extends DatasetName> = (
  config: Extract<DataConfig, { name: N }>,
) => Dataset | Promise<Dataset>;

/** Dataset loaders by config name (`data.name`). */
export const DATASETS: Readonly<{ [N in DatasetName]: Factory<N> }> = Object.freeze({
  pairs: (c) => new PairsDataset({ root: c.root, files: c.files }),
  middlebury2014: (c) => new Middlebury2014Dataset({ root: c.root, mask: c.mask }),
  'rgbd-folder': (c) =>
    new RgbdFolderDataset({
      root: c.root,
      rgbSuffix: c.rgb_suffix,
      depthSuffix: c.depth_suffix,
      depthScale: c.depth_scale,
      depthEncoding: c.depth_encoding,
      intrinsics: c.intrinsics,
      frames: c.frames?.map((f) => ({
        id: f.id,
        rgb: f.rgb,
        depth: f.depth,
        depthScale: f.depth_scale,
        depthEncoding: f.depth_encoding,
      })),
    }),
  'nyuv2-labeled': (c) =>
    new NyuV2LabeledDataset({
      file: c.file,
      split: c.split,
      splitFile: c.split_file,
      eigenCrop: c.eigen_crop,
    }).open(),
});

/** Options every dataset takes from the config: a scene filter, a limit, and for RGB-D a size and depth range. */
export interface SceneSelection {
  scenes?: string[];
  limit?: number;
  downscale?: number;
  maxDepthM?: number;
}

/**
 * Wraps a dataset with the common options: keeps the named scenes (in that order) and at most `limit`, and
 * downscales and clips RGB-D scenes as they load.
 */
export class SelectedDataset implements Dataset {
  readonly name: string;
  private readonly refs: SceneRef[];

  constructor(
    private readonly inner: Dataset,
    private readonly selection: SceneSelection,
  ) {
    this.name = inner.name;
    const all = inner.scenes();
    let refs = all;
    if (selection.scenes) {
      const byId = new Map(all.map((r) => [r.id, r]));
      refs = selection.scenes.map((id) => {
        const r = byId.get(id);
        check(
          r,
          () =>
            `no scene "${id}" in ${inner.name}; it has ${all
              .map((x) => x.id)
              .slice(0, 20)
              .join(', ')}${all.length > 20 ? ', ...' : ''}`,
          {
            key: 'data.scenes',
          },
        );
        return r;
      });
    }
    if (selection.limit !== undefined) refs = refs.slice(0, selection.limit);
    this.refs = refs;
  }

  scenes(): SceneRef[] {
    return this.refs.map((r) => ({ ...r }));
  }

  async load(ref: SceneRef): Promise<Scene> {
    const scene = await this.inner.load(ref);
    if (scene.kind !== 'rgbd') return scene;
    clipDepthRange(scene.depth, this.selection.maxDepthM);
    return downscaleScene(scene, this.selection.downscale ?? 1);
  }
}

/** The dataset a config's `data` section names, with its scene selection applied. */
export async function createDataset(config: DataConfig): Promise<Dataset> {
  const factory = DATASETS[config.name] as Factory<typeof config.name>;
  const inner = await factory(config as never);
  const rgbd = 'downscale' in config ? config : undefined;
  return new SelectedDataset(inner, {
    scenes: config.scenes,
    limit: config.limit,
    downscale: rgbd?.downscale,
    maxDepthM: rgbd?.max_depth_m,
  });
}
