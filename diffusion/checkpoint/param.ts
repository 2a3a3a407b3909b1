import { ApertureDepthError, check } from '../../core/errors.ts';

/**
 * How a parameter is laid out in this project, and so how a torch tensor is converted into it.
 * - `conv`: torch [out, in, kh, kw] -> [kh, kw, in, out] (tfjs filter layout, NHWC convolutions).
 * - `linear`: torch [out, in] (or a 1x1 conv [out, in, 1, 1]) -> [in, out], so `y = x @ W + b`.
 * - `vector`, `table`: unchanged (biases, norm scales; embedding tables [rows, dim]).
 */
export type ParamLayout = 'conv' | 'linear' | 'vector' | 'table';

/**
 * Where a frozen parameter's float32 values sit, in torch layout, in a checkpoint file: an executor that
 * stores weights on disk (the ONNX graph cache) can reference these bytes instead of writing a copy.
 */
export interface ParamOrigin {
  /** Absolute path of the safetensors file (a shard for sharded checkpoints). */
  readonly file: string;
  /** Byte offset of the values in `file`. */
  readonly offset: number;
  readonly byteLength: number;
}

/** An executor's materialisation of a parameter (a tf tensor, an ONNX initializer ...). */
export interface ParamBinding {
  readonly value: unknown;
  dispose(): void;
}

/**
 * One named network weight, independent of any executor. It holds the float32 values (project layout)
 * until an executor binds it (`Ops.param`), after which the host copy may be dropped. `name` is the
 * checkpoint name (torch naming); `shape` is the project layout.
 */
export class Param {
  private host: Float32Array | undefined;
  private load: (() => Float32Array) | undefined;
  private readonly bindings = new Map<symbol, ParamBinding>();

  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    readonly layout: ParamLayout,
    /** The values, or a reader called on first use (a checkpoint weight an executor may never need). */
    data: Float32Array | (() => Float32Array),
    /**
     * Whether executors should make it trainable (tf.Variable, gradient computed). Read when the Param
     * is first bound, so choose it at load / create time (`{ trainable: true }`).
     */
    readonly trainable = false,
    /** Set for frozen float32 checkpoint weights only (a trainable value drifts from the file). */
    readonly origin?: ParamOrigin,
  ) {
    if (typeof data === 'function') this.load = data;
    else this.host = data;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The float32 values in project layout; throws once released. */
  hostData(): Float32Array {
    if (!this.host && this.load) {
      const values = this.load();
      check(values.length === this.size, () => `read ${values.length} values, the shape [${this.shape}] holds ${this.size}`, { key: this.name });
      this.host = values;
      this.load = undefined;
    }
    if (!this.host) {
      throw new ApertureDepthError('host copy was released after binding; read it back from the executor', {
        key: this.name,
      });
    }
    return this.host;
  }

  hasHostData(): boolean {
    return this.host !== undefined || this.load !== undefined;
  }

  /** Drops the host copy (after an executor holds the values) to halve memory for big models. */
  releaseHostData(): void {
    this.host = undefined;
    this.load = undefined;
  }

  /** The executor's binding under `key`, created once by `create`. */
  bind<V>(key: symbol, create: () => ParamBinding): V {
    let b = this.bindings.get(key);
    if (!b) {
      b = create();
      this.bindings.set(key, b);
    }
    return b.value as V;
  }

  boundTo(key: symbol): boolean {
    return this.bindings.has(key);
  }

  /** Disposes every executor binding (and the host copy). */
  dispose(): void {
    for (const b of this.bindings.values()) b.dispose();
    this.bindings.clear();
    this.host = undefined;
    this.load = undefined;
  }
}
