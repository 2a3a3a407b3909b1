/**
 * Adam over a network's trainable `Param`s (bound by `tfjsOps` as tf.Variables), with global-norm gradient
 * clipping and a learning-rate factor per step. Its state (weights, moments, step) round-trips exactly
 * through {@link ParamTrainer.snapshot} / {@link ParamTrainer.restore}, so a resumed run is bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../../../core/errors.ts';
import type { Param } from '../../../diffusion/checkpoint/param.ts';
import { tfjsOps } from '../../../diffusion/ops/tfjs-ops.ts';
import type { AdamState } from '../../../optimizers/adam.ts';
import { HostAdam } from '../../../optimizers/host-adam.ts';

export interface ParamTrainerOptions {
  /** Base learning rate. */
  lr: number;
  /** Clip the global gradient norm to this value (0 = off). @default 1 */
  clipNorm?: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  epsilon?: number;
  /**
   * Keep an exponential moving average of the weights with this decay (warmed up as
   * `min(decay, (1 + t) / (10 + t))`); 0 = off. @default 0
   */
  emaDecay?: number;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Extra scalars the loss function reported (e.g. the KL term). */
  parts: Record<string, number>;
}

/** Everything needed to resume: weight values (project layout), the optimizer state, the weight EMA. */
export interface TrainerSnapshot {
  weights: Map<string, Float32Array>;
  adam: AdamState;
  /** The moving average of the weights, when the trainer keeps one. */
  ema?: Map<string, Float32Array>;
}

/**
 * A loss function for {@link ParamTrainer.step}: returns the scalar to minimize and, optionally, named scalar
 * parts (kept alive past the tidy; the trainer reads and disposes them).
 */
export type LossFn = () => { loss: tf.Scalar; parts?: Record<string, tf.Scalar> };

export class ParamTrainer {
  readonly params: Param[];
  private readonly vars: tf.Variable[];
  private readonly adam: HostAdam;
  private readonly clipNorm: number;
  private readonly emaDecay: number;
  /** Host copies of the weight EMA, one per parameter (empty when off). */
  private ema: Float32Array[] = [];

  constructor(
    params: readonly Param[],
    private readonly options: ParamTrainerOptions,
  ) {
    this.params = params.filter((p) => p.trainable);
    check(this.params.length > 0, () => 'no trainable parameters (create the model with trainable: true)', {
      key: 'ParamTrainer',
    });
    const names = new Set<string>();
    for (const p of this.params) {
      check(!names.has(p.name), () => `duplicate parameter name "${p.name}"`, { key: 'ParamTrainer' });
      names.add(p.name);
    }
    this.vars = this.params.map((p) => {
      const v = tfjsOps.param(p);
      check(v instanceof tf.Variable, () => `parameter "${p.name}" is not bound as a tf.Variable`, { key: p.name });
      return v;
    });
    this.clipNorm = options.clipNorm ?? 1;
    this.emaDecay = options.emaDecay ?? 0;
    check(this.emaDecay >= 0 && this.emaDecay < 1, () => `emaDecay must lie in [0, 1), got ${this.emaDecay}`, {
      key: 'emaDecay',
    });
    if (this.emaDecay > 0) this.ema = this.params.map((p, i) => (this.vars[i]!.dataSync() as Float32Array).slice());
    this.adam = new HostAdam(
      this.params.map((p) => ({ name: p.name, lr: options.lr })),
      { beta1: options.beta1, beta2: options.beta2, epsilon: options.epsilon },
    );
  }

  /** Optimizer steps taken. */
  get stepCount(): number {
    return this.adam.stepCount;
  }

  /** Total number of trainable values (the length of a flat gradient). */
  get size(): number {
    return this.params.reduce((n, p) => n + p.size, 0);
  }

