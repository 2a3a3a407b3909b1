/**
 * Analytic ray-primitive intersections for the procedural training scenes. Plain numbers, no tensors: a
 * 128x96 scene with twenty primitives casts in a few milliseconds.
 *
 * Coordinates: world frame, y up, metres. A ray is `o + t * d` with `d` NOT normalized (the renderer passes
 * the camera-frame direction with z = 1 rotated into the world, so `t` is the z-depth of the hit).
 */

/** Three numbers; used for points, directions and colours. */
export type Vec3 = [number, number, number];

/** The nearest hit found so far; primitives overwrite it only when they find a nearer one. */
export interface HitRecord {
  t: number;
  /** Unit surface normal, facing against the ray. */
  nx: number;
  ny: number;
  nz: number;
  /** Texture coordinates in metres on the surface (so texture scale is physical and shrinks with depth). */
  u: number;
  v: number;
  /** Index of the primitive hit, -1 when none. */
  id: number;
}

export function emptyHit(tMax = Infinity): HitRecord {
  return { t: tMax, nx: 0, ny: 0, nz: 0, u: 0, v: 0, id: -1 };
}

/** Something a ray can hit. `intersect` returns true and updates `hit` only for 1e-6 < t < hit.t. */
export interface Primitive {
  readonly kind: 'plane' | 'quad' | 'box' | 'sphere' | 'cylinder';
  intersect(o: Vec3, d: Vec3, hit: HitRecord, id: number): boolean;
}

export const T_EPS = 1e-6;

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export const scale3 = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const add3 = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub3 = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export function normalize3(a: Vec3): Vec3 {
  const n = Math.hypot(a[0], a[1], a[2]);
  return n > 0 ? [a[0] / n, a[1] / n, a[2] / n] : [0, 0, 0];
}

/** Two unit vectors orthogonal to unit `n` and to each other (a tangent frame for texture coordinates). */
export function tangentFrame(n: Vec3): [Vec3, Vec3] {
  const helper: Vec3 = Math.abs(n[1]) < 0.9 ? [0, 1, 0] : [1, 0, 0];
  const e1 = normalize3(cross(helper, n));
  const e2 = cross(n, e1);
  return [e1, e2];
}

function setNormalFacing(hit: HitRecord, n: Vec3, d: Vec3): void {
  const s = dot(n, d) > 0 ? -1 : 1;
  hit.nx = n[0] * s;
  hit.ny = n[1] * s;
  hit.nz = n[2] * s;
}

/** An infinite plane through `point` with unit `normal`; when `halfExtents` is set, a rectangle (quad). */
export class PlanePrimitive implements Primitive {
  readonly kind: 'plane' | 'quad';
  readonly normal: Vec3;
  readonly e1: Vec3;
  readonly e2: Vec3;
  private readonly offset: number;

  constructor(
    readonly point: Vec3,
    normal: Vec3,
    readonly halfExtents?: [number, number],
    /** In-plane rotation of the texture frame, radians. */
    textureAngle = 0,
  ) {
    this.kind = halfExtents ? 'quad' : 'plane';
    this.normal = normalize3(normal);
    const [a, b] = tangentFrame(this.normal);
    const c = Math.cos(textureAngle);
    const s = Math.sin(textureAngle);
    this.e1 = add3(scale3(a, c), scale3(b, s));
    this.e2 = add3(scale3(a, -s), scale3(b, c));
    this.offset = dot(this.normal, point);
  }

  intersect(o: Vec3, d: Vec3, hit: HitRecord, id: number): boolean {
    const n = this.normal;
    const denom = n[0] * d[0] + n[1] * d[1] + n[2] * d[2];
    if (Math.abs(denom) < 1e-12) return false;
    const t = (this.offset - (n[0] * o[0] + n[1] * o[1] + n[2] * o[2])) / denom;
    if (!(t > T_EPS && t < hit.t)) return false;
    const px = o[0] + t * d[0] - this.point[0];
    const py = o[1] + t * d[1] - this.point[1];
    const pz = o[2] + t * d[2] - this.point[2];
    const u = px * this.e1[0] + py * this.e1[1] + pz * this.e1[2];
    const v = px * this.e2[0] + py * this.e2[1] + pz * this.e2[2];
    if (this.halfExtents && (Math.abs(u) > this.halfExtents[0] || Math.abs(v) > this.halfExtents[1])) return false;
    hit.t = t;
    hit.u = u;
    hit.v = v;
    hit.id = id;
    setNormalFacing(hit, n, d);
    return true;
  }
}

/** A sphere; texture coordinates are longitude/latitude arc lengths in metres. */
export class SpherePrimitive implements Primitive {
  readonly kind = 'sphere' as const;
  constructor(
    readonly center: Vec3,
    readonly radius: number,
  ) {}

