import { readFileSync } from 'node:fs';
import { ApertureDepthError, check } from '../errors.ts';
import { listHdf5Datasets, readHdf5Dataset } from '../io/hdf5.ts';
import type { Dataset, Intrinsics, RgbdScene, SceneRef } from './dataset.ts';
import { NYUV2_TEST_INDICES, NYUV2_TRAIN_INDICES } from './nyuv2-split.ts';

/** NYU Depth v2 RGB camera intrinsics (Silberman et al. toolbox, camera_params.m), 640x480. */
export const NYUV2_INTRINSICS: Readonly<Intrinsics> = Object.freeze({
  fx: 518.8579,
  fy: 519.4696,
  cx: 325.5824,
  cy: 253.7362,
});

/** The standard evaluation crop of Eigen et al. (rows 45..470, columns 41..600 of 480x640, inclusive). */
export const EIGEN_CROP = Object.freeze({ top: 45, bottom: 471, left: 41, right: 601 });

export type NyuSplit = 'test' | 'train' | 'all' | 'file';

export interface NyuV2LabeledOptions {
  /** `nyu_depth_v2_labeled.mat`. */
  file: string;
  /** @default 'test' (the official 654) */
  split?: NyuSplit;
  /** For `split: 'file'`: a text file of 1-based image indices (as in splits.mat), one per line; `#` comments. */
  splitFile?: string;
  /** Restrict metrics to the Eigen crop. @default true */
  eigenCrop?: boolean;
}

/**
 * Reads 1-based indices, one per line (blank lines and `#` comments ignored), as 0-based indices.
 * Each must be an integer in [1, count]; duplicates are errors.
 */
export function readSplitFile(path: string, count: number): number[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ApertureDepthError('cannot read the split file', {
      file: path,
      key: 'data.split_file',
      cause: err,
    });
  }
  const out: number[] = [];
  const seen = new Set<number>();
  text.split(/\r?\n/).forEach((line, i) => {
    const s = line.replace(/#.*/, '').trim();
    if (!s) return;
    const v = Number(s);
    check(
      Number.isInteger(v) && v >= 1 && v <= count,
      () => `line ${i + 1}: expected a 1-based index in 1..${count}, got ${JSON.stringify(s)}`,
      {
        file: path,
      },
    );
    check(!seen.has(v), () => `line ${i + 1}: index ${v} is listed twice`, { file: path });
    seen.add(v);
    out.push(v - 1);
  });
  check(out.length > 0, () => 'no index in the split file', { file: path });
  return out;
}

/**
 * The NYU Depth v2 labeled set: `nyu_depth_v2_labeled.mat`, a MATLAB v7.3 file (HDF5 behind a 512-byte user
 * block) holding `images` uint8 `[N, 3, 640, 480]` and `depths` float32 `[N, 640, 480]` in metres, both
 * stored transposed (MATLAB is column-major): pixel (row y, column x) of image i is `images[i, c, x, y]`.
 * Reads one image at a time (a slice of each dataset), so the 2.8 GB file is never loaded whole.
 *
 * Scene ids are `nyu_00000`-style, 0-based like the BTS/Marigold extraction (`rgb_00000.jpg`).
 */
export class NyuV2LabeledDataset implements Dataset {
  readonly name = 'nyuv2-labeled';
  private readonly file: string;
  private readonly split: NyuSplit;
  private readonly splitFile?: string;
  private readonly eigenCrop: boolean;
  private count?: number;
  private layout?: { W: number; H: number };
  private indices?: number[];

  constructor(options: NyuV2LabeledOptions) {
    this.file = options.file;
    this.split = options.split ?? 'test';
    this.splitFile = options.splitFile;
    this.eigenCrop = options.eigenCrop ?? true;
  }

