import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApertureDepthError, check } from '../errors.ts';
import { readImage, toFloat } from '../io/image.ts';
import { readPfm } from '../io/pfm.ts';
import {
  safeSceneId,
  type Dataset,
  type DepthMap,
  type Intrinsics,
  type RgbdScene,
  type SceneRef,
} from './dataset.ts';
import { rgbOf } from '../io/raster.ts';

/** The parts of a Middlebury `calib.txt` that metric depth needs. */
export interface MiddleburyCalib {
  /** cam0 intrinsics, pixels. */
  cam0: Intrinsics;
  /** x-difference of the principal points (cam1.cx - cam0.cx), pixels. */
  doffs: number;
  /** Camera baseline, millimetres. */
  baselineMm: number;
  width: number;
  height: number;
}

/**
 * Parses a Middlebury 2014 `calib.txt` (`key=value` pairs, matrices as `[a b c; d e f; g h i]`, spacing and
 * line breaks as they come).
 */
export function parseMiddleburyCalib(text: string, file: string): MiddleburyCalib {
  const values = new Map<string, string>();
  for (const m of text.matchAll(/([A-Za-z0-9_]+)\s*=\s*(\[[^\]]*\]|[^\s]+)/g)) values.set(m[1]!, m[2]!);
  const num = (key: string): number => {
    const raw = values.get(key);
    const v = raw === undefined ? Number.NaN : Number(raw);
    check(
      Number.isFinite(v),
      () => `expected a number, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`,
      {
        file,
        key,
      },
    );
    return v;
  };
  const cam = values.get('cam0');
  const k = cam
    ?.replace(/[[\]]/g, '')
    .split(/[;\s]+/)
    .filter(Boolean)
    .map(Number);
  check(
    k && k.length === 9 && k.every(Number.isFinite),
    () => `expected a 3x3 matrix [f 0 cx; 0 f cy; 0 0 1], got ${cam ?? 'nothing'}`,
    {
      file,
      key: 'cam0',
    },
  );
  const calib: MiddleburyCalib = {
    cam0: { fx: k[0]!, fy: k[4]!, cx: k[2]!, cy: k[5]! },
    doffs: num('doffs'),
    baselineMm: num('baseline'),
    width: num('width'),
    height: num('height'),
  };
  check(calib.cam0.fx > 0 && calib.baselineMm > 0, () => 'focal length and baseline must be positive', {
    file,
    key: 'cam0',
  });
  return calib;
}

/**
 * Metric depth from disparity: `Z = baseline * f / (d + doffs)`, in metres. Unknown disparity (`inf`, as
 * Middlebury stores it), zero, negative or NaN gives NaN.
 */
export function disparityToDepthM(
  disp: Float32Array,
  width: number,
  height: number,
  calib: MiddleburyCalib,
): DepthMap {
  const out = new Float32Array(width * height);
  const bf = (calib.baselineMm * calib.cam0.fx) / 1000;
  for (let i = 0; i < out.length; i++) {
    const d = disp[i]!;
    out[i] = Number.isFinite(d) && d > 0 && d + calib.doffs > 0 ? bf / (d + calib.doffs) : Number.NaN;
  }
  return { width, height, data: out };
}

export interface Middlebury2014Options {
  root: string;
  /** `nocc`: keep ground truth only where mask0nocc.png is 255 (visible in both views). @default 'all' */
  mask?: 'all' | 'nocc';
}

/**
 * Middlebury 2014 scenes: one folder per scene with `im0.png`, `disp0GT.pfm` and `calib.txt` (the left view
 * and its ground-truth disparity), in name order.
 *
 * @example
 * const ds = new Middlebury2014Dataset({ root: 'test/data/middlebury2014-q' });
 * ds.scenes().map((s) => s.id); // ['Adirondack', 'ArtL', 'Motorcycle', 'Piano', 'Teddy']
 */
export class Middlebury2014Dataset implements Dataset {
  readonly name = 'middlebury2014';
  private readonly root: string;
  private readonly mask: 'all' | 'nocc';

  constructor(options: Middlebury2014Options) {
    this.root = options.root;
    this.mask = options.mask ?? 'all';
  }

  scenes(): SceneRef[] {
    let entries: string[];
    try {
      entries = readdirSync(this.root).sort();
    } catch (err) {
      throw new ApertureDepthError('cannot list the Middlebury folder (does it exist?)', {
        file: this.root,
        key: 'data.root',
        cause: err,
      });
    }
    const dirs = entries.filter((e) => {
      const p = join(this.root, e);
      return statSync(p).isDirectory() && existsSync(join(p, 'calib.txt'));
    });
    check(dirs.length > 0, () => 'no scene folder (with calib.txt, im0.png, disp0GT.pfm) found', {
      file: this.root,
      key: 'data.root',
    });
    return dirs.map((d, index) => ({ id: safeSceneId(d), index, source: join(this.root, d) }));
  }

  async load(ref: SceneRef): Promise<RgbdScene> {
    const dir = ref.source;
    const calibFile = join(dir, 'calib.txt');
    const calib = parseMiddleburyCalib(readFileSync(calibFile, 'utf8'), calibFile);
    const imFile = join(dir, 'im0.png');
    const rgb = rgbOf(toFloat(readImage(imFile)));
    const dispFile = join(dir, 'disp0GT.pfm');
    const disp = readPfm(dispFile);
    const [h, w] = disp.shape as [number, number];
    check(disp.shape.length === 2, () => `expected a grey (Pf) disparity map, got shape [${disp.shape}]`, {
      file: dispFile,
    });
    check(
      w === rgb.width && h === rgb.height,
      () => `disparity is ${w}x${h} but im0.png is ${rgb.width}x${rgb.height}`,
      {
        file: dispFile,
      },
    );
    const depth = disparityToDepthM(disp.data, w, h, calib);
    const files = [imFile, dispFile, calibFile];
    if (this.mask === 'nocc') {
      const maskFile = join(dir, 'mask0nocc.png');
      const m = readImage(maskFile);
      check(m.width === w && m.height === h, () => `mask is ${m.width}x${m.height}, expected ${w}x${h}`, {
        file: maskFile,
      });
      for (let i = 0; i < w * h; i++)
        if (m.data[i * m.channels] !== 255 * (m.bitDepth === 16 ? 257 : 1)) depth.data[i] = Number.NaN;
      files.push(maskFile);
    }
    return { kind: 'rgbd', id: ref.id, rgb, depth, intrinsics: calib.cam0, files };
  }
}
