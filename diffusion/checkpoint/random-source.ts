import { Param } from './param.ts';
import type { ParamRequest, ParamSource } from './param-source.ts';

/**
 * Seeded random weights with torch's default initialisation: conv/linear weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), norms scale 1 shift 0, embedding tables N(0, 0.02²).
 * For benchmarks of real configs and for training small models; deterministic for a seed.
 */
export class RandomSource implements ParamSource {
  private readonly taken: Param[] = [];
  private readonly next: () => number;

  constructor(
    seed: number,
    readonly label = 'random',
    private readonly trainable = false,
  ) {
    this.next = mulberry32(seed);
  }

  take(req: ParamRequest): Param {
    const n = req.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (req.role === 'gamma') data.fill(1);
    else if (req.role === 'embedding') {
      for (let i = 0; i < n; i += 2) {
        // Box-Muller: two normals per pair of uniforms.
        const u = Math.max(this.next(), 1e-12);
        const v = this.next();
        const r = 0.02 * Math.sqrt(-2 * Math.log(u));
        data[i] = r * Math.cos(2 * Math.PI * v);
        if (i + 1 < n) data[i + 1] = r * Math.sin(2 * Math.PI * v);
      }
    } else if (req.role === 'weight' || req.role === 'bias') {
      const bound = 1 / Math.sqrt(Math.max(1, req.fanIn ?? 1));
      for (let i = 0; i < n; i++) data[i] = (2 * this.next() - 1) * bound;
    }
    const p = new Param(req.name, req.shape, req.layout, data, this.trainable);
    this.taken.push(p);
    return p;
  }

  params(): Param[] {
    return [...this.taken];
  }
}

/** Small fast seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
