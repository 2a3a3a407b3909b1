import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Conv2d } from './conv2d.ts';
import { GroupNorm } from './group-norm.ts';
import { Linear } from './linear.ts';

export interface ResnetBlockOptions {
  inCh: number;
  outCh: number;
  /** Time-embedding size (UNet); null for the VAE (no `time_emb_proj`). */
  tembCh: number | null;
  groups: number;
  eps: number;
  outputScaleFactor?: number;
}

/** diffusers `ResnetBlock2D` ("default" time scale-shift), NHWC. */
export class ResnetBlock2D {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly timeEmbProj: Linear | null;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly convShortcut: Conv2d | null;
  readonly outputScaleFactor: number;

  constructor(scope: ParamScope, o: ResnetBlockOptions) {
    this.norm1 = new GroupNorm(scope.at('norm1'), o.groups, o.inCh, o.eps);
    this.conv1 = new Conv2d(scope.at('conv1'), o.inCh, o.outCh, 3, { padding: 1 });
    this.timeEmbProj = o.tembCh === null ? null : new Linear(scope.at('time_emb_proj'), o.tembCh, o.outCh);
    this.norm2 = new GroupNorm(scope.at('norm2'), o.groups, o.outCh, o.eps);
    this.conv2 = new Conv2d(scope.at('conv2'), o.outCh, o.outCh, 3, { padding: 1 });
    this.convShortcut = o.inCh !== o.outCh ? new Conv2d(scope.at('conv_shortcut'), o.inCh, o.outCh, 1) : null;
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
  }

  /** x `[B, H, W, Cin]`, temb `[B, tembCh]` -> `[B, H, W, Cout]`. */
  forward<T>(ops: Ops<T>, x: T, temb: T | null): T {
    let h = this.conv1.forward(ops, ops.silu(this.norm1.forward(ops, x)));
    if (this.timeEmbProj && temb) {
      const t = this.timeEmbProj.forward(ops, ops.silu(temb)); // [B, Cout]
      const [b, c] = ops.shape(t) as [number, number];
      h = ops.add(h, ops.reshape(t, [b, 1, 1, c]));
    }
    h = this.conv2.forward(ops, ops.silu(this.norm2.forward(ops, h)));
    const skip = this.convShortcut ? this.convShortcut.forward(ops, x) : x;
    const out = ops.add(skip, h);
    return this.outputScaleFactor === 1 ? out : ops.scale(out, 1 / this.outputScaleFactor);
  }
}
