import { ApertureDepthError, check } from '../errors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { findWeightsFile, readComponentConfig } from '../../diffusion/checkpoint/load-weights.ts';
import { openModelFolder } from '../../diffusion/checkpoint/model-folder.ts';
import { resolveModel } from '../../diffusion/checkpoint/registry.ts';
import { parseUNetConfig } from '../../diffusion/models/unet/config.ts';
import { parseVaeConfig } from '../../diffusion/models/vae/config.ts';

/**
 * An up-front estimate of the tensor bytes one `estimate` run needs, so that `limits.max_tensor_bytes`
 * (`--max-tensor-bytes`) can refuse a run before any work instead of letting it fail an hour in, and say
 * what size would fit. A simple model meant as an upper bound for the shipped renderers and priors, not a
 * measurement; every term is float32 (4 bytes per element):
 *
 * - input images: aif, blurred and the equalized blurred `[H, W, 3]`, plus ground truth, depth and
 *   confidence `[H, W]` at the input size;
 * - working tensors at the working size `[h, w]`: aif, observed, rendered, residual (3 channels) and six
 *   single-channel maps (mask, depth, relative depth, confidence, parameters);
 * - the renderer with its gradient tape: {@link RENDERER_BUFFERS} buffers of `[h, w, 3]` (the layered
 *   renderer is budgeted at 16 depth layers);
 * - the pixel prior: its logits and Adam's two moments and gradient, `4 h w`;
 * - the Marigold prior: every weight as float32, and the activations of one UNet pass (resnets and
 *   attention per level, the attention scores `heads x tokens^2` included) and one VAE-decoder pass at the
 *   processing resolution. The full variant keeps every denoising step's activations for the gradient and
 *   as much again for the gradients themselves (x `2 (steps + 1)`); scale-shift and oracle predict once,
 *   without a tape.
 */

/** `[h, w, 3]` buffers the renderer holds with its gradient tape (forward, tape, gradient of two levels). */
export const RENDERER_BUFFERS = Object.freeze({ scatter: 48, gather: 48, layered: 48 + 16 * 16 } as const);

/** What the prior brings to the budget: sizes read from the model folder's configs and weight headers. */
export interface PriorFootprint {
  /** Elements of every weight (UNet, VAE, text encoder); stored as float32 once loaded. */
  weightElements: number;
  /** Image pixels per latent pixel. */
  vaeScaleFactor: number;
  unet: {
    channels: number[];
    attention: boolean[];
    heads: number[];
    layers: number[];
    transformerLayers: number[];
  };
  vae: { channels: number[]; layers: number };
  /** Denoising steps per prediction. */
  steps: number;
  /** Long side the prior runs at; 0 = the working size. */
  processingResolution: number;
  /** Reflected margin on every side, in processing pixels (absent: 0). */
  margin?: number;
}

export interface RunSize {
  /** Input image size. */
  width: number;
  height: number;
  /** Long side of the working size (box-downsampled by an integer factor); absent: the input size. */
  workingMaxSide?: number;
  variant: 'scale-shift' | 'full' | 'pixel' | 'oracle';
  renderer: string;
  /** Absent for the pixel variant (no network). */
  prior?: PriorFootprint;
}

export interface RunBytes {
  /** Bytes in all. */
  total: number;
  /** Bytes per term, for the message. */
  parts: {
    images: number;
    working: number;
    renderer: number;
    pixelPrior: number;
    weights: number;
    activations: number;
  };
  working: { width: number; height: number; downscale: number };
  /** Processing size of the prior, when there is one. */
  processing?: { width: number; height: number };
}

const F32 = 4;

/** The working size `estimate` uses: the input box-downsampled by `ceil(longSide / maxSide)`. */
export function workingSize(width: number, height: number, maxSide?: number): RunBytes['working'] {
  const k = maxSide ? Math.max(1, Math.ceil(Math.max(width, height) / maxSide)) : 1;
  return { width: Math.floor(width / k), height: Math.floor(height / k), downscale: k };
}

/** Activations of one UNet pass on a latent of `lh x lw` (elements). */
function unetActivations(u: PriorFootprint['unet'], lh: number, lw: number): number {
  let total = 0;
  const n = u.channels.length;
  for (let i = 0; i < n; i++) {
    const s = Math.ceil(lh / 2 ** i) * Math.ceil(lw / 2 ** i); // tokens at this level
    const c = u.channels[i]!;
    const resnets = 2 * u.layers[i]! + 1; // down block + up block (one more resnet)
    total += resnets * 8 * c * s;
    if (u.attention[i]) {
      const transformers = resnets * u.transformerLayers[i]!;
      total += transformers * (2 * u.heads[i]! * s * s + 12 * c * s); // scores + softmax, q k v, projections
    }
    if (i === n - 1) total += 2 * 8 * c * s + 2 * u.heads[i]! * s * s + 12 * c * s; // mid block
  }
  return total;
}

