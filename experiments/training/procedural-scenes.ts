/**
 * Seeded procedural RGB-D scenes for training the embedded depth prior: rooms, yards (ground + backdrop),
 * slanted textured planes and table-top close-ups, made of planes, quads, boxes, spheres and cylinders with
 * procedural (optionally natural-image) textures and Lambertian lighting. Depth is the exact z-depth of the
 * pixel-centre ray in metres.
 *
 * Split (declared, never mixed): seeds in [0, TRAIN_SEED_END) are for training; seeds from
 * TEST_SEED_START on are held out: the evaluation's below VALIDATION_SEED_START, training's monitoring from
 * there on. Middlebury is evaluation only; the Open3D RGB-D frames are
 * training data only (texture patches, and with `--ft-real` crops for stage C).
 *
 * @example
 * const s = generateScene(7, { width: 64, height: 48 });
 * s.rgb; // Float32Array(64 * 48 * 3), [H, W, 3] in [0, 1]
 * s.depth; // Float32Array(64 * 48), metres
 */
import { check } from '../../core/errors.ts';
import { Rng } from '../../core/tensor/rng.ts';
import {
  BoxPrimitive,
  CylinderPrimitive,
  PlanePrimitive,
  SpherePrimitive,
  cross,
  normalize3,
  type Vec3,
} from './scene/primitives.ts';
import { makeCamera, renderScene, type Light, type PinholeCamera, type SceneObject } from './scene/raycast.ts';
import { logUniform, randomColor, randomTexture, type TextureImage } from './scene/textures.ts';

/** Bumped whenever a seed's scene changes (it keys the training caches). */
export const GENERATOR_VERSION = 2;

/** Training seeds are [0, TRAIN_SEED_END). */
export const TRAIN_SEED_END = 1_000_000;
/** Held-out evaluation seeds start here. */
export const TEST_SEED_START = 1_000_000;
/**
 * Held-out seeds that monitor training (train-prior's validation lines) start here, so what is watched while
 * training is never the evaluation's scenes (`TEST_SEED_START + k` for k below {@link EVAL_SEED_COUNT}).
 */
export const EVAL_SEED_COUNT = 500_000;
export const VALIDATION_SEED_START = TEST_SEED_START + EVAL_SEED_COUNT;
/**
 * Training seeds from here on (up to {@link TRAIN_SEED_END}) are `clutter` scenes; below it the kind is drawn as
 * before (no held-out seed is ever a clutter scene, so every evaluation set is unchanged by their addition).
 */
export const CLUTTER_SEED_START = 500_000;

export const SCENE_KINDS = Object.freeze(['room', 'yard', 'planes', 'tabletop', 'clutter'] as const);
export type SceneKind = (typeof SCENE_KINDS)[number];

export interface SceneOptions {
  readonly width: number;
  readonly height: number;
  /** Force one kind (default: drawn from the seed). */
  readonly kind?: SceneKind;
  /** Natural images for texture patches (declared training data); none by default. */
  readonly textureImages?: readonly TextureImage[];
  /** Sub-pixel rays per side for RGB. @default 2 */
  readonly supersample?: number;
}

export interface ProceduralScene {
  readonly seed: number;
  readonly kind: SceneKind;
  readonly width: number;
  readonly height: number;
  readonly focalPx: number;
  /** [H, W, 3] in [0, 1]. */
  readonly rgb: Float32Array;
  /** [H, W] z-depth in metres. */
  readonly depth: Float32Array;
}

/**
 * The training seeds of a set of `count` drawn-kind scenes and `clutter` clutter scenes: 0 .. count-1, then
 * CLUTTER_SEED_START .. CLUTTER_SEED_START + clutter - 1. `names` says what the errors call the two counts
 * (train-prior passes its flags, so its up-front checks are these).
 */
export function trainingSeeds(count: number, clutter = 0, names = { count: 'scene count', clutter: 'clutter scene count' }): number[] {
  check(Number.isInteger(count) && count >= 0 && count <= CLUTTER_SEED_START, () => `${names.count} must be an integer in [0, ${CLUTTER_SEED_START}], got ${count}`, { key: names.count });
  const maxClutter = TRAIN_SEED_END - CLUTTER_SEED_START;
  check(Number.isInteger(clutter) && clutter >= 0 && clutter <= maxClutter, () => `${names.clutter} must be an integer in [0, ${maxClutter}], got ${clutter}`, { key: names.clutter });
  return [...Array.from({ length: count }, (_, i) => i), ...Array.from({ length: clutter }, (_, i) => CLUTTER_SEED_START + i)];
}

