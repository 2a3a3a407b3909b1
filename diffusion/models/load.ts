import { BindingSource } from '../checkpoint/binding-source.ts';
import { loadComponent, type LoadOptions } from '../checkpoint/load-weights.ts';
import type { ParamSource } from '../checkpoint/param-source.ts';
import type { Param } from '../checkpoint/param.ts';
import { RandomSource } from '../checkpoint/random-source.ts';
import type { Ops } from '../ops/ops.ts';
import { tfjsOps } from '../ops/tfjs-ops.ts';
import { parseClipTextConfig, type ClipTextConfig } from './clip/config.ts';
import { ClipTextModel } from './clip/text-model.ts';
import type { Model } from './common/model.ts';
import { parseUNetConfig, type UNetConfig } from './unet/config.ts';
import { UNet2DConditionModel } from './unet/unet.ts';
import { parseVaeConfig, type VaeConfig } from './vae/config.ts';
import { AutoencoderKL } from './vae/autoencoder-kl.ts';

export interface ModelOptions extends LoadOptions {
  /**
   * Executor to bind every weight to right away (uploads to the tfjs backend), or null to keep weights on
   * the host until first use. @default tfjsOps
   */
  bind?: Ops<unknown> | null;
  /** Keep the host float32 copy after binding (a second executor may want it). @default false */
  keepHostData?: boolean;
}

/** Wraps a source so each weight is bound (uploaded) as soon as it is built. */
function binding(source: ParamSource, options: ModelOptions): ParamSource {
  const ops = options.bind === undefined ? (tfjsOps as Ops<unknown>) : options.bind;
  return ops ? new BindingSource(source, ops, options.keepHostData) : source;
}

/** Loads `<ckpt>/unet` (config.json + safetensors). */
export async function loadUNet(dir: string, options: ModelOptions = {}): Promise<UNet2DConditionModel> {
  const { model } = loadComponent(dir, (raw, file, src) => new UNet2DConditionModel(parseUNetConfig(raw, file), binding(src, options)), options);
  return model;
}

/** Loads `<ckpt>/vae`. */
export async function loadVae(dir: string, options: ModelOptions = {}): Promise<AutoencoderKL> {
  const { model } = loadComponent(dir, (raw, file, src) => new AutoencoderKL(parseVaeConfig(raw, file), binding(src, options)), options);
  return model;
}

/** Loads `<ckpt>/text_encoder` (transformers CLIPTextModel). */
export async function loadTextEncoder(dir: string, options: ModelOptions = {}): Promise<ClipTextModel> {
  const { model } = loadComponent(dir, (raw, file, src) => new ClipTextModel(parseClipTextConfig(raw, file), binding(src, options)), options);
  return model;
}

type RawOr<C> = C | Record<string, unknown>;
const isParsed = <C extends { raw: Record<string, unknown> }>(c: RawOr<C>): c is C =>
  typeof (c as { raw?: unknown }).raw === 'object' && (c as { raw?: unknown }).raw !== null;

/**
 * A UNet from a config (parsed, or a config.json object) with seeded random weights (torch default
 * init): for benchmarks of the real Marigold config and for training small models.
 */
export function createUNet(config: RawOr<UNetConfig>, seed: number, options: ModelOptions = {}): UNet2DConditionModel {
  const cfg = isParsed(config) ? config : parseUNetConfig(config, '<unet config>');
  return new UNet2DConditionModel(cfg, binding(new RandomSource(seed, 'random unet', options.trainable), options));
}

export function createVae(config: RawOr<VaeConfig>, seed: number, options: ModelOptions = {}): AutoencoderKL {
  const cfg = isParsed(config) ? config : parseVaeConfig(config, '<vae config>');
  return new AutoencoderKL(cfg, binding(new RandomSource(seed, 'random vae', options.trainable), options));
}

export function createTextEncoder(config: RawOr<ClipTextConfig>, seed: number, options: ModelOptions = {}): ClipTextModel {
  const cfg = isParsed(config) ? config : parseClipTextConfig(config, '<text_encoder config>');
  return new ClipTextModel(cfg, binding(new RandomSource(seed, 'random text encoder', options.trainable), options));
}

/** The tf.Variables of a model's trainable weights (bound to tfjs), e.g. for an optimizer. */
export function trainableParams(model: Model): Param[] {
  return model.parameters().filter((p) => p.trainable);
}
