import { readdirSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { readImage, toFloat } from '../io/image.ts';
import { rgbOf, type RasterImage } from '../io/raster.ts';
import {
  safeSceneId,
  type Dataset,
  type DepthMap,
  type Intrinsics,
  type RgbdScene,
  type SceneRef,
} from './dataset.ts';

/** How a 16-bit depth value is stored. */
export type DepthEncoding = 'plain' | 'sun-rotate';

/** One RGB-D frame given explicitly. Paths are relative to the dataset root. */
export interface RgbdFrame {
  id?: string;
  rgb: string;
  depth: string;
  depthScale?: number;
  depthEncoding?: DepthEncoding;
}

export interface RgbdFolderOptions {
  root: string;
  /** RGB file = `<id><rgbSuffix>.(png|jpg|jpeg|ppm)`. @default '_color' */
  rgbSuffix?: string;
  /** Depth file = `<id><depthSuffix>.(png|pgm)`, 16-bit. @default '_depth' */
  depthSuffix?: string;
  /** Stored units per metre (1000 = millimetres, 5000 = TUM). @default 1000 */
  depthScale?: number;
  /** @default 'plain' */
  depthEncoding?: DepthEncoding;
  /** Explicit frames instead of suffix matching. */
  frames?: RgbdFrame[];
  /** @default PrimeSense: fx = fy = 525, principal point at the image centre */
  intrinsics?: Intrinsics;
}

/** The PrimeSense/Kinect default Open3D uses for TUM, SUN and NYU frames (approximate for each). */
export const PRIMESENSE_FOCAL_PX = 525;

const RGB_EXTS = ['.png', '.jpg', '.jpeg', '.ppm'];
const DEPTH_EXTS = ['.png', '.pgm'];

/**
 * Decodes a 16-bit depth image to metres: `value / depthScale`, after SUN RGB-D's 3-bit rotation when
 * `encoding` is `sun-rotate` (`(v >> 3) | (v << 13)`, 16-bit). Zero means "no depth" and becomes NaN.
 */
export function decodeDepthImage(
  img: RasterImage,
  depthScale: number,
  encoding: DepthEncoding,
  file: string,
): DepthMap {
  check(
    img.channels === 1 && img.bitDepth === 16,
    () => `expected a 16-bit grey depth image, got ${img.bitDepth}-bit with ${img.channels} channels`,
    {
      file,
    },
  );
  const out = new Float32Array(img.width * img.height);
  for (let i = 0; i < out.length; i++) {
    let v = img.data[i]!;
    if (encoding === 'sun-rotate') v = ((v >> 3) | (v << 13)) & 0xffff;
    out[i] = v === 0 ? Number.NaN : v / depthScale;
  }
  return { width: img.width, height: img.height, data: out };
}

interface FrameSpec {
  rgb: string;
  depth: string;
  depthScale: number;
  depthEncoding: DepthEncoding;
}

/**
 * A folder of RGB + 16-bit depth images (TUM, SUN RGB-D, NYU style), matched by file-name suffix or listed
 * explicitly. Depth must be registered to the RGB image (same size, pixel for pixel).
 *
 * @example
 * const ds = new RgbdFolderDataset({ root: 'test/data/open3d-rgbd', depthSuffix: '_depth_mm' });
 * ds.scenes().map((s) => s.id); // ['NYU', 'SUN', 'TUM']
 */
export class RgbdFolderDataset implements Dataset {
  readonly name = 'rgbd-folder';
  private readonly root: string;
  private readonly frames = new Map<string, FrameSpec>();
  private readonly intrinsics?: Intrinsics;
  private readonly refs: SceneRef[];

  constructor(options: RgbdFolderOptions) {
    this.root = options.root;
    this.intrinsics = options.intrinsics;
    const scale = options.depthScale ?? 1000;
    const encoding = options.depthEncoding ?? 'plain';
    const list =
      options.frames ?? this.matchFrames(options.rgbSuffix ?? '_color', options.depthSuffix ?? '_depth');
    this.refs = list.map((f, index) => {
      const id = safeSceneId(
        f.id ?? stripSuffix(basename(f.rgb, extname(f.rgb)), options.rgbSuffix ?? '_color'),
      );
      check(!this.frames.has(id), () => `two frames have the id "${id}"; give them distinct ids`, {
        file: this.root,
        key: 'data.frames',
      });
      this.frames.set(id, {
        rgb: resolve(this.root, f.rgb),
        depth: resolve(this.root, f.depth),
        depthScale: f.depthScale ?? scale,
        depthEncoding: f.depthEncoding ?? encoding,
      });
      return { id, index, source: resolve(this.root, f.rgb) };
    });
  }

  private matchFrames(rgbSuffix: string, depthSuffix: string): RgbdFrame[] {
    let names: string[];
    try {
      names = readdirSync(this.root).sort();
    } catch (err) {
      throw new ApertureDepthError('cannot list the RGB-D folder (does it exist?)', {
        file: this.root,
        key: 'data.root',
        cause: err,
      });
    }
    const frames: RgbdFrame[] = [];
    for (const name of names) {
      const ext = extname(name).toLowerCase();
      const stem = basename(name, extname(name));
      if (!RGB_EXTS.includes(ext) || !stem.endsWith(rgbSuffix)) continue;
      const id = stem.slice(0, stem.length - rgbSuffix.length);
      const depth = names.find(
        (n) =>
          DEPTH_EXTS.includes(extname(n).toLowerCase()) && basename(n, extname(n)) === `${id}${depthSuffix}`,
      );
      if (depth) frames.push({ id, rgb: name, depth });
    }
    check(
      frames.length > 0,
      () => `no <id>${rgbSuffix}.(png|jpg|ppm) with a matching <id>${depthSuffix}.png found`,
      {
        file: this.root,
        key: 'data.root',
      },
    );
    return frames;
  }

  scenes(): SceneRef[] {
    return this.refs.map((r) => ({ ...r }));
  }

  async load(ref: SceneRef): Promise<RgbdScene> {
    const f = this.frames.get(ref.id);
    check(f, () => `no frame "${ref.id}" in this dataset`, { file: this.root });
    const rgb = rgbOf(toFloat(readImage(f.rgb)));
    const depth = decodeDepthImage(readImage(f.depth), f.depthScale, f.depthEncoding, f.depth);
    check(
      depth.width === rgb.width && depth.height === rgb.height,
      () =>
        `depth is ${depth.width}x${depth.height} but the RGB image is ${rgb.width}x${rgb.height} (depth must be registered to RGB)`,
      { file: f.depth },
    );
    const intrinsics = this.intrinsics ?? {
      fx: PRIMESENSE_FOCAL_PX,
      fy: PRIMESENSE_FOCAL_PX,
      cx: (rgb.width - 1) / 2,
      cy: (rgb.height - 1) / 2,
    };
    return { kind: 'rgbd', id: ref.id, rgb, depth, intrinsics, files: [f.rgb, f.depth] };
  }
}

function stripSuffix(stem: string, suffix: string): string {
  return suffix && stem.endsWith(suffix) && stem.length > suffix.length
    ? stem.slice(0, -suffix.length)
    : stem;
}
