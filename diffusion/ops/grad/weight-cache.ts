import * as tf from '@tensorflow/tfjs';

/**
 * Network weights registered by the tfjs executor, and tensors derived from them once (a transposed
 * linear weight, a flipped conv kernel) for the backward pass. A frozen weight is closed over by the
 * custom-gradient ops instead of being an input, so no gradient is ever computed for it; its derived
 * tensors are kept (wasm also keeps the XNNPACK operator packed for them) until `releaseDerived`.
 */
const frozen = new WeakSet<tf.Tensor>();
const derived = new WeakMap<tf.Tensor, Map<string, tf.Tensor>>();
let cacheEnabled = true;

/** Registers a network weight; `trainable` ones are differentiated like any other input. */
export function registerWeight(t: tf.Tensor, trainable: boolean): void {
  if (!trainable) frozen.add(t);
}

/** Whether `t` is a frozen network weight (no gradient wanted). */
export function isFrozenWeight(t: tf.Tensor): boolean {
  return frozen.has(t);
}

/**
 * Turns caching of derived weights on or off (default on). Off halves weight memory for a model that
 * barely fits (the real Marigold UNet on wasm) at the cost of re-deriving on each backward pass.
 */
export function setDerivedWeightCache(enabled: boolean): void {
  cacheEnabled = enabled;
}

/**
 * `make(w)` cached under `key` when `w` is a frozen weight (kept until `releaseDerived(w)`), computed
 * afresh otherwise (then disposed by the surrounding tidy / gradient scope).
 */
export function derivedWeight<R extends tf.Tensor>(w: tf.Tensor, key: string, make: () => R): R {
  if (!cacheEnabled || !frozen.has(w)) return make();
  let m = derived.get(w);
  if (!m) {
    m = new Map();
    derived.set(w, m);
  }
  const hit = m.get(key);
  if (hit && !hit.isDisposed) return hit as R;
  const made = tf.keep(make());
  m.set(key, made);
  return made;
}

/** Disposes what was derived from `w` (called when the weight itself is disposed). */
export function releaseDerived(w: tf.Tensor): void {
  const m = derived.get(w);
  if (!m) return;
  for (const t of m.values()) t.dispose();
  derived.delete(w);
}