/** Which split a seed belongs to. */
export function seedSplit(seed: number): 'train' | 'test' {
  check(Number.isInteger(seed) && seed >= 0, () => `scene seed must be a non-negative integer, got ${seed}`, {
    key: 'seed',
  });
  return seed < TRAIN_SEED_END ? 'train' : 'test';
}

const deg = (d: number): number => (d * Math.PI) / 180;
const uni = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.uniform();

/** Everything a scene-kind builder returns besides what the renderer needs. */
interface Layout {
  camera: PinholeCamera;
  objects: SceneObject[];
  lights: Light[];
  ambient: Vec3;
}

type Builder = (rng: Rng, w: number, h: number, images: readonly TextureImage[]) => Layout;

/** Generates scene `seed` deterministically (same seed and options, same arrays on every platform). */
export function generateScene(seed: number, options: SceneOptions): ProceduralScene {
  seedSplit(seed);
  const { width, height } = options;
  check(Number.isInteger(width) && width >= 8 && Number.isInteger(height) && height >= 8, () =>
    `scene size must be integers >= 8, got ${width}x${height}`,
  );
  const rng = new Rng(seed * 2 + 1);
  const kindDraw = rng.uniform();
  const drawn: SceneKind = kindDraw < 0.3 ? 'room' : kindDraw < 0.5 ? 'yard' : kindDraw < 0.62 ? 'planes' : 'tabletop';
  const kind: SceneKind = options.kind ?? (seed >= CLUTTER_SEED_START && seed < TRAIN_SEED_END ? 'clutter' : drawn);
  const builder: Record<SceneKind, Builder> = {
    room: buildRoom,
    yard: buildYard,
    planes: buildPlanes,
    tabletop: buildTabletop,
    clutter: buildClutter,
  };
  const layout = builder[kind](rng, width, height, options.textureImages ?? []);
  const gamma = rng.uniform() < 0.25 ? 1 : uni(rng, 1.8, 2.4);
  const noiseSigma = rng.uniform() < 0.5 ? 0 : uni(rng, 0.002, 0.02);
  const frame = renderScene(
    { camera: layout.camera, objects: layout.objects, lights: layout.lights, ambient: layout.ambient },
    {
      supersample: options.supersample ?? 2,
      gamma,
      noiseSigma,
      exposureQuantile: uni(rng, 0.9, 0.99),
      exposureTarget: uni(rng, 0.7, 0.95),
      rng,
    },
  );
  return { seed, kind, width, height, focalPx: layout.camera.focalPx, rgb: frame.rgb, depth: frame.depth };
}

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

function lighting(rng: Rng, indoor: boolean): { lights: Light[]; ambient: Vec3 } {
  const tint = (): Vec3 => {
    const warm = uni(rng, -0.15, 0.15);
    return [1 + warm, 1, 1 - warm];
  };
  const ambientLevel = logUniform(rng, 0.05, 0.6);
  const at = tint();
  const ambient: Vec3 = [at[0] * ambientLevel, at[1] * ambientLevel, at[2] * ambientLevel];
  const lights: Light[] = [];
  const elevation = deg(uni(rng, 15, 80));
  const azimuth = uni(rng, 0, 2 * Math.PI);
  const sunLevel = uni(rng, 0.6, 1.5);
  const st = tint();
  if (!indoor || rng.uniform() < 0.5) {
    lights.push({
      kind: 'directional',
      direction: [Math.cos(elevation) * Math.sin(azimuth), Math.sin(elevation), Math.cos(elevation) * Math.cos(azimuth)],
      color: [st[0] * sunLevel, st[1] * sunLevel, st[2] * sunLevel],
    });
  }
  return { lights, ambient };
}

/**
 * The lighting of a close-range scene before a wall `wallDist` away: indoor with probability `indoor`, plus a lamp
 * between the camera and the wall (always when there is no sun).
 */
function closeRangeLighting(rng: Rng, indoor: number, wallDist: number): { lights: Light[]; ambient: Vec3 } {
  const lit = lighting(rng, rng.uniform() < indoor);
  if (lit.lights.length === 0 || rng.uniform() < 0.5) {
    lit.lights.push({
      kind: 'point',
      position: [uni(rng, -1.5, 1.5), uni(rng, 1, 2.5), uni(rng, -0.5, wallDist - 0.3)],
      color: pointLightColor(rng, uni(rng, 0.8, 1.5)),
      falloffM: uni(rng, 1, 3),
    });
  }
  return lit;
}

