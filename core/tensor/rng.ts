import { check } from '../errors.ts';

/** The serializable state of an {@link Rng}: four unsigned 32-bit words (xoshiro128**). */
export type RngState = readonly [number, number, number, number];

/** splitmix32: spreads a small integer seed over the four state words (never all zero). */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * A small seedable PRNG (xoshiro128**) whose whole state is four integers, so a run can save it in a
 * checkpoint and resume bit-identically. Not cryptographic. Same seed, same sequence, on every platform.
 *
 * @example
 * const rng = new Rng(42);
 * rng.normalArray(3); // Float32Array(3) of N(0, 1) samples
 * const saved = rng.state(); // later: Rng.fromState(saved)
 */
export class Rng {
  private s: [number, number, number, number];

  constructor(seed = 0) {
    check(Number.isFinite(seed), () => `seed must be a finite number, got ${seed}`, { key: 'seed' });
    const next = splitmix32(Math.floor(seed));
    this.s = [next(), next(), next(), next()];
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** An Rng that continues from `state` (as returned by {@link Rng.state}). */
  static fromState(state: RngState): Rng {
    check(
      Array.isArray(state) &&
        state.length === 4 &&
        state.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32),
      () => `rng state must be four unsigned 32-bit integers, got ${JSON.stringify(state)}`,
      { key: 'rng' },
    );
    const rng = new Rng(0);
    rng.s = [state[0], state[1], state[2], state[3]];
    return rng;
  }

  /** A copy of the state (four uint32 words). */
  state(): RngState {
    return [...this.s] as RngState;
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Standard normal sample (Box-Muller, no cached spare so the state stays four words). */
  normal(): number {
    const u1 = (this.nextUint32() + 1) / (2 ** 32 + 1); // (0, 1): log never sees 0
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** `n` standard normal samples. */
  normalArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** `n` uniform samples in [0, 1). */
  uniformArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    return out;
  }
}
