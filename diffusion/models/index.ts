export { tfjsOps } from '../ops/tfjs-ops.ts';
export type { Ops, Conv2dOptions } from '../ops/ops.ts';
export { timestepEmbedding } from '../ops/timestep-embedding.ts';
export { Param, type ParamLayout } from '../checkpoint/param.ts';
export { findWeightsFile, readComponentConfig, loadComponent, type LoadOptions } from '../checkpoint/load-weights.ts';
export { loadUNet, loadVae, loadTextEncoder, createUNet, createVae, createTextEncoder, trainableParams, type ModelOptions } from './load.ts';
export type { Model } from './common/model.ts';
export { UNet2DConditionModel } from './unet/unet.ts';
export { parseUNetConfig, type UNetConfig } from './unet/config.ts';
export {
  timeProjectionData,
  timeProjectionSpec,
  type TimeProjectionInput,
  type TimeProjectionSpec,
  type UNetTimestep,
} from './unet/time-embedding.ts';
export { AutoencoderKL } from './vae/autoencoder-kl.ts';
export { parseVaeConfig, type VaeConfig } from './vae/config.ts';
export { ClipTextModel } from './clip/text-model.ts';
export { parseClipTextConfig, type ClipTextConfig } from './clip/config.ts';