/** A slightly tinted light colour of overall level `level`. */
function pointLightColor(rng: Rng, level: number): Vec3 {
  const c = randomColor(rng);
  const m = (c[0] + c[1] + c[2]) / 3;
  return [level * (1 + 0.3 * (c[0] - m)), level * (1 + 0.3 * (c[1] - m)), level * (1 + 0.3 * (c[2] - m))];
}

/** A point on the ground (y = 0) in front of the camera, at distance `dist` and bearing within the view. */
function groundPointInView(rng: Rng, cam: PinholeCamera, dist: number, spread = 1): Vec3 {
  const halfFov = Math.atan(cam.width / 2 / cam.focalPx);
  const yaw = Math.atan2(cam.forward[0], cam.forward[2]) + uni(rng, -halfFov, halfFov) * spread;
  return [cam.position[0] + dist * Math.sin(yaw), 0, cam.position[2] + dist * Math.cos(yaw)];
}

function yawAxes(yaw: number): [Vec3, Vec3, Vec3] {
  return [
    [Math.cos(yaw), 0, -Math.sin(yaw)],
    [0, 1, 0],
    [Math.sin(yaw), 0, Math.cos(yaw)],
  ];
}

/** Random rotation axes (for floating boxes). */
function randomAxes(rng: Rng): [Vec3, Vec3, Vec3] {
  const a = normalize3([rng.normal(), rng.normal(), rng.normal()]);
  let b = normalize3(cross(a, [rng.normal(), rng.normal(), rng.normal()]));
  if (!Number.isFinite(b[0]) || (b[0] === 0 && b[1] === 0 && b[2] === 0)) b = normalize3(cross(a, [0, 1, 0]));
  return [a, b, cross(a, b)];
}

/** One object standing on the ground at `p` (or floating above it), size in metres. */
function groundObject(rng: Rng, p: Vec3, size: number, images: readonly TextureImage[], floatM = 0): SceneObject {
  const texture = randomTexture(rng, logUniform(rng, size * 0.05, size * 0.8), images);
  const r = rng.uniform();
  if (r < 0.4) {
    const half: Vec3 = [size * uni(rng, 0.25, 0.6), size * uni(rng, 0.2, 0.7), size * uni(rng, 0.25, 0.6)];
    const floating = floatM > 0 && rng.uniform() < 0.5;
    const axes = floating ? randomAxes(rng) : yawAxes(uni(rng, 0, Math.PI));
    const cy = floating ? floatM + size : half[1];
    return { primitive: new BoxPrimitive([p[0], cy, p[2]], axes, half), texture, castsShadow: true };
  }
  if (r < 0.7) {
    const radius = size * uni(rng, 0.25, 0.5);
    const cy = floatM > 0 && rng.uniform() < 0.4 ? radius + floatM : radius;
    return { primitive: new SpherePrimitive([p[0], cy, p[2]], radius), texture, castsShadow: true };
  }
  const radius = size * uni(rng, 0.1, 0.4);
  if (rng.uniform() < 0.65) {
    return {
      primitive: new CylinderPrimitive([p[0], 0, p[2]], [0, 1, 0], radius, size * uni(rng, 0.4, 1.6)),
      texture,
      castsShadow: true,
    };
  }
  const a = uni(rng, 0, Math.PI);
  const len = size * uni(rng, 0.8, 2);
  return {
    primitive: new CylinderPrimitive(
      [p[0] - (Math.cos(a) * len) / 2, radius, p[2] - (Math.sin(a) * len) / 2],
      [Math.cos(a), 0, Math.sin(a)],
      radius,
      len,
    ),
    texture,
    castsShadow: true,
  };
}

function enclosure(primitive: PlanePrimitive, rng: Rng, scaleLo: number, scaleHi: number, images: readonly TextureImage[]): SceneObject {
  return { primitive, texture: randomTexture(rng, logUniform(rng, scaleLo, scaleHi), images), castsShadow: false };
}

// ---------------------------------------------------------------------------------------------------------
// Scene kinds