/** Activations of one VAE-decoder pass producing `ph x pw` (elements). */
function decoderActivations(v: PriorFootprint['vae'], ph: number, pw: number): number {
  let total = 0;
  const n = v.channels.length;
  for (let j = 0; j < n; j++) {
    const s = Math.ceil(ph / 2 ** j) * Math.ceil(pw / 2 ** j);
    total += (v.layers + 1) * 8 * v.channels[j]! * s;
  }
  const deepest = Math.ceil(ph / 2 ** (n - 1)) * Math.ceil(pw / 2 ** (n - 1));
  return total + 2 * deepest * deepest + 2 * 8 * v.channels[n - 1]! * deepest; // mid attention and resnets
}

/**
 * Bytes of the activations of one UNet pass and one VAE-decoder pass producing a `pw x ph` image (the
 * estimate above), e.g. for choosing the native allocator's mode (`core/engine/native-memory.ts`).
 */
export function priorPassBytes(p: PriorFootprint, pw: number, ph: number): { unet: number; decoder: number } {
  const unet = unetActivations(p.unet, Math.ceil(ph / p.vaeScaleFactor), Math.ceil(pw / p.vaeScaleFactor));
  return { unet: F32 * unet, decoder: F32 * decoderActivations(p.vae, ph, pw) };
}

/**
 * The size the prior processes for a `width x height` working image: the long side resized to `resolution`
 * (0: kept), floored like `marigoldGeometry`, plus `margin` reflected pixels on every side.
 */
export function processingSize(
  width: number,
  height: number,
  resolution: number,
  margin = 0,
): { width: number; height: number } {
  const long = Math.max(width, height);
  const res = resolution > 0 ? resolution : long;
  return {
    width: Math.max(1, Math.floor((width * res) / long)) + 2 * margin,
    height: Math.max(1, Math.floor((height * res) / long)) + 2 * margin,
  };
}

/** The bytes of one run under the model above (see the file comment). */
export function estimateRunBytes(size: RunSize): RunBytes {
  const { width: W, height: H } = size;
  const working = workingSize(W, H, size.workingMaxSide);
  const hw = working.width * working.height;
  const images = F32 * W * H * (3 * 3 + 3);
  const work = F32 * hw * (4 * 3 + 6);
  const buffers =
    RENDERER_BUFFERS[size.renderer as keyof typeof RENDERER_BUFFERS] ?? RENDERER_BUFFERS.layered;
  const renderer = F32 * hw * 3 * buffers;
  const pixelPrior = size.variant === 'pixel' ? F32 * 4 * hw : 0;
  let weights = 0;
  let activations = 0;
  let processing: RunBytes['processing'];
  const p = size.prior;
  if (p && size.variant !== 'pixel') {
    weights = F32 * p.weightElements;
    const { width: pw, height: ph } = processingSize(
      working.width,
      working.height,
      p.processingResolution,
      p.margin,
    );
    processing = { width: pw, height: ph };
    const lh = Math.ceil(ph / p.vaeScaleFactor);
    const lw = Math.ceil(pw / p.vaeScaleFactor);
    const unet = unetActivations(p.unet, lh, lw);
    const dec = decoderActivations(p.vae, ph, pw);
    activations = F32 * (size.variant === 'full' ? 2 * (p.steps * unet + dec) : Math.max(unet, dec));
  }
  const parts = { images, working: work, renderer, pixelPrior, weights, activations };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { total, parts, working, ...(processing ? { processing } : {}) };
}

/** What would fit under `maxBytes`: the largest working long side, else the largest processing resolution. */
export interface FittingSize {
  workingMaxSide?: number;
  processingResolution?: number;
}

