/**
 * Procedural surface textures for the training scenes: albedo as a function of surface coordinates in
 * metres. Each texture is built from an {@link Rng} draw, so a scene seed fixes every texture exactly.
 */
import type { Rng } from '../../../core/tensor/rng.ts';
import type { Vec3 } from './primitives.ts';

/** Writes the albedo (linear RGB in [0, 1]) at surface point (u, v) into `out`. */
export type Texture = (u: number, v: number, out: Vec3) => void;

/** An RGB image to cut natural texture patches from: [H, W, 3] linear values in [0, 1]. */
export interface TextureImage {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
}

export const TEXTURE_KINDS = Object.freeze([
  'solid',
  'checker',
  'stripes',
  'fbm',
  'patches',
  'bricks',
  'rings',
  'dots',
  'image',
] as const);
export type TextureKind = (typeof TEXTURE_KINDS)[number];

/** A 32-bit integer hash of two lattice coordinates and a seed, mapped to [0, 1). */
export function hash2(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix | 0, 0x27d4eb2d) ^ Math.imul(iy | 0, 0x165667b1) ^ Math.imul(seed | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

const smooth = (t: number): number => t * t * (3 - 2 * t);

/** Bilinearly interpolated lattice noise in [0, 1). */
export function valueNoise(x: number, y: number, seed: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = smooth(x - ix);
  const fy = smooth(y - iy);
  const a = hash2(ix, iy, seed);
  const b = hash2(ix + 1, iy, seed);
  const c = hash2(ix, iy + 1, seed);
  const d = hash2(ix + 1, iy + 1, seed);
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/** Fractal sum of `octaves` value-noise layers, normalized to [0, 1). */
export function fbm(x: number, y: number, seed: number, octaves: number, gain = 0.5): number {
  let sum = 0;
  let amp = 1;
  let norm = 0;
  let f = 1;
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise(x * f, y * f, seed + o * 1013);
    norm += amp;
    amp *= gain;
    f *= 2.03;
  }
  return sum / norm;
}

/** A random albedo colour: mostly muted, sometimes saturated, never pure black (shading needs signal). */
export function randomColor(rng: Rng): Vec3 {
  const saturated = rng.uniform() < 0.3;
  const base = 0.1 + 0.8 * rng.uniform();
  const spread = saturated ? 0.6 : 0.25;
  const c: Vec3 = [0, 0, 0];
  for (let k = 0; k < 3; k++) c[k] = Math.min(0.95, Math.max(0.03, base + spread * (rng.uniform() - 0.5)));
  return c;
}

const mix = (a: Vec3, b: Vec3, t: number, out: Vec3): void => {
  out[0] = a[0] + (b[0] - a[0]) * t;
  out[1] = a[1] + (b[1] - a[1]) * t;
  out[2] = a[2] + (b[2] - a[2]) * t;
};

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.uniform() * items.length)];
}

/** Log-uniform in [lo, hi]. */
export function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * rng.uniform());
}

/**
 * Draws a random texture. `scaleM` is the typical feature size in metres; `images` (optional) enables
 * natural-image patches.
 */
export function randomTexture(rng: Rng, scaleM: number, images: readonly TextureImage[] = []): Texture {
  const kinds = images.length > 0 ? TEXTURE_KINDS : TEXTURE_KINDS.filter((k) => k !== 'image');
  return makeTexture(pick(rng, kinds), rng, scaleM, images);
}