/** A closed box room (floor, ceiling, four walls) with furniture, rugs and pictures. */
function buildRoom(rng: Rng, w: number, h: number, images: readonly TextureImage[]): Layout {
  const roomW = uni(rng, 3, 8);
  const roomD = uni(rng, 3.5, 9);
  const roomH = uni(rng, 2.4, 3.6);
  const camPos: Vec3 = [uni(rng, -0.3, 0.3) * (roomW - 1.6), uni(rng, 0.9, 1.9), uni(rng, 0.1, 0.8)];
  const camera = makeCamera(w, h, deg(uni(rng, 45, 75)), camPos, deg(uni(rng, -35, 35)), deg(uni(rng, -30, 10)), deg(uni(rng, -6, 6)));
  const objects: SceneObject[] = [
    enclosure(new PlanePrimitive([0, 0, 0], [0, 1, 0], undefined, uni(rng, 0, 3)), rng, 0.1, 1, images),
    enclosure(new PlanePrimitive([0, roomH, 0], [0, -1, 0]), rng, 0.2, 2, images),
    enclosure(new PlanePrimitive([-roomW / 2, 0, 0], [1, 0, 0]), rng, 0.1, 2, images),
    enclosure(new PlanePrimitive([roomW / 2, 0, 0], [-1, 0, 0]), rng, 0.1, 2, images),
    enclosure(new PlanePrimitive([0, 0, roomD], [0, 0, -1]), rng, 0.1, 2, images),
    enclosure(new PlanePrimitive([0, 0, -0.5], [0, 0, 1]), rng, 0.1, 2, images),
  ];
  const nFurniture = Math.floor(uni(rng, 1, 9));
  for (let k = 0; k < nFurniture; k++) {
    const dist = uni(rng, 1.2, Math.max(1.5, roomD - camPos[2] - 0.5));
    const p = groundPointInView(rng, camera, dist, 1.2);
    p[0] = Math.max(-roomW / 2 + 0.4, Math.min(roomW / 2 - 0.4, p[0]));
    p[2] = Math.min(roomD - 0.4, p[2]);
    objects.push(groundObject(rng, p, Math.min(1.8, dist * uni(rng, 0.15, 0.5)), images, rng.uniform() < 0.2 ? uni(rng, 0.3, 1) : 0));
  }
  const nPictures = Math.floor(uni(rng, 0, 4));
  for (let k = 0; k < nPictures; k++) {
    const wall = Math.floor(rng.uniform() * 3);
    const half: [number, number] = [uni(rng, 0.2, 0.9), uni(rng, 0.2, 0.7)];
    const y = uni(rng, 1, roomH - 0.8);
    const texture = randomTexture(rng, logUniform(rng, 0.03, 0.5), images);
    const primitive =
      wall === 0
        ? new PlanePrimitive([uni(rng, -roomW / 3, roomW / 3), y, roomD - 0.01], [0, 0, -1], half)
        : new PlanePrimitive([(wall === 1 ? -1 : 1) * (roomW / 2 - 0.01), y, uni(rng, 1, roomD - 1)], [wall === 1 ? 1 : -1, 0, 0], half);
    objects.push({ primitive, texture, castsShadow: false });
  }
  if (rng.uniform() < 0.5) {
    const p = groundPointInView(rng, camera, uni(rng, 1.5, 4));
    objects.push({
      primitive: new PlanePrimitive([p[0], 0.005, p[2]], [0, 1, 0], [uni(rng, 0.5, 1.5), uni(rng, 0.4, 1.2)], uni(rng, 0, Math.PI)),
      texture: randomTexture(rng, logUniform(rng, 0.05, 0.5), images),
      castsShadow: false,
    });
  }
  const { lights, ambient } = lighting(rng, true);
  lights.push({
    kind: 'point',
    position: [uni(rng, -roomW / 3, roomW / 3), roomH - 0.3, uni(rng, 1, roomD - 1)],
    color: pointLightColor(rng, uni(rng, 0.8, 2)),
    falloffM: uni(rng, 2, 6),
  });
  return { camera, objects, lights, ambient };
}

/** A ground plane, a backdrop wall behind, objects scattered in between. */
function buildYard(rng: Rng, w: number, h: number, images: readonly TextureImage[]): Layout {
  const camPos: Vec3 = [0, uni(rng, 0.4, 2), 0];
  const camera = makeCamera(w, h, deg(uni(rng, 40, 75)), camPos, deg(uni(rng, -15, 15)), deg(uni(rng, -30, 5)), deg(uni(rng, -6, 6)));
  const backDist = uni(rng, 3, 9.5);
  const tiltYaw = deg(uni(rng, -12, 12));
  const objects: SceneObject[] = [
    enclosure(new PlanePrimitive([0, 0, 0], [0, 1, 0], undefined, uni(rng, 0, 3)), rng, 0.05, 1.5, images),
    enclosure(new PlanePrimitive([0, 0, backDist], [-Math.sin(tiltYaw), 0, -Math.cos(tiltYaw)]), rng, 0.1, 3, images),
  ];
  const n = Math.floor(uni(rng, 2, 12));
  for (let k = 0; k < n; k++) {
    const dist = uni(rng, 1, backDist - 0.3);
    objects.push(groundObject(rng, groundPointInView(rng, camera, dist), dist * logUniform(rng, 0.1, 0.5), images, uni(rng, 0, 1)));
  }
  const { lights, ambient } = lighting(rng, false);
  return { camera, objects, lights, ambient };
}

