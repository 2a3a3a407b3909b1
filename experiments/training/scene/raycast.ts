/**
 * Renders a procedural scene with a pinhole camera by analytic ray casting: exact z-depth at each pixel
 * centre, and Lambertian RGB (directional and point lights with hard shadows, ambient term, supersampled
 * edges, exposure, gamma and sensor noise).
 */
import { check } from '../../../core/errors.ts';
import type { Rng } from '../../../core/tensor/rng.ts';
import {
  cross,
  dot,
  emptyHit,
  normalize3,
  scale3,
  add3,
  type HitRecord,
  type Primitive,
  type Vec3,
} from './primitives.ts';
import type { Texture } from './textures.ts';

/** A pinhole camera. Pixel (row i, column j) looks along right * (j - cx) / f + down * (i - cy) / f + forward. */
export interface PinholeCamera {
  readonly width: number;
  readonly height: number;
  /** Focal length in pixels. */
  readonly focalPx: number;
  readonly cx: number;
  readonly cy: number;
  readonly position: Vec3;
  /** Unit camera axes in the world frame (OpenCV convention: x right, y down, z forward). */
  readonly right: Vec3;
  readonly down: Vec3;
  readonly forward: Vec3;
}

/**
 * A camera at `position` looking along yaw (about world y, radians, 0 = +z) and pitch (positive looks up),
 * rolled by `roll` about its forward axis, with horizontal field of view `hfovRad`.
 */
export function makeCamera(
  width: number,
  height: number,
  hfovRad: number,
  position: Vec3,
  yaw: number,
  pitch: number,
  roll = 0,
): PinholeCamera {
  check(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0, () =>
    `camera size must be positive integers, got ${width}x${height}`,
  );
  check(hfovRad > 0 && hfovRad < Math.PI, () => `hfovRad must be in (0, pi), got ${hfovRad}`, { key: 'hfovRad' });
  const forward: Vec3 = [Math.sin(yaw) * Math.cos(pitch), Math.sin(pitch), Math.cos(yaw) * Math.cos(pitch)];
  const right0 = normalize3(cross([0, 1, 0], forward));
  const down0 = cross(right0, forward);
  const c = Math.cos(roll);
  const s = Math.sin(roll);
  const right = add3(scale3(right0, c), scale3(down0, s));
  const down = add3(scale3(right0, -s), scale3(down0, c));
  return {
    width,
    height,
    focalPx: width / 2 / Math.tan(hfovRad / 2),
    cx: (width - 1) / 2,
    cy: (height - 1) / 2,
    position,
    right,
    down,
    forward,
  };
}

/** The world-frame ray direction (z-component 1 in the camera frame) through image point (x, y). */
export function rayDirection(cam: PinholeCamera, x: number, y: number): Vec3 {
  const xn = (x - cam.cx) / cam.focalPx;
  const yn = (y - cam.cy) / cam.focalPx;
  return [
    cam.right[0] * xn + cam.down[0] * yn + cam.forward[0],
    cam.right[1] * xn + cam.down[1] * yn + cam.forward[1],
    cam.right[2] * xn + cam.down[2] * yn + cam.forward[2],
  ];
}

export type Light =
  | { readonly kind: 'directional'; /** Unit vector towards the light. */ readonly direction: Vec3; readonly color: Vec3 }
  | { readonly kind: 'point'; readonly position: Vec3; readonly color: Vec3; /** Distance where intensity halves. */ readonly falloffM: number };

export interface SceneObject {
  readonly primitive: Primitive;
  readonly texture: Texture;
  /** Enclosures (walls, floor, backdrop) do not cast shadows, so an outside light still reaches the scene. */
  readonly castsShadow: boolean;
}

export interface SceneDescription {
  readonly camera: PinholeCamera;
  readonly objects: readonly SceneObject[];
  readonly lights: readonly Light[];
  readonly ambient: Vec3;
}

export interface RenderOptions {
  /** Sub-pixel rays per side for RGB anti-aliasing (depth always uses the pixel centre). @default 2 */
  readonly supersample?: number;
  /** Display gamma; 1 keeps radiance linear. @default 2.2 */
  readonly gamma?: number;
  /** Std of additive Gaussian noise after tone mapping. @default 0 */
  readonly noiseSigma?: number;
  /** Luminance quantile mapped to `exposureTarget` (auto exposure). @default 0.95 */
  readonly exposureQuantile?: number;
  /** @default 0.85 */
  readonly exposureTarget?: number;
  /** Needed only when `noiseSigma` > 0. */
  readonly rng?: Rng;
}

/** One rendered frame: RGB [H, W, 3] in [0, 1] and z-depth [H, W] in metres (finite, positive). */
export interface RenderedFrame {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
  readonly depth: Float32Array;
}

function closestHit(objects: readonly SceneObject[], o: Vec3, d: Vec3, hit: HitRecord): boolean {
  let any = false;
  for (let k = 0; k < objects.length; k++) {
    if (objects[k].primitive.intersect(o, d, hit, k)) any = true;
  }
  return any;
}

function occluded(objects: readonly SceneObject[], o: Vec3, d: Vec3, tMax: number, self: number): boolean {
  const hit = emptyHit(tMax);
  for (let k = 0; k < objects.length; k++) {
    if (k === self || !objects[k].castsShadow) continue;
    if (objects[k].primitive.intersect(o, d, hit, k)) return true;
  }
  return false;
}

