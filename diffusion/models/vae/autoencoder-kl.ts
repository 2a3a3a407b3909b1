import { check } from '../../../core/errors.ts';
import { ParamScope } from '../../checkpoint/param-scope.ts';
import type { ParamSource } from '../../checkpoint/param-source.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from '../common/conv2d.ts';
import { ModelBase } from '../common/model.ts';
import type { VaeConfig } from './config.ts';
import { VaeDecoder } from './decoder.ts';
import { VaeEncoder } from './encoder.ts';

/** diffusers `AutoencoderKL`: encoder + quant_conv -> (mean, logvar); post_quant_conv + decoder. NHWC. */
export class AutoencoderKL extends ModelBase {
  readonly encoder: VaeEncoder;
  readonly decoder: VaeDecoder;
  readonly quantConv: Conv2d | null;
  readonly postQuantConv: Conv2d | null;

  constructor(
    readonly config: VaeConfig,
    source: ParamSource,
  ) {
    const s = new ParamScope(source);
    const l = config.latent_channels;
    const encoder = new VaeEncoder(s.at('encoder'), config);
    const decoder = new VaeDecoder(s.at('decoder'), config);
    const quantConv = config.use_quant_conv ? new Conv2d(s.at('quant_conv'), 2 * l, 2 * l, 1) : null;
    const postQuantConv = config.use_post_quant_conv ? new Conv2d(s.at('post_quant_conv'), l, l, 1) : null;
    super(source.params());
    this.encoder = encoder;
    this.decoder = decoder;
    this.quantConv = quantConv;
    this.postQuantConv = postQuantConv;
  }

  /**
   * image `[B, H, W, in_channels]` in [-1, 1] -> latent distribution `[B, H/2^k, W/2^k, latent]` each;
   * `mean` is NOT multiplied by `scaling_factor`; `logvar` is clamped to [-30, 20] like diffusers.
   */
  encode<T>(ops: Ops<T>, image: T): { mean: T; logvar: T } {
    const shape = ops.shape(image);
    check(shape.length === 4 && shape[3] === this.config.in_channels, () => `image must be NHWC [B, H, W, ${this.config.in_channels}], got [${shape.join(', ')}]`, {
      key: 'AutoencoderKL.encode(image)',
    });
    let moments = this.encoder.forward(ops, image);
    if (this.quantConv) moments = this.quantConv.forward(ops, moments);
    const [mean, logvar] = ops.split(moments, 2, 3) as [T, T];
    return { mean, logvar: ops.clamp(logvar, -30, 20) };
  }

  /** z `[B, h, w, latent]`, already divided by `scaling_factor` -> image `[B, h·2^k, w·2^k, out_channels]`. */
  decode<T>(ops: Ops<T>, z: T): T {
    const shape = ops.shape(z);
    check(shape.length === 4 && shape[3] === this.config.latent_channels, () => `z must be NHWC [B, h, w, ${this.config.latent_channels}], got [${shape.join(', ')}]`, {
      key: 'AutoencoderKL.decode(z)',
    });
    const h = this.postQuantConv ? this.postQuantConv.forward(ops, z) : z;
    return this.decoder.forward(ops, h);
  }
}
