import { check } from '../core/errors.ts';
import {
  adamSettings,
  checkAdamState,
  type AdamGroupState,
  type AdamOptions,
  type AdamState,
  type ParamGroupSpec,
} from './adam.ts';

const f32 = Math.fround;

/**
 * {@link Adam}'s update on host Float32Arrays, in place, for optimizers with millions of values (network
 * training), where the tensor version pays a dozen kernel launches and buffers per parameter and step.
 * Every element goes through the tensor version's operations in the same order, each rounded to float32
 * (`+ - * / sqrt` of float32 values computed in double and rounded once are the float32 results), so the two
 * give bit-identical weights and moments, and their states ({@link AdamState}) are interchangeable.
 *
 * @example
 * const adam = new HostAdam([{ name: 'w', lr: 1e-3 }]);
 * adam.step({ w: weights }, { w: grads }); // updates `weights` in place
 */
export class HostAdam {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly groups: ParamGroupSpec[];
  private moments = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>();
  private t = 0;

  constructor(groups: readonly ParamGroupSpec[], options: AdamOptions = {}) {
    const settings = adamSettings(groups, options);
    this.beta1 = settings.beta1;
    this.beta2 = settings.beta2;
    this.epsilon = settings.epsilon;
    this.groups = settings.groups;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /**
   * One Adam step for every group: `params[name]` is updated in place from `grads[name]` (same length) times
   * `gradScale` (global-norm clipping; each product rounded to float32, as a scaled copy would hold it);
   * `shapes[name]` is recorded in the state (the tensor version's layout). `lrFactor` scales every group's rate.
   */
  step(
    params: Readonly<Record<string, Float32Array>>,
    grads: Readonly<Record<string, Float32Array>>,
    lrFactor = 1,
    shapes: Readonly<Record<string, readonly number[]>> = {},
    gradScale = 1,
  ): void {
    for (const group of this.groups) {
      const p = params[group.name];
      const g = grads[group.name];
      check(p && g, () => `missing parameter or gradient for group "${group.name}"`, { key: 'adam.step' });
      check(p.length === g.length, () => `gradient has ${g.length} values, parameter ${p.length}`, {
        key: `adam.step(${group.name})`,
      });
    }
    this.t += 1;
    const t = this.t;
    const c = {
      b1: f32(this.beta1),
      b2: f32(this.beta2),
      ob1: f32(1 - this.beta1),
      ob2: f32(1 - this.beta2),
      c1: f32(1 - this.beta1 ** t),
      c2: f32(1 - this.beta2 ** t),
      eps: f32(this.epsilon),
      lr: 0,
      scale: gradScale,
    };
    for (const group of this.groups) {
      const p = params[group.name]!;
      let mom = this.moments.get(group.name);
      if (!mom) {
        const shape = [...(shapes[group.name] ?? [p.length])];
        mom = { m: new Float32Array(p.length), v: new Float32Array(p.length), shape };
        this.moments.set(group.name, mom);
      }
      const size = mom.m.length;
      check(size === p.length, () => `parameter has ${p.length} values, its moments ${size}`, {
        key: `adam.step(${group.name})`,
      });
      c.lr = f32(group.lr * lrFactor);
      adamUpdate(p, grads[group.name]!, mom.m, mom.v, c);
    }
  }

  /** A snapshot of the whole state (copies), the same layout as {@link Adam.getState}. */
  getState(): AdamState {
    return {
      step: this.t,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      groups: this.groups.map((g): AdamGroupState => {
        const mom = this.moments.get(g.name);
        return {
          name: g.name,
          lr: g.lr,
          shape: mom ? mom.shape.slice() : [],
          m: mom ? mom.m.slice() : new Float32Array(0),
          v: mom ? mom.v.slice() : new Float32Array(0),
        };
      }),
    };
  }

  /** Restores a snapshot (of this class or of {@link Adam}); groups are matched by name. */
  setState(state: AdamState): void {
    checkAdamState(state, this.groups);
    this.moments.clear();
    this.t = state.step;
    for (const g of state.groups) {
      if (g.m.length === 0) continue;
      this.moments.set(g.name, { m: g.m.slice(), v: g.v.slice(), shape: g.shape.slice() });
    }
  }
}

/** The update of one group, in place (one monomorphic loop; every operation rounded as tfjs' float32 kernels round). */
function adamUpdate(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c: {
    b1: number;
    b2: number;
    ob1: number;
    ob2: number;
    c1: number;
    c2: number;
    eps: number;
    lr: number;
    scale: number;
  },
): void {
  const { b1, b2, ob1, ob2, c1, c2, eps, lr, scale } = c;
  const scaled = scale !== 1;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = scaled ? f32(g[i]! * scale) : g[i]!;
    const mi = f32(f32(m[i]! * b1) + f32(gi * ob1));
    const vi = f32(f32(v[i]! * b2) + f32(f32(gi * gi) * ob2));
    m[i] = mi;
    v[i] = vi;
    const denom = f32(f32(Math.sqrt(f32(vi / c2))) + eps);
    p[i] = p[i]! - f32(f32(f32(mi / c1) / denom) * lr);
  }
}
