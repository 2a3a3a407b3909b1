import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApertureDepthError, check } from '../../core/errors.ts';
import { readFully, type SafetensorsFile } from '../../core/io/safetensors.ts';
import { fromTorch, torchShape } from './layout.ts';
import { Param, type ParamOrigin } from './param.ts';
import type { ParamRequest, ParamSource } from './param-source.ts';

/** Checkpoint tensors that are buffers, not weights: present in some files, never used by the model. */
const IGNORED_BUFFERS = [/(^|\.)position_ids$/];

/** Older diffusers VAE attention names (`query`, `key`, `value`, `proj_attn`) for today's names. */
const LEGACY_ALIASES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.to_q\.(weight|bias)$/, '.query.$1'],
  [/\.to_k\.(weight|bias)$/, '.key.$1'],
  [/\.to_v\.(weight|bias)$/, '.value.$1'],
  [/\.to_out\.0\.(weight|bias)$/, '.proj_attn.$1'],
];

/**
 * Weights read from a safetensors checkpoint of one component. Every request must name a tensor of the
 * expected (torch) shape; `finish()` then rejects any tensor no module asked for. Errors name the
 * weight (`key`) and the component folder (`file`).
 */
export class CheckpointSource implements ParamSource {
  private readonly taken: Param[] = [];
  private readonly used = new Set<string>();

  constructor(
    private readonly file: SafetensorsFile,
    /** The component folder (e.g. `<ckpt>/unet`). */
    readonly label: string,
    private readonly trainable = false,
  ) {}

  take(req: ParamRequest): Param {
    const stored = this.resolve(req.name);
    const ctx = { file: this.label, key: req.name };
    check(stored, () => `missing weight "${req.name}" (module ${this.label}; checkpoint ${this.file.path})`, ctx);
    const info = this.file.info(stored);
    const want = torchShape(req.shape, req.layout);
    // A Linear stored as a 1x1 conv ([out, in, 1, 1]: old VAE attention) has the same values.
    const got =
      req.layout === 'linear' && info.shape.length === 4 && info.shape[2] === 1 && info.shape[3] === 1
        ? info.shape.slice(0, 2)
        : info.shape;
    check(
      got.length === want.length && got.every((d, i) => d === want[i]),
      () => `weight "${stored}" has shape [${info.shape.join(', ')}], the config implies [${want.join(', ')}]`,
      ctx,
    );
    this.used.add(stored);
    // A frozen float32 weight is read when an executor first asks for it: the ONNX engine links most
    // of them from the file and never needs their values in memory.
    const origin =
      info.dtype === 'F32' && !this.trainable
        ? { file: resolve(info.file), offset: info.offset, byteLength: info.byteLength }
        : undefined;
    const data = origin
      ? () => fromTorch(readOriginValues(origin, this.label), req.shape, req.layout)
      : fromTorch(this.file.read(stored), req.shape, req.layout);
    const p = new Param(req.name, req.shape, req.layout, data, this.trainable, origin);
    this.taken.push(p);
    return p;
  }

  params(): Param[] {
    return [...this.taken];
  }

  /** Rejects checkpoint tensors that no module consumed (a config/checkpoint mismatch). */
  finish(): void {
    const extra = this.file
      .names()
      .filter((n) => !this.used.has(n) && !IGNORED_BUFFERS.some((re) => re.test(n)));
    check(
      extra.length === 0,
      () =>
        `unexpected weight${extra.length > 1 ? 's' : ''} ${extra
          .slice(0, 5)
          .map((n) => `"${n}"`)
          .join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''} not used by the model built from config.json`,
      { file: this.label, key: extra[0] },
    );
  }

  private resolve(name: string): string | undefined {
    if (this.file.has(name)) return name;
    for (const [re, legacy] of LEGACY_ALIASES) {
      if (re.test(name)) {
        const alt = name.replace(re, legacy);
        if (this.file.has(alt)) return alt;
      }
    }
    return undefined;
  }
}

/**
 * The float32 values (torch layout) at a weight's origin, read from the file now. The file must still
 * hold them: a checkpoint replaced after loading is an error here rather than wrong numbers later.
 */
export function readOriginValues(origin: ParamOrigin, label = origin.file): Float32Array {
  let fd: number;
  try {
    fd = openSync(origin.file, 'r');
  } catch (err) {
    throw new ApertureDepthError(`checkpoint file gone since it was opened: ${(err as Error).message}`, { file: label, cause: err });
  }
  try {
    const bytes = new Uint8Array(new ArrayBuffer(origin.byteLength));
    readFully(fd, bytes, origin.offset, label, 'weight values', (done, total) =>
      `checkpoint file ${origin.file} shrank since it was opened (read ${done} of ${total} bytes at ${origin.offset})`,
    );
    return new Float32Array(bytes.buffer);
  } finally {
    closeSync(fd);
  }
}
