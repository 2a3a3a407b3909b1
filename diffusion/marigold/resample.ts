import * as tf from '@tensorflow/tfjs';
import { check } from '../../core/errors.ts';

/**
 * One-axis resampling as a dense matrix `M` [outSize, inSize] (row-major): `out[i] = sum_j M[i, j] * in[j]`.
 * Two of them (rows, columns) resample an image separably with two matMuls, which tfjs differentiates and
 * runs fast on every backend. Built once per geometry.
 */
export interface ResampleMatrix {
  outSize: number;
  inSize: number;
  data: Float32Array;
}

function checkSizes(inSize: number, outSize: number, what: string): void {
  check(
    Number.isInteger(inSize) && inSize >= 1 && Number.isInteger(outSize) && outSize >= 1,
    () => `sizes must be positive integers, got ${inSize} -> ${outSize}`,
    { key: what },
  );
}

/**
 * torch `F.interpolate(mode='bilinear', antialias=True, align_corners=False)` along one axis: the triangle
 * filter widened by the downscale factor (support `max(scale, 1)`), centred at `scale * (i + 0.5)`, taps
 * `[trunc(center - support + 0.5), trunc(center + support + 0.5))` clipped to the input, weights normalized
 * to sum 1 (ATen `_compute_weights_aa`). At equal sizes it is the identity.
 */
export function antialiasBilinearMatrix(inSize: number, outSize: number): ResampleMatrix {
  checkSizes(inSize, outSize, 'antialiasBilinearMatrix');
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const data = new Float32Array(outSize * inSize);
  const w = new Float64Array(inSize);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let j = xmin; j < xmax; j++) {
      const x = Math.abs((j - center + 0.5) * invScale);
      w[j] = x < 1 ? 1 - x : 0;
      total += w[j];
    }
    for (let j = xmin; j < xmax; j++) data[i * inSize + j] = total !== 0 ? w[j] / total : 0;
  }
  return { outSize, inSize, data };
}

/**
 * torch `F.interpolate(mode='bilinear', antialias=False, align_corners=False)` along one axis: source
 * coordinate `max(scale * (i + 0.5) - 0.5, 0)`, two taps, the upper one clamped to the last sample.
 */
export function bilinearMatrix(inSize: number, outSize: number): ResampleMatrix {
  checkSizes(inSize, outSize, 'bilinearMatrix');
  const scale = inSize / outSize;
  const data = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(scale * (i + 0.5) - 0.5, 0);
    const i0 = Math.trunc(src);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = src - i0;
    data[i * inSize + i0] += 1 - l1;
    data[i * inSize + i1] += l1;
  }
  return { outSize, inSize, data };
}

/** `pad` extra outputs that repeat the last one (replicate padding at the end of the axis). */
export function replicatePadEnd(m: ResampleMatrix, pad: number): ResampleMatrix {
  const data = new Float32Array((m.outSize + pad) * m.inSize);
  data.set(m.data);
  const last = m.data.subarray((m.outSize - 1) * m.inSize, m.outSize * m.inSize);
  for (let p = 0; p < pad; p++) data.set(last, (m.outSize + p) * m.inSize);
  return { outSize: m.outSize + pad, inSize: m.inSize, data };
}

/**
 * `pad` extra outputs at each end that mirror the outputs next to the edge, the edge itself not repeated
 * (numpy / torch `reflect`: before the start come outputs 1, 2, .., pad; after the end n-2, n-3, ..).
 * `pad` must be below `outSize`.
 */
export function reflectPadBoth(m: ResampleMatrix, pad: number): ResampleMatrix {
  check(
    Number.isInteger(pad) && pad >= 0 && (pad === 0 || pad < m.outSize),
    () => `reflect padding must be an integer in [0, ${m.outSize - 1}] for ${m.outSize} samples, got ${pad}`,
    { key: 'reflectPadBoth' },
  );
  const n = m.outSize;
  const data = new Float32Array((n + 2 * pad) * m.inSize);
  for (let o = 0; o < n + 2 * pad; o++) {
    const i = o - pad;
    const src = i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
    data.set(m.data.subarray(src * m.inSize, (src + 1) * m.inSize), o * m.inSize);
  }
  return { outSize: n + 2 * pad, inSize: m.inSize, data };
}

/**
 * A matrix that reads `m`'s inputs at positions `offset .. offset + m.inSize - 1` of `inSize` inputs
 * (cropping the rest, e.g. un-padding: `offset` is the padding at the start).
 */
export function cropInputEnd(m: ResampleMatrix, inSize: number, offset = 0): ResampleMatrix {
  check(
    Number.isInteger(offset) && offset >= 0 && inSize >= m.inSize + offset,
    () => `cannot place ${m.inSize} inputs at offset ${offset} of ${inSize}`,
    { key: 'cropInputEnd' },
  );
  const data = new Float32Array(m.outSize * inSize);
  for (let i = 0; i < m.outSize; i++) {
    data.set(m.data.subarray(i * m.inSize, (i + 1) * m.inSize), i * inSize + offset);
  }
  return { outSize: m.outSize, inSize, data };
}

/**
 * Resamples an NHWC tensor `x` [B, H, W, C] to [B, rows.outSize, cols.outSize, C] with two matMuls.
 * Differentiable in `x`.
 */
export function resampleNHWC(x: tf.Tensor4D, rows: ResampleMatrix, cols: ResampleMatrix): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  check(
    h === rows.inSize && w === cols.inSize,
    () => `input is ${h}x${w}, matrices expect ${rows.inSize}x${cols.inSize}`,
    {
      key: 'resampleNHWC',
    },
  );
  return tf.tidy(() => {
    const R = tf.tensor2d(rows.data, [rows.outSize, rows.inSize]);
    const C = tf.tensor2d(cols.data, [cols.outSize, cols.inSize]);
    // rows: [H, B*W*C] -> [outH, B*W*C]
    const hFirst = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, b * w * c]);
    const rowsDone = tf.reshape(tf.matMul(R, hFirst), [rows.outSize, b, w, c]); // [outH, B, W, C]
    // columns: [W, outH*B*C] -> [outW, outH*B*C]
    const wFirst = tf.reshape(tf.transpose(rowsDone, [2, 0, 1, 3]), [w, rows.outSize * b * c]);
    const colsDone = tf.reshape(tf.matMul(C, wFirst), [cols.outSize, rows.outSize, b, c]); // [outW, outH, B, C]
    return tf.transpose(colsDone, [2, 1, 0, 3]) as tf.Tensor4D; // [B, outH, outW, C]
  });
}