/** Builds a texture of a given kind (exported for tests and for scene code that wants a specific look). */
export function makeTexture(kind: TextureKind, rng: Rng, scaleM: number, images: readonly TextureImage[] = []): Texture {
  const c0 = randomColor(rng);
  const c1 = randomColor(rng);
  const c2 = randomColor(rng);
  const seed = Math.floor(rng.uniform() * 2 ** 30);
  const angle = rng.uniform() * Math.PI;
  const ca = Math.cos(angle);
  const sa = Math.sin(angle);
  const inv = 1 / scaleM;
  // Low-frequency grime on top of every pattern, so flat regions are never perfectly flat.
  const grime = 0.15 * rng.uniform();
  const grimeScale = inv * 0.3;
  const withGrime = (base: Texture): Texture =>
    grime === 0
      ? base
      : (u, v, out) => {
          base(u, v, out);
          const g = 1 - grime + 2 * grime * valueNoise(u * grimeScale, v * grimeScale, seed + 77);
          out[0] *= g;
          out[1] *= g;
          out[2] *= g;
        };
  switch (kind) {
    case 'solid':
      return withGrime((_u, _v, out) => {
        out[0] = c0[0];
        out[1] = c0[1];
        out[2] = c0[2];
      });
    case 'checker':
      return withGrime((u, v, out) => {
        const x = (u * ca - v * sa) * inv;
        const y = (u * sa + v * ca) * inv;
        const c = (Math.floor(x) + Math.floor(y)) & 1 ? c0 : c1;
        out[0] = c[0];
        out[1] = c[1];
        out[2] = c[2];
      });
    case 'stripes': {
      const duty = 0.2 + 0.6 * rng.uniform();
      const soft = rng.uniform() < 0.5;
      return withGrime((u, v, out) => {
        const x = (u * ca - v * sa) * inv;
        const f = x - Math.floor(x);
        const t = soft ? 0.5 + 0.5 * Math.sin(2 * Math.PI * x) : f < duty ? 0 : 1;
        mix(c0, c1, t, out);
      });
    }
    case 'fbm': {
      const octaves = 2 + Math.floor(rng.uniform() * 4);
      const contrast = 1 + 2 * rng.uniform();
      return (u, v, out) => {
        const n = fbm(u * inv, v * inv, seed, octaves);
        const t = Math.min(1, Math.max(0, 0.5 + (n - 0.5) * contrast));
        if (t < 0.5) mix(c0, c1, 2 * t, out);
        else mix(c1, c2, 2 * t - 1, out);
      };
    }
    case 'patches': {
      // Voronoi cells with random colours between the three base colours.
      return withGrime((u, v, out) => {
        const x = u * inv;
        const y = v * inv;
        const ix = Math.floor(x);
        const iy = Math.floor(y);
        let best = Infinity;
        let bx = 0;
        let by = 0;
        for (let j = -1; j <= 1; j++) {
          for (let i = -1; i <= 1; i++) {
            const px = ix + i + hash2(ix + i, iy + j, seed);
            const py = iy + j + hash2(ix + i, iy + j, seed + 1);
            const dd = (px - x) ** 2 + (py - y) ** 2;
            if (dd < best) {
              best = dd;
              bx = ix + i;
              by = iy + j;
            }
          }
        }
        const h = hash2(bx, by, seed + 2);
        if (h < 0.5) mix(c0, c1, 2 * h, out);
        else mix(c1, c2, 2 * h - 1, out);
      });
    }
    case 'bricks': {
      const aspect = 1.5 + 2 * rng.uniform();
      const mortar = 0.04 + 0.08 * rng.uniform();
      return withGrime((u, v, out) => {
        const y = v * inv;
        const row = Math.floor(y);
        const x = (u * inv) / aspect + (row & 1 ? 0.5 : 0);
        const fx = (x - Math.floor(x)) * aspect;
        const fy = y - row;
        if (fx < mortar || fy < mortar) {
          out[0] = c2[0];
          out[1] = c2[1];
          out[2] = c2[2];
          return;
        }
        const h = 0.7 + 0.3 * hash2(Math.floor(x), row, seed);
        out[0] = c0[0] * h;
        out[1] = c0[1] * h;
        out[2] = c0[2] * h;
      });
    }
    case 'rings': {
      const warp = 0.5 + rng.uniform();
      return (u, v, out) => {
        const x = u * inv;
        const y = v * inv * 0.2;
        const r = Math.hypot(x, y) + warp * fbm(x * 0.5, y * 0.5, seed, 3);
        const t = 0.5 + 0.5 * Math.sin(2 * Math.PI * r);
        mix(c0, c1, t * t, out);
      };
    }
    case 'dots': {
      const radius = 0.15 + 0.25 * rng.uniform();
      return withGrime((u, v, out) => {
        const x = u * inv;
        const y = v * inv;
        const fx = x - Math.floor(x) - 0.5;
        const fy = y - Math.floor(y) - 0.5;
        const c = fx * fx + fy * fy < radius * radius ? c1 : c0;
        out[0] = c[0];
        out[1] = c[1];
        out[2] = c[2];
      });
    }
    case 'image': {
      const img = pick(rng, images);
      // A random patch of the image, mirrored at its borders, mapped so that `scaleM` metres span
      // about 60 image pixels.
      const ox = rng.uniform() * img.width;
      const oy = rng.uniform() * img.height;
      const pxPerM = 60 / scaleM;
      const gain = 0.7 + 0.6 * rng.uniform();
      return (u, v, out) => {
        const x = mirror(ox + (u * ca - v * sa) * pxPerM, img.width);
        const y = mirror(oy + (u * sa + v * ca) * pxPerM, img.height);
        const i = (Math.floor(y) * img.width + Math.floor(x)) * 3;
        out[0] = Math.min(1, img.rgb[i] * gain);
        out[1] = Math.min(1, img.rgb[i + 1] * gain);
        out[2] = Math.min(1, img.rgb[i + 2] * gain);
      };
    }
  }
}

/** Reflects `x` into [0, n - 1] (mirror padding, no seam at the borders). */
function mirror(x: number, n: number): number {
  const period = 2 * (n - 1);
  let m = x % period;
  if (m < 0) m += period;
  return m < n - 1 ? m : period - m;
}
