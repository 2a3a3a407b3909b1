import type { Ops } from '../ops/ops.ts';
import type { Param } from './param.ts';
import type { ParamRequest, ParamSource } from './param-source.ts';

/**
 * Binds each weight to an executor the moment it is taken (and drops the host copy unless asked to keep
 * it), so building a multi-GB model never holds all weights twice: peak extra memory is one tensor.
 */
export class BindingSource implements ParamSource {
  constructor(
    private readonly inner: ParamSource,
    private readonly ops: Ops<unknown>,
    private readonly keepHostData = false,
  ) {}

  get label(): string {
    return this.inner.label;
  }

  take(request: ParamRequest): Param {
    const p = this.inner.take(request);
    this.ops.param(p);
    if (!this.keepHostData) p.releaseHostData();
    return p;
  }

  params(): Param[] {
    return this.inner.params();
  }
}