  intersect(o: Vec3, d: Vec3, hit: HitRecord, id: number): boolean {
    const ox = o[0] - this.center[0];
    const oy = o[1] - this.center[1];
    const oz = o[2] - this.center[2];
    const a = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    const b = ox * d[0] + oy * d[1] + oz * d[2];
    const c = ox * ox + oy * oy + oz * oz - this.radius * this.radius;
    const disc = b * b - a * c;
    if (disc < 0) return false;
    const sq = Math.sqrt(disc);
    let t = (-b - sq) / a;
    if (!(t > T_EPS)) t = (-b + sq) / a;
    if (!(t > T_EPS && t < hit.t)) return false;
    const px = (ox + t * d[0]) / this.radius;
    const py = (oy + t * d[1]) / this.radius;
    const pz = (oz + t * d[2]) / this.radius;
    hit.t = t;
    hit.u = Math.atan2(pz, px) * this.radius;
    hit.v = Math.asin(Math.max(-1, Math.min(1, py))) * this.radius;
    hit.id = id;
    setNormalFacing(hit, [px, py, pz], d);
    return true;
  }
}

/** A rotated box: `axes` are its three unit axes (rows), `half` its half sizes along them. */
export class BoxPrimitive implements Primitive {
  readonly kind = 'box' as const;
  constructor(
    readonly center: Vec3,
    readonly axes: [Vec3, Vec3, Vec3],
    readonly half: Vec3,
  ) {}

  intersect(o: Vec3, d: Vec3, hit: HitRecord, id: number): boolean {
    const rel = sub3(o, this.center);
    let tNear = -Infinity;
    let tFar = Infinity;
    let nearAxis = -1;
    let farAxis = -1;
    for (let k = 0; k < 3; k++) {
      const ax = this.axes[k];
      const ol = dot(rel, ax);
      const dl = dot(d, ax);
      const h = this.half[k];
      if (Math.abs(dl) < 1e-12) {
        if (ol < -h || ol > h) return false;
        continue;
      }
      let t0 = (-h - ol) / dl;
      let t1 = (h - ol) / dl;
      if (t0 > t1) [t0, t1] = [t1, t0];
      if (t0 > tNear) {
        tNear = t0;
        nearAxis = k;
      }
      if (t1 < tFar) {
        tFar = t1;
        farAxis = k;
      }
      if (tNear > tFar) return false;
    }
    let t = tNear;
    let axis = nearAxis;
    if (!(t > T_EPS)) {
      t = tFar;
      axis = farAxis;
    }
    if (!(t > T_EPS && t < hit.t) || axis < 0) return false;
    const p = add3(rel, scale3(d, t));
    const i1 = (axis + 1) % 3;
    const i2 = (axis + 2) % 3;
    hit.t = t;
    // Offsetting by the axis keeps opposite faces from sharing one texture pattern.
    hit.u = dot(p, this.axes[i1]) + 3.1 * axis;
    hit.v = dot(p, this.axes[i2]) + 1.7 * axis;
    hit.id = id;
    setNormalFacing(hit, this.axes[axis], d);
    return true;
  }
}

/** A capped cylinder from `base` along unit `axis` for `height`, radius `radius`. */
export class CylinderPrimitive implements Primitive {
  readonly kind = 'cylinder' as const;
  readonly axis: Vec3;
  private readonly e1: Vec3;
  private readonly e2: Vec3;

  constructor(
    readonly base: Vec3,
    axis: Vec3,
    readonly radius: number,
    readonly height: number,
  ) {
    this.axis = normalize3(axis);
    [this.e1, this.e2] = tangentFrame(this.axis);
  }

  intersect(o: Vec3, d: Vec3, hit: HitRecord, id: number): boolean {
    const rel = sub3(o, this.base);
    // Local coordinates: x, y across the axis, z along it.
    const ox = dot(rel, this.e1);
    const oy = dot(rel, this.e2);
    const oz = dot(rel, this.axis);
    const dx = dot(d, this.e1);
    const dy = dot(d, this.e2);
    const dz = dot(d, this.axis);
    const r = this.radius;
    let found = false;
    let bestT = hit.t;
    let nLocal: Vec3 = [0, 0, 0];
    let u = 0;
    let v = 0;
    const a = dx * dx + dy * dy;
    if (a > 1e-14) {
      const b = ox * dx + oy * dy;
      const c = ox * ox + oy * oy - r * r;
      const disc = b * b - a * c;
      if (disc >= 0) {
        const sq = Math.sqrt(disc);
        for (const t of [(-b - sq) / a, (-b + sq) / a]) {
          if (!(t > T_EPS && t < bestT)) continue;
          const z = oz + t * dz;
          if (z < 0 || z > this.height) continue;
          const px = ox + t * dx;
          const py = oy + t * dy;
          bestT = t;
          found = true;
          nLocal = [px / r, py / r, 0];
          u = Math.atan2(py, px) * r;
          v = z;
          break;
        }
      }
    }
    if (Math.abs(dz) > 1e-14) {
      for (const zc of [0, this.height]) {
        const t = (zc - oz) / dz;
        if (!(t > T_EPS && t < bestT)) continue;
        const px = ox + t * dx;
        const py = oy + t * dy;
        if (px * px + py * py > r * r) continue;
        bestT = t;
        found = true;
        nLocal = [0, 0, zc === 0 ? -1 : 1];
        u = px + 5.3;
        v = py;
      }
    }
    if (!found) return false;
    const n = add3(add3(scale3(this.e1, nLocal[0]), scale3(this.e2, nLocal[1])), scale3(this.axis, nLocal[2]));
    hit.t = bestT;
    hit.u = u;
    hit.v = v;
    hit.id = id;
    setNormalFacing(hit, n, d);
    return true;
  }
}
