/**
 * The diffusers configs of the embedded prior (`aperture-depth-tiny`) and of a micro variant for tests.
 * Marigold's layout, scaled down: an AutoencoderKL with 4 latent channels (4x downsampling: at 64 px the
 * 8x latent would be 8x8, too coarse for depth edges), a UNet2DConditionModel with 8 input channels
 * ([rgb latent | depth latent]) and v-prediction, a tiny CLIP text encoder for the empty prompt, and a DDIM
 * scheduler with trailing spacing and zero terminal SNR (1-4 step inference).
 *
 * `use_linear_projection: true` keeps every `linear` weight a real `nn.Linear`, so diffusers itself could
 * load the saved safetensors too.
 */

export type JsonObject = Record<string, unknown>;

export interface PriorConfigs {
  vae: JsonObject;
  unet: JsonObject;
  textEncoder: JsonObject;
  scheduler: JsonObject;
  modelIndex: JsonObject;
  tokenizer: { vocab: JsonObject; config: JsonObject; specialTokens: JsonObject };
}

export const DIFFUSERS_VERSION = '0.30.3';

export interface SizeSpec {
  vaeChannels: number[];
  vaeGroups: number;
  vaeMidAttention: boolean;
  unetChannels: number[];
  unetDown: string[];
  unetUp: string[];
  unetLayers: number;
  unetHeads: number[];
  unetGroups: number;
  crossDim: number;
  clipLayers: number;
  clipHeads: number;
  processingResolution: number;
}

/** The shipped model. */
export const TINY: SizeSpec = Object.freeze({
  vaeChannels: [16, 32, 64],
  vaeGroups: 16,
  vaeMidAttention: true,
  unetChannels: [32, 64, 128],
  unetDown: ['DownBlock2D', 'DownBlock2D', 'CrossAttnDownBlock2D'],
  unetUp: ['CrossAttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
  unetLayers: 1,
  unetHeads: [1, 2, 2],
  unetGroups: 16,
  crossDim: 32,
  clipLayers: 1,
  clipHeads: 2,
  processingResolution: 96,
}) as SizeSpec;

/**
 * The shipped model's VAE with a UNet 1.5x as wide ([48, 96, 192], about 2.25x the parameters and the
 * UNet's training time): `--preset small`, measured in experiments/training/README.md.
 */
export const SMALL: SizeSpec = Object.freeze({ ...TINY, unetChannels: [48, 96, 192] }) as SizeSpec;

/**
 * The tiny model with 4 GroupNorm groups in the VAE (4-16 channels each) instead of 16, which made its
 * 16-channel blocks per-channel instance norms. Measured (experiments/training/README.md): a better RGB and depth
 * reconstruction at the same steps, but the image latent still carries no colour. `--preset tiny-gn`.
 */
export const TINY_GN: SizeSpec = Object.freeze({ ...TINY, vaeGroups: 4 }) as SizeSpec;

/** For tests: a few thousand parameters, seconds per step. */
export const MICRO: SizeSpec = Object.freeze({
  vaeChannels: [8, 8],
  vaeGroups: 4,
  vaeMidAttention: false,
  unetChannels: [8, 16],
  unetDown: ['DownBlock2D', 'CrossAttnDownBlock2D'],
  unetUp: ['CrossAttnUpBlock2D', 'UpBlock2D'],
  unetLayers: 1,
  unetHeads: [1, 2],
  unetGroups: 4,
  crossDim: 8,
  clipLayers: 1,
  clipHeads: 1,
  processingResolution: 32,
}) as SizeSpec;

/** Token ids of the minimal tokenizer (the empty prompt is [BOS, EOS]). */
export const BOS_ID = 0;
export const EOS_ID = 1;

export function priorConfigs(spec: SizeSpec, scalingFactor = 1): PriorConfigs {
  const n = spec.vaeChannels.length;
  const vae: JsonObject = {
    _class_name: 'AutoencoderKL',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    block_out_channels: spec.vaeChannels,
    down_block_types: Array(n).fill('DownEncoderBlock2D'),
    force_upcast: false,
    in_channels: 3,
    latent_channels: 4,
    latents_mean: null,
    latents_std: null,
    layers_per_block: 1,
    mid_block_add_attention: spec.vaeMidAttention,
    norm_num_groups: spec.vaeGroups,
    out_channels: 3,
    sample_size: 64,
    scaling_factor: scalingFactor,
    shift_factor: null,
    up_block_types: Array(n).fill('UpDecoderBlock2D'),
    use_post_quant_conv: true,
    use_quant_conv: true,
  };
  const unet: JsonObject = {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    addition_embed_type: null,
    attention_head_dim: spec.unetHeads,
    attention_type: 'default',
    block_out_channels: spec.unetChannels,
    center_input_sample: false,
    class_embed_type: null,
    conv_in_kernel: 3,
    conv_out_kernel: 3,
    cross_attention_dim: spec.crossDim,
    down_block_types: spec.unetDown,
    downsample_padding: 1,
    dual_cross_attention: false,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: 8,
    layers_per_block: spec.unetLayers,
    mid_block_scale_factor: 1,
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    norm_eps: 1e-5,
    norm_num_groups: spec.unetGroups,
    num_attention_heads: null,
    only_cross_attention: false,
    out_channels: 4,
    resnet_time_scale_shift: 'default',
    sample_size: 16,
    time_embedding_type: 'positional',
    transformer_layers_per_block: 1,
    up_block_types: spec.unetUp,
    upcast_attention: false,
    use_linear_projection: true,
  };
  const textEncoder: JsonObject = {
    architectures: ['CLIPTextModel'],
    attention_dropout: 0.0,
    bos_token_id: BOS_ID,
    dropout: 0.0,
    eos_token_id: EOS_ID,
    hidden_act: 'gelu',
    hidden_size: spec.crossDim,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: spec.crossDim * 4,
    layer_norm_eps: 1e-5,
    max_position_embeddings: 8,
    model_type: 'clip_text_model',
    num_attention_heads: spec.clipHeads,
    num_hidden_layers: spec.clipLayers,
    pad_token_id: EOS_ID,
    projection_dim: spec.crossDim,
    torch_dtype: 'float32',
    vocab_size: 2,
  };
  const scheduler: JsonObject = {
    _class_name: 'DDIMScheduler',
    _diffusers_version: DIFFUSERS_VERSION,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    clip_sample_range: 1.0,
    dynamic_thresholding_ratio: 0.995,
    num_train_timesteps: 1000,
    prediction_type: 'v_prediction',
    rescale_betas_zero_snr: true,
    sample_max_value: 1.0,
    set_alpha_to_one: false,
    steps_offset: 0,
    thresholding: false,
    timestep_spacing: 'trailing',
    trained_betas: null,
  };
  const modelIndex: JsonObject = {
    _class_name: 'MarigoldDepthPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    default_denoising_steps: 1,
    default_processing_resolution: spec.processingResolution,
    prediction_type: 'depth',
    scale_invariant: true,
    shift_invariant: true,
    scheduler: ['diffusers', 'DDIMScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
  const tokenizer = {
    vocab: { '<|startoftext|>': BOS_ID, '<|endoftext|>': EOS_ID },
    config: {
      tokenizer_class: 'CLIPTokenizer',
      bos_token: '<|startoftext|>',
      eos_token: '<|endoftext|>',
      model_max_length: 8,
    },
    specialTokens: {
      bos_token: '<|startoftext|>',
      eos_token: '<|endoftext|>',
      pad_token: '<|endoftext|>',
      unk_token: '<|endoftext|>',
    },
  };
  return { vae, unet, textEncoder, scheduler, modelIndex, tokenizer };
}