/** Searches the largest working long side (and, failing that, processing resolution) under `maxBytes`. */
export function largestFitting(size: RunSize, maxBytes: number): FittingSize | undefined {
  const long = Math.max(size.width, size.height);
  const fits = (s: number, pr?: number) =>
    estimateRunBytes({
      ...size,
      workingMaxSide: s,
      ...(pr !== undefined && size.prior ? { prior: { ...size.prior, processingResolution: pr } } : {}),
    }).total <= maxBytes;
  const start = Math.min(long, size.workingMaxSide ?? long);
  // The largest working side that fits with processing resolution `pr` (binary search: bytes grow with it).
  const bestSide = (pr?: number): number | undefined => {
    if (!fits(Math.min(8, start), pr)) return undefined;
    let lo = Math.min(8, start);
    let hi = start;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid, pr)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const side = bestSide();
  if (side !== undefined) return { workingMaxSide: side };
  const p = size.prior;
  if (!p || size.variant === 'pixel') return undefined;
  const current = p.processingResolution > 0 ? p.processingResolution : start;
  for (let pr = Math.floor((current - 1) / 8) * 8; pr >= 8; pr -= 8) {
    const s = bestSide(pr);
    if (s !== undefined) return { processingResolution: pr, ...(s < start ? { workingMaxSide: s } : {}) };
  }
  return undefined;
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/**
 * Refuses a run whose estimate exceeds `maxBytes`, with the bytes per term and the size that would fit.
 * `file` is what the run reads (the pair), named in the error.
 */
export function checkRunBytes(size: RunSize, maxBytes: number, file: string): RunBytes {
  check(
    Number.isFinite(maxBytes) && maxBytes > 0,
    () => `must be a positive number of bytes, got ${maxBytes}`,
    {
      key: 'limits.max_tensor_bytes',
    },
  );
  const need = estimateRunBytes(size);
  if (need.total <= maxBytes) return need;
  const { parts, working, processing } = need;
  const fit = largestFitting(size, maxBytes);
  const suggestion = !fit
    ? `nothing fits: the input images (${size.width}x${size.height}) and the prior's weights alone need ` +
      `${parts.images + parts.weights} bytes; use smaller images or a larger limit`
    : fit.processingResolution === undefined
      ? `the largest working size that fits is a long side of ${fit.workingMaxSide} px ` +
        `(--working-size ${fit.workingMaxSide}, limits.working_max_side: ${fit.workingMaxSide})`
      : `no working size fits at this processing resolution; the largest that fits is ` +
        `prior.processing_resolution: ${fit.processingResolution}` +
        (fit.workingMaxSide !== undefined
          ? ` with a working long side of ${fit.workingMaxSide} px (--working-size ${fit.workingMaxSide}, ` +
            `limits.working_max_side: ${fit.workingMaxSide})`
          : '');
  throw new ApertureDepthError(
    `this run needs about ${need.total} bytes (${mb(need.total)}: images ${mb(parts.images)}, working tensors ` +
      `${mb(parts.working)}, renderer ${mb(parts.renderer)}, pixel prior ${mb(parts.pixelPrior)}, prior weights ` +
      `${mb(parts.weights)}, prior activations ${mb(parts.activations)}) at a working size of ` +
      `${working.width}x${working.height}${processing ? ` and a processing size of ${processing.width}x${processing.height}` : ''}, ` +
      `over the limit of ${maxBytes} bytes (limits.max_tensor_bytes, --max-tensor-bytes); ${suggestion}`,
    { file, key: 'max_tensor_bytes' },
  );
}

/**
 * Reads what the budget needs from a model folder without loading it: the UNet and VAE configs and the
 * weight headers (element counts). `steps` and `processingResolution` as the prior would choose them.
 */
export function priorFootprint(
  model: string,
  options: { steps?: number; processingResolution?: number; margin?: number } = {},
): PriorFootprint {
  const folder = openModelFolder(resolveModel(model).path);
  const unetRaw = readComponentConfig(folder.unet.dir);
  const unet = parseUNetConfig(unetRaw.raw, unetRaw.file);
  const vaeRaw = readComponentConfig(folder.vae.dir);
  const vae = parseVaeConfig(vaeRaw.raw, vaeRaw.file);
  const weightElements = weightElementsOf([folder.unet.dir, folder.vae.dir, folder.textEncoder.dir]);
  return footprintFromConfigs(unet, vae, weightElements, {
    steps: options.steps ?? folder.index.defaultDenoisingSteps ?? 4,
    processingResolution: options.processingResolution ?? folder.index.defaultProcessingResolution ?? 768,
    ...(options.margin ? { margin: options.margin } : {}),
  });
}

/** Elements of every weight of the component folders `dirs`, from their safetensors headers alone. */
export function weightElementsOf(dirs: readonly string[]): number {
  let elements = 0;
  for (const dir of dirs) {
    const f = openSafetensors(findWeightsFile(dir));
    try {
      for (const name of f.names()) elements += f.info(name).shape.reduce((a, b) => a * b, 1);
    } finally {
      f.close();
    }
  }
  return elements;
}

/** The footprint of parsed UNet and VAE configs with `weightElements` weights (`priorFootprint` without a folder). */
export function footprintFromConfigs(
  unet: ReturnType<typeof parseUNetConfig>,
  vae: ReturnType<typeof parseVaeConfig>,
  weightElements: number,
  settings: { steps: number; processingResolution: number; margin?: number },
): PriorFootprint {
  const n = unet.block_out_channels.length;
  return {
    weightElements,
    vaeScaleFactor: 2 ** (vae.block_out_channels.length - 1),
    unet: {
      channels: unet.block_out_channels,
      attention: unet.down_block_types.map(
        (t, i) => t === 'CrossAttnDownBlock2D' || unet.up_block_types[n - 1 - i] === 'CrossAttnUpBlock2D',
      ),
      heads: unet.num_attention_heads,
      layers: unet.layers_per_block,
      transformerLayers: unet.transformer_layers_per_block,
    },
    vae: { channels: vae.block_out_channels, layers: vae.layers_per_block },
    ...settings,
  };
}
