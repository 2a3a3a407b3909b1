import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from './conv2d.ts';

/**
 * diffusers `Downsample2D` with a conv: 3x3 stride 2. `padding` 1 (UNet) pads symmetrically; 0 (VAE
 * encoder) pads right and bottom by one first, here folded into one asymmetric-pad conv.
 */
export class Downsample2D {
  readonly conv: Conv2d;

  constructor(scope: ParamScope, channels: number, outChannels: number, padding: number) {
    this.conv = new Conv2d(scope.at('conv'), channels, outChannels, 3, {
      stride: 2,
      padding: padding === 0 ? [0, 1, 0, 1] : padding,
    });
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return this.conv.forward(ops, x);
  }
}