  /**
   * Loss and gradient of `lossFn` without updating anything; the gradient comes back flat (parameters in
   * order), ready to be averaged across data-parallel replicas.
   */
  computeGrads(lossFn: LossFn): { loss: number; parts: Record<string, number>; grads: Float32Array } {
    let parts: Record<string, tf.Scalar> = {};
    const { value, grads } = tf.variableGrads(() => {
      const out = lossFn();
      parts = Object.fromEntries(Object.entries(out.parts ?? {}).map(([k, v]) => [k, tf.keep(v)]));
      return out.loss;
    }, this.vars);
    const loss = value.dataSync()[0]!;
    value.dispose();
    const partValues = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]!]));
    for (const v of Object.values(parts)) v.dispose();
    const flat = new Float32Array(this.size);
    let offset = 0;
    for (const v of this.vars) {
      const g = grads[v.name];
      check(g, () => `no gradient for "${v.name}"`, { key: 'ParamTrainer.computeGrads' });
      flat.set(g.dataSync() as Float32Array, offset);
      offset += g.size;
      g.dispose();
    }
    return { loss, parts: partValues, grads: flat };
  }

  /**
   * One Adam step from a flat gradient (as from {@link computeGrads}), clipped to `clipNorm` in global norm;
   * returns the norm before clipping.
   */
  applyGrads(flat: Float32Array, lrFactor = 1): number {
    check(flat.length === this.size, () => `gradient has ${flat.length} values, the model ${this.size}`, {
      key: 'ParamTrainer.applyGrads',
    });
    let sq = 0;
    for (let i = 0; i < flat.length; i++) sq += flat[i]! * flat[i]!;
    const gradNorm = Math.sqrt(sq);
    check(Number.isFinite(gradNorm), () => `non-finite gradient norm ${gradNorm}`, { key: 'ParamTrainer.applyGrads' });
    const scale = this.clipNorm > 0 && gradNorm > this.clipNorm ? this.clipNorm / gradNorm : 1;
    const pMap: Record<string, Float32Array> = {};
    const gMap: Record<string, Float32Array> = {};
    const shapes: Record<string, readonly number[]> = {};
    let offset = 0;
    this.params.forEach((p, i) => {
      pMap[p.name] = (this.vars[i]!.dataSync() as Float32Array).slice();
      const g = flat.subarray(offset, offset + p.size);
      offset += p.size;
      gMap[p.name] = g;
      shapes[p.name] = p.shape;
    });
    this.adam.step(pMap, gMap, lrFactor, shapes, scale);
    const d = Math.min(this.emaDecay, (1 + this.adam.stepCount) / (10 + this.adam.stepCount));
    this.params.forEach((p, i) => {
      const w = pMap[p.name]!;
      const next = tf.tensor(w, [...p.shape], 'float32');
      this.vars[i]!.assign(next);
      next.dispose();
      if (this.emaDecay > 0) {
        const e = this.ema[i]!;
        for (let k = 0; k < e.length; k++) e[k] = d * e[k]! + (1 - d) * w[k]!;
      }
    });
    return gradNorm;
  }

  /** One gradient step on `lossFn` with the learning rate scaled by `lrFactor`. */
  step(lossFn: LossFn, lrFactor = 1): StepResult {
    const { loss, parts, grads } = this.computeGrads(lossFn);
    check(Number.isFinite(loss), () => `non-finite loss ${loss}`, { key: 'ParamTrainer.step' });
    const gradNorm = this.applyGrads(grads, lrFactor);
    return { loss, gradNorm, parts };
  }

  /** Current weight values by parameter name (project layout copies). */
  weights(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    this.params.forEach((p, i) => out.set(p.name, (this.vars[i]!.dataSync() as Float32Array).slice()));
    return out;
  }

  /** The weight EMA by parameter name (copies), or undefined when off. */
  emaWeights(): Map<string, Float32Array> | undefined {
    if (this.emaDecay === 0) return undefined;
    return new Map(this.params.map((p, i) => [p.name, this.ema[i]!.slice()]));
  }

  snapshot(): TrainerSnapshot {
    const ema = this.emaWeights();
    return { weights: this.weights(), adam: this.adam.getState(), ...(ema ? { ema } : {}) };
  }

  /** Restores weights and optimizer state from a snapshot (names must match exactly). */
  restore(s: TrainerSnapshot): void {
    this.params.forEach((p, i) => {
      const w = s.weights.get(p.name);
      check(w && w.length === p.size, () => `snapshot lacks weight "${p.name}" or has the wrong size`, { key: p.name });
      this.vars[i]!.assign(tf.tensor(w, [...p.shape], 'float32'));
    });
    this.adam.setState(s.adam);
    if (this.emaDecay > 0) {
      this.ema = this.params.map((p) => {
        const e = s.ema?.get(p.name);
        check(e && e.length === p.size, () => `snapshot lacks the EMA of "${p.name}"`, { key: p.name });
        return e.slice();
      });
    }
  }

  /** Nothing to free since the optimizer state lives on the host (kept for the replicas' dispose chain). */
  dispose(): void {}
}