/** Textured quads at random slants and depths in front of a backdrop (a Middlebury-like clutter of planes). */
function buildPlanes(rng: Rng, w: number, h: number, images: readonly TextureImage[]): Layout {
  const camera = makeCamera(w, h, deg(uni(rng, 35, 70)), [0, 1.5, 0], deg(uni(rng, -10, 10)), deg(uni(rng, -10, 10)), deg(uni(rng, -5, 5)));
  const backDist = uni(rng, 2, 9.5);
  const tilt = normalize3([uni(rng, -0.3, 0.3), uni(rng, -0.3, 0.3), -1]);
  const objects: SceneObject[] = [
    enclosure(new PlanePrimitive([0, 1.5, backDist], tilt, undefined, uni(rng, 0, 3)), rng, 0.05, 2, images),
  ];
  if (rng.uniform() < 0.5) objects.push(enclosure(new PlanePrimitive([0, 0, 0], [0, 1, 0]), rng, 0.05, 1, images));
  const n = Math.floor(uni(rng, 1, 6));
  for (let k = 0; k < n; k++) {
    const dist = uni(rng, 0.8, backDist - 0.2);
    const dir = normalize3([uni(rng, -0.5, 0.5), uni(rng, -0.4, 0.4), 1]);
    const rot = camera.forward;
    // Place along a direction around the camera's view (yaw only is enough for small pitch).
    const yaw = Math.atan2(rot[0], rot[2]);
    const centre: Vec3 = [
      dist * (dir[0] * Math.cos(yaw) + dir[2] * Math.sin(yaw)),
      1.5 + dist * dir[1],
      dist * (-dir[0] * Math.sin(yaw) + dir[2] * Math.cos(yaw)),
    ];
    const normal = normalize3([uni(rng, -0.8, 0.8), uni(rng, -0.8, 0.8), -1]);
    const half: [number, number] = [logUniform(rng, 0.1, dist * 0.5), logUniform(rng, 0.1, dist * 0.5)];
    const texture = randomTexture(rng, logUniform(rng, 0.02, 0.5), images);
    objects.push({ primitive: new PlanePrimitive(centre, normal, half, uni(rng, 0, Math.PI)), texture, castsShadow: true });
  }
  if (rng.uniform() < 0.5) {
    objects.push(groundObject(rng, [uni(rng, -1, 1), 0, uni(rng, 1.5, backDist - 0.3)], uni(rng, 0.3, 1.2), images, 1.2));
  }
  const { lights, ambient } = lighting(rng, false);
  return { camera, objects, lights, ambient };
}

/** Close-up of small objects on a table in front of a wall, seen from above at 0.5-3 m. */
function buildTabletop(rng: Rng, w: number, h: number, images: readonly TextureImage[]): Layout {
  const camPos: Vec3 = [0, uni(rng, 0.3, 1.2), 0];
  const camera = makeCamera(w, h, deg(uni(rng, 35, 65)), camPos, deg(uni(rng, -15, 15)), deg(uni(rng, -45, -5)), deg(uni(rng, -5, 5)));
  const wallDist = uni(rng, 1.2, 4);
  const objects: SceneObject[] = [
    enclosure(new PlanePrimitive([0, 0, 0], [0, 1, 0], undefined, uni(rng, 0, 3)), rng, 0.02, 0.4, images),
    enclosure(new PlanePrimitive([0, 0, wallDist], normalize3([uni(rng, -0.15, 0.15), 0, -1])), rng, 0.03, 1, images),
  ];
  const n = Math.floor(uni(rng, 3, 11));
  for (let k = 0; k < n; k++) {
    const dist = uni(rng, 0.5, wallDist - 0.1);
    objects.push(groundObject(rng, groundPointInView(rng, camera, dist), dist * logUniform(rng, 0.12, 0.55), images, uni(rng, 0, 0.3)));
  }
  return { camera, objects, ...closeRangeLighting(rng, 0.5, wallDist) };
}