/** Linear radiance along one ray; returns the hit distance (Infinity when nothing is hit). */
function shadeRay(scene: SceneDescription, o: Vec3, d: Vec3, out: Vec3, albedo: Vec3): number {
  const hit = emptyHit();
  if (!closestHit(scene.objects, o, d, hit)) {
    out[0] = out[1] = out[2] = 0;
    return Infinity;
  }
  const obj = scene.objects[hit.id];
  obj.texture(hit.u, hit.v, albedo);
  const p: Vec3 = [o[0] + hit.t * d[0], o[1] + hit.t * d[1], o[2] + hit.t * d[2]];
  const n: Vec3 = [hit.nx, hit.ny, hit.nz];
  let r = scene.ambient[0];
  let g = scene.ambient[1];
  let b = scene.ambient[2];
  // Start shadow rays slightly off the surface to avoid self-intersection acne.
  const po: Vec3 = [p[0] + n[0] * 1e-4, p[1] + n[1] * 1e-4, p[2] + n[2] * 1e-4];
  for (const light of scene.lights) {
    let l: Vec3;
    let dist = Infinity;
    let atten = 1;
    if (light.kind === 'directional') {
      l = light.direction;
    } else {
      const v: Vec3 = [light.position[0] - p[0], light.position[1] - p[1], light.position[2] - p[2]];
      dist = Math.hypot(v[0], v[1], v[2]);
      l = [v[0] / dist, v[1] / dist, v[2] / dist];
      atten = 1 / (1 + (dist / light.falloffM) ** 2);
    }
    const cos = dot(n, l);
    if (cos <= 0) continue;
    if (occluded(scene.objects, po, l, dist, -1)) continue;
    const k = cos * atten;
    r += light.color[0] * k;
    g += light.color[1] * k;
    b += light.color[2] * k;
  }
  out[0] = albedo[0] * r;
  out[1] = albedo[1] * g;
  out[2] = albedo[2] * b;
  return hit.t;
}

/** Renders `scene`. Throws when a pixel-centre ray escapes (the scene generator must enclose the camera). */
export function renderScene(scene: SceneDescription, options: RenderOptions = {}): RenderedFrame {
  const cam = scene.camera;
  const { width, height } = cam;
  const ss = options.supersample ?? 2;
  const gamma = options.gamma ?? 2.2;
  const noiseSigma = options.noiseSigma ?? 0;
  check(Number.isInteger(ss) && ss >= 1, () => `supersample must be a positive integer, got ${ss}`, {
    key: 'supersample',
  });
  check(noiseSigma === 0 || options.rng, () => 'noiseSigma > 0 needs an rng', { key: 'rng' });
  const radiance = new Float32Array(width * height * 3);
  const depth = new Float32Array(width * height);
  const col: Vec3 = [0, 0, 0];
  const albedo: Vec3 = [0, 0, 0];
  const o = cam.position;
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      const pix = i * width + j;
      const centre = emptyHit();
      const dc = rayDirection(cam, j, i);
      if (!closestHit(scene.objects, o, dc, centre)) {
        throw new Error(`procedural scene: pixel (${i}, ${j}) sees no surface`);
      }
      depth[pix] = centre.t;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = ss === 1 ? j : j - 0.5 + (sx + 0.5) / ss;
          const y = ss === 1 ? i : i - 0.5 + (sy + 0.5) / ss;
          shadeRay(scene, o, rayDirection(cam, x, y), col, albedo);
          r += col[0];
          g += col[1];
          b += col[2];
        }
      }
      const inv = 1 / (ss * ss);
      radiance[pix * 3] = r * inv;
      radiance[pix * 3 + 1] = g * inv;
      radiance[pix * 3 + 2] = b * inv;
    }
  }
  const rgb = toneMap(radiance, width * height, {
    gamma,
    noiseSigma,
    quantile: options.exposureQuantile ?? 0.95,
    target: options.exposureTarget ?? 0.85,
    rng: options.rng,
  });
  return { width, height, rgb, depth };
}

/** Auto exposure (a luminance quantile to `target`), gamma, noise, clip to [0, 1]. */
function toneMap(
  radiance: Float32Array,
  n: number,
  o: { gamma: number; noiseSigma: number; quantile: number; target: number; rng?: Rng },
): Float32Array {
  const lum = new Float32Array(n);
  for (let p = 0; p < n; p++) lum[p] = 0.2126 * radiance[3 * p] + 0.7152 * radiance[3 * p + 1] + 0.0722 * radiance[3 * p + 2];
  const sorted = lum.slice().sort();
  const q = sorted[Math.min(n - 1, Math.floor(o.quantile * n))];
  const exposure = q > 1e-8 ? o.target ** o.gamma / q : 1;
  const out = new Float32Array(radiance.length);
  for (let k = 0; k < radiance.length; k++) {
    let v = Math.max(0, radiance[k] * exposure) ** (1 / o.gamma);
    if (o.noiseSigma > 0) v += o.noiseSigma * o.rng!.normal();
    out[k] = Math.min(1, Math.max(0, v));
  }
  return out;
}
