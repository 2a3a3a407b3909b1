import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from './conv2d.ts';

/** diffusers `Upsample2D` with a conv: nearest to 2x (or to an explicit size), then 3x3 conv. */
export class Upsample2D {
  readonly conv: Conv2d;

  constructor(scope: ParamScope, channels: number, outChannels: number) {
    this.conv = new Conv2d(scope.at('conv'), channels, outChannels, 3, { padding: 1 });
  }

  /** x `[B, H, W, C]` -> `[B, size ?? 2H x 2W, C']`. */
  forward<T>(ops: Ops<T>, x: T, size?: readonly [number, number]): T {
    const [, h, w] = ops.shape(x) as [number, number, number];
    return this.conv.forward(ops, ops.upsampleNearest(x, size ?? [2 * h, 2 * w]));
  }
}
