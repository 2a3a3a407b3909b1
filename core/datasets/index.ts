export type { Dataset, DepthMap, Intrinsics, PairScene, RgbdScene, Scene, SceneRef } from './dataset.ts';
export { safeSceneId } from './dataset.ts';
export { DATASETS, createDataset, SelectedDataset, type SceneSelection } from './registry.ts';
export {
  Middlebury2014Dataset,
  parseMiddleburyCalib,
  disparityToDepthM,
  type MiddleburyCalib,
} from './middlebury2014.ts';
export {
  RgbdFolderDataset,
  decodeDepthImage,
  type RgbdFolderOptions,
  type RgbdFrame,
} from './rgbd-folder.ts';
export { NyuV2LabeledDataset, readSplitFile, NYUV2_INTRINSICS, EIGEN_CROP } from './nyuv2-labeled.ts';
export { NYUV2_TEST_INDICES, NYUV2_TRAIN_INDICES, NYUV2_LABELED_COUNT } from './nyuv2-split.ts';
export { PairsDataset } from './pairs.ts';
export {
  downscaleImage,
  downscaleDepth,
  downscaleMask,
  downscaleIntrinsics,
  downscaleScene,
} from './resample.ts';
