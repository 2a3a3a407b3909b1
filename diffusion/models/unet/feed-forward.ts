import type { ParamScope } from '../../checkpoint/param-scope.ts';
import type { Ops } from '../../ops/ops.ts';
import { Linear } from '../common/linear.ts';

/**
 * diffusers `FeedForward` with GEGLU: `net.0.proj` to 2 x inner (inner = mult x dim), first half the
 * value, second half the gate through exact GELU; `net.2` back to dim.
 */
export class GegluFeedForward {
  readonly proj: Linear;
  readonly out: Linear;

  constructor(scope: ParamScope, dim: number, mult = 4) {
    const inner = dim * mult;
    this.proj = new Linear(scope.at('net.0.proj'), dim, 2 * inner);
    this.out = new Linear(scope.at('net.2'), inner, dim);
  }

  forward<T>(ops: Ops<T>, x: T): T {
    const h = this.proj.forward(ops, x); // [B, S, 2·inner]
    const [value, gate] = ops.split(h, 2, ops.shape(h).length - 1) as [T, T];
    return this.out.forward(ops, ops.mul(value, ops.gelu(gate)));
  }
}
