/**
 * Float64 reference convolution and its gradients, by the definition (NHWC, filter [kh, kw, ci, co],
 * pad [top, bottom, left, right]): the oracle for the custom-gradient tests.
 */
export interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  stride: number;
  pad: [number, number, number, number];
}

export function outSize(c: ConvCase): [number, number] {
  return [
    Math.floor((c.h + c.pad[0] + c.pad[1] - c.k) / c.stride) + 1,
    Math.floor((c.w + c.pad[2] + c.pad[3] - c.k) / c.stride) + 1,
  ];
}

/** Visits every (output, tap) pair: cb(xIndex, wIndex, yIndex). */
function forEachTap(c: ConvCase, cb: (xi: number, wi: number, yi: number) => void): void {
  const [ho, wo] = outSize(c);
  for (let n = 0; n < c.n; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let a = 0; a < c.k; a++)
          for (let b = 0; b < c.k; b++) {
            const y = i * c.stride + a - c.pad[0];
            const x = j * c.stride + b - c.pad[2];
            if (y < 0 || y >= c.h || x < 0 || x >= c.w) continue;
            for (let ci = 0; ci < c.ci; ci++)
              for (let co = 0; co < c.co; co++)
                cb(((n * c.h + y) * c.w + x) * c.ci + ci, ((a * c.k + b) * c.ci + ci) * c.co + co, ((n * ho + i) * wo + j) * c.co + co);
          }
}

export function naiveConv(c: ConvCase, x: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const [ho, wo] = outSize(c);
  const y = new Float64Array(c.n * ho * wo * c.co);
  forEachTap(c, (xi, wi, yi) => (y[yi]! += x[xi]! * w[wi]!));
  return y;
}

export function naiveConvGrads(
  c: ConvCase,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  forEachTap(c, (xi, wi, yi) => {
    dx[xi]! += dy[yi]! * w[wi]!;
    dw[wi]! += dy[yi]! * x[xi]!;
  });
  return { dx, dw };
}

export function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}