/**
 * Many small objects at many depths (a Middlebury-like indoor close range): a backdrop wall 1.5-5 m away, often a
 * floor, and 12-40 boxes, spheres, cylinders, thin rods at any angle and slanted boards, standing, stacked or
 * floating, so that the depth map is made of object silhouettes rather than of the room's layout.
 */
function buildClutter(rng: Rng, w: number, h: number, images: readonly TextureImage[]): Layout {
  const camPos: Vec3 = [0, uni(rng, 0.5, 1.6), 0];
  const camera = makeCamera(w, h, deg(uni(rng, 35, 65)), camPos, deg(uni(rng, -12, 12)), deg(uni(rng, -25, 5)), deg(uni(rng, -4, 4)));
  const wallDist = uni(rng, 1.5, 5);
  const objects: SceneObject[] = [
    enclosure(new PlanePrimitive([0, 0, wallDist], normalize3([uni(rng, -0.25, 0.25), 0, -1])), rng, 0.03, 1.5, images),
  ];
  if (rng.uniform() < 0.8) objects.push(enclosure(new PlanePrimitive([0, 0, 0], [0, 1, 0], undefined, uni(rng, 0, 3)), rng, 0.02, 0.6, images));
  const halfFov = Math.atan(w / 2 / camera.focalPx);
  const halfFovY = Math.atan(h / 2 / camera.focalPx);
  const yaw = Math.atan2(camera.forward[0], camera.forward[2]);
  const pitch = Math.asin(Math.max(-1, Math.min(1, camera.forward[1])));
  /** A point at distance `dist` along a ray drawn uniformly in the view (a little beyond its edges). */
  const inView = (dist: number): Vec3 => {
    const a = yaw + uni(rng, -1.1, 1.1) * halfFov;
    const b = pitch + uni(rng, -1.1, 1.1) * halfFovY;
    return [camPos[0] + dist * Math.cos(b) * Math.sin(a), camPos[1] + dist * Math.sin(b), camPos[2] + dist * Math.cos(b) * Math.cos(a)];
  };
  const n = Math.floor(uni(rng, 12, 41));
  for (let k = 0; k < n; k++) {
    const dist = uni(rng, 0.45, wallDist - 0.15);
    const size = dist * logUniform(rng, 0.04, 0.3);
    const texture = randomTexture(rng, logUniform(rng, size * 0.05, size * 0.8), images);
    const r = rng.uniform();
    if (r < 0.3) {
      // On the floor (or stacked: floating a little above it).
      const p = groundPointInView(rng, camera, dist, 1.2);
      objects.push(groundObject(rng, p, size, images, rng.uniform() < 0.3 ? uni(rng, 0.05, 0.6) : 0));
    } else if (r < 0.5) {
      const c = inView(dist);
      const half: Vec3 = [size * uni(rng, 0.2, 0.6), size * uni(rng, 0.2, 0.6), size * uni(rng, 0.2, 0.6)];
      objects.push({ primitive: new BoxPrimitive(c, randomAxes(rng), half), texture, castsShadow: true });
    } else if (r < 0.65) {
      objects.push({ primitive: new SpherePrimitive(inView(dist), size * uni(rng, 0.15, 0.5)), texture, castsShadow: true });
    } else if (r < 0.85) {
      // A thin rod (a leg, a spoke, a handle) at any angle.
      const c = inView(dist);
      const axis = normalize3([rng.normal(), rng.normal(), rng.normal()]);
      const len = size * uni(rng, 1, 4);
      const base: Vec3 = [c[0] - (axis[0] * len) / 2, c[1] - (axis[1] * len) / 2, c[2] - (axis[2] * len) / 2];
      objects.push({ primitive: new CylinderPrimitive(base, axis, size * uni(rng, 0.03, 0.12), len), texture, castsShadow: true });
    } else {
      // A slanted board.
      const normal = normalize3([uni(rng, -0.9, 0.9), uni(rng, -0.9, 0.9), -1]);
      const half: [number, number] = [size * uni(rng, 0.3, 1.2), size * uni(rng, 0.1, 0.8)];
      objects.push({ primitive: new PlanePrimitive(inView(dist), normal, half, uni(rng, 0, Math.PI)), texture, castsShadow: true });
    }
  }
  return { camera, objects, ...closeRangeLighting(rng, 0.7, wallDist) };
}