  /** Reads the dataset shapes (no pixel data); needed before `scenes()`. */
  async open(): Promise<this> {
    if (this.count !== undefined) return this;
    const list = await listHdf5Datasets(this.file);
    const images = list.find((d) => d.name === 'images');
    const depths = list.find((d) => d.name === 'depths');
    check(
      images && depths,
      () => 'expected datasets "images" and "depths" (is this nyu_depth_v2_labeled.mat?)',
      {
        file: this.file,
      },
    );
    const [n, c, W, H] = images.shape as [number, number, number, number];
    check(
      images.shape.length === 4 && c === 3 && images.dtype === 'uint8',
      () => `images: expected uint8 [N, 3, W, H], got ${images.dtype} [${images.shape}]`,
      { file: this.file, key: 'images' },
    );
    check(
      depths.shape.length === 3 && depths.shape[0] === n && depths.shape[1] === W && depths.shape[2] === H,
      () => `depths: expected [${n}, ${W}, ${H}] to match images, got [${depths.shape}]`,
      { file: this.file, key: 'depths' },
    );
    check(
      depths.dtype === 'float32' || depths.dtype === 'float64',
      () => `depths: expected floats, got ${depths.dtype}`,
      {
        file: this.file,
        key: 'depths',
      },
    );
    this.count = n;
    this.layout = { W, H };
    const base =
      this.split === 'test'
        ? NYUV2_TEST_INDICES
        : this.split === 'train'
          ? NYUV2_TRAIN_INDICES
          : this.split === 'all'
            ? Array.from({ length: n }, (_, i) => i)
            : readSplitFile(this.splitFile ?? '', n);
    // A file with fewer images (a cut-down copy) keeps the split's indices that exist in it.
    this.indices = base.filter((i) => i < n);
    return this;
  }

  scenes(): SceneRef[] {
    if (!this.indices) {
      throw new ApertureDepthError('call open() first (it reads the file layout)', { file: this.file });
    }
    return this.indices.map((i) => ({
      id: `nyu_${String(i).padStart(5, '0')}`,
      index: i,
      source: `${this.file}#${i}`,
    }));
  }

  async load(ref: SceneRef): Promise<RgbdScene> {
    await this.open();
    const { W, H } = this.layout!;
    const i = ref.index;
    check(
      Number.isInteger(i) && i >= 0 && i < this.count!,
      () => `image index ${i} is outside 0..${this.count! - 1}`,
      {
        file: this.file,
      },
    );
    const img = await readHdf5Dataset(this.file, 'images', { slice: [[i, i + 1]] }); // [1, 3, W, H]
    const dep = await readHdf5Dataset(this.file, 'depths', { slice: [[i, i + 1]] }); // [1, W, H]
    const rgb = new Float32Array(W * H * 3);
    const depth = new Float32Array(W * H);
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) {
        for (let c = 0; c < 3; c++)
          rgb[(y * W + x) * 3 + c] = (img.data[(c * W + x) * H + y] as number) / 255;
        const d = dep.data[x * H + y] as number;
        depth[y * W + x] = d > 0 && Number.isFinite(d) ? d : Number.NaN;
      }
    }
    let evalMask: Uint8Array | undefined;
    if (this.eigenCrop) {
      // The crop is defined for 640x480; other sizes scale it.
      const sy = H / 480;
      const sx = W / 640;
      const top = Math.round(EIGEN_CROP.top * sy);
      const bottom = Math.round(EIGEN_CROP.bottom * sy);
      const left = Math.round(EIGEN_CROP.left * sx);
      const right = Math.round(EIGEN_CROP.right * sx);
      evalMask = new Uint8Array(W * H);
      for (let y = top; y < bottom; y++) for (let x = left; x < right; x++) evalMask[y * W + x] = 1;
    }
    const sx = W / 640;
    const sy = H / 480;
    const intrinsics = {
      fx: NYUV2_INTRINSICS.fx * sx,
      fy: NYUV2_INTRINSICS.fy * sy,
      cx: NYUV2_INTRINSICS.cx * sx,
      cy: NYUV2_INTRINSICS.cy * sy,
    };
    return {
      kind: 'rgbd',
      id: ref.id,
      rgb: { width: W, height: H, channels: 3, data: rgb },
      depth: { width: W, height: H, data: depth },
      intrinsics,
      evalMask,
      files: [ref.source],
    };
  }
}
