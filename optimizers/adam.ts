import * as tf from '@tensorflow/tfjs';
import { check } from '../core/errors.ts';

/** One parameter group: its own learning rate (paper: 1.5e-3 for the latent, 5e-3 for scale/shift). */
export interface ParamGroupSpec {
  name: string;
  lr: number;
}

/** Options of {@link Adam} (defaults as in PyTorch / the paper). */
export interface AdamOptions {
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  epsilon?: number;
}

/** The moments of one group, as plain float32 arrays (exact round trip through a checkpoint). */
export interface AdamGroupState {
  name: string;
  lr: number;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

/** Everything Adam carries between steps. */
export interface AdamState {
  step: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  groups: AdamGroupState[];
}

interface Moments {
  m: tf.Tensor;
  v: tf.Tensor;
}

/** Validated options and groups (copies), shared by {@link Adam} and `HostAdam`. */
export function adamSettings(
  groups: readonly ParamGroupSpec[],
  options: AdamOptions,
): { beta1: number; beta2: number; epsilon: number; groups: ParamGroupSpec[] } {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  check(beta1 >= 0 && beta1 < 1, () => `beta1 must lie in [0, 1), got ${beta1}`, { key: 'adam.beta1' });
  check(beta2 >= 0 && beta2 < 1, () => `beta2 must lie in [0, 1), got ${beta2}`, { key: 'adam.beta2' });
  check(epsilon > 0, () => `epsilon must be > 0, got ${epsilon}`, { key: 'adam.epsilon' });
  const names = new Set<string>();
  for (const g of groups) {
    check(!names.has(g.name), () => `duplicate parameter group "${g.name}"`, { key: 'adam.groups' });
    check(g.lr >= 0 && Number.isFinite(g.lr), () => `lr must be a finite number >= 0, got ${g.lr}`, {
      key: `lr.${g.name}`,
    });
    names.add(g.name);
  }
  return { beta1, beta2, epsilon, groups: groups.map((g) => ({ ...g })) };
}

/** Checks a saved state against an optimizer's groups before it is restored (both Adams). */
export function checkAdamState(state: AdamState, groups: readonly ParamGroupSpec[]): void {
  check(Number.isInteger(state.step) && state.step >= 0, () => `bad step count ${state.step}`, {
    key: 'adam.step',
  });
  for (const g of state.groups) {
    check(
      groups.some((own) => own.name === g.name),
      () => `saved state has group "${g.name}", this optimizer has ${groups.map((x) => x.name).join(', ')}`,
      { key: 'adam.groups' },
    );
    check(
      g.m.length === g.v.length,
      () => `group "${g.name}" has ${g.m.length} first and ${g.v.length} second moments`,
      {
        key: 'adam.groups',
      },
    );
  }
}

/**
 * Adam with parameter groups, each with its own learning rate, written out so that its whole state
 * (moments and step count) can be saved and restored exactly: a resumed run continues bit-identically.
 * Update as in PyTorch: `p -= lr * m_hat / (sqrt(v_hat) + eps)`.
 *
 * @example
 * const adam = new Adam([{ name: 'latent', lr: 1.5e-3 }, { name: 'scale_shift', lr: 5e-3 }]);
 * const next = adam.step({ latent: z, scale_shift: p }, { latent: gz, scale_shift: gp }); // new tensors
 */
export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly groups: ParamGroupSpec[];
  private moments = new Map<string, Moments>();
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

  /** The groups (name, base learning rate). */
  get paramGroups(): readonly ParamGroupSpec[] {
    return this.groups;
  }

  /**
   * One Adam step for every group. `params` and `grads` are keyed by group name; returns new parameter
   * tensors (the caller disposes the old ones). `lrFactor` multiplies every group's learning rate (schedules).
   */
  step(
    params: Readonly<Record<string, tf.Tensor>>,
    grads: Readonly<Record<string, tf.Tensor>>,
    lrFactor = 1,
  ): Record<string, tf.Tensor> {
    this.t += 1;
    const t = this.t;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    const out: Record<string, tf.Tensor> = {};
    for (const group of this.groups) {
      const p = params[group.name];
      const g = grads[group.name];
      check(p && g, () => `missing parameter or gradient for group "${group.name}"`, { key: 'adam.step' });
      check(
        p.shape.join() === g.shape.join(),
        () => `gradient shape [${g.shape}] differs from parameter shape [${p.shape}]`,
        { key: `adam.step(${group.name})` },
      );
      const prev = this.moments.get(group.name) ?? {
        m: tf.keep(tf.zerosLike(p)),
        v: tf.keep(tf.zerosLike(p)),
      };
      const lr = group.lr * lrFactor;
      const [m, v, next] = tf.tidy(() => {
        const m = tf.add(tf.mul(prev.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(prev.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const denom = tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon);
        const next = tf.sub(p, tf.mul(tf.div(tf.div(m, c1), denom), lr));
        return [m, v, next];
      });
      prev.m.dispose();
      prev.v.dispose();
      this.moments.set(group.name, { m, v });
      out[group.name] = next;
    }
    return out;
  }

  /** A snapshot of the whole state (copies; safe to serialize). */
  getState(): AdamState {
    return {
      step: this.t,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      groups: this.groups.map((g) => {
        const mom = this.moments.get(g.name);
        return {
          name: g.name,
          lr: g.lr,
          shape: mom ? mom.m.shape.slice() : [],
          m: mom ? (mom.m.dataSync() as Float32Array).slice() : new Float32Array(0),
          v: mom ? (mom.v.dataSync() as Float32Array).slice() : new Float32Array(0),
        };
      }),
    };
  }

  /** Restores a snapshot from {@link Adam.getState}; groups are matched by name. */
  setState(state: AdamState): void {
    checkAdamState(state, this.groups);
    this.disposeMoments();
    this.t = state.step;
    for (const g of state.groups) {
      if (g.m.length === 0) continue;
      this.moments.set(g.name, {
        m: tf.keep(tf.tensor(g.m, g.shape, 'float32')),
        v: tf.keep(tf.tensor(g.v, g.shape, 'float32')),
      });
    }
  }

  private disposeMoments(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }

  /** Frees the moment tensors. */
  dispose(): void {
    this.disposeMoments();
  }
}
