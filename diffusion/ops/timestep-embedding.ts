/**
 * diffusers `get_timestep_embedding` for one timestep, on the host: `freq_i = exp(-ln(maxPeriod) · i /
 * (half - freqShift))`, `[sin(t·freq), cos(t·freq)]`, swapped to `[cos, sin]` when `flipSinToCos`.
 * Every step is rounded to float32 as torch computes it (at t = 999 a float64 argument would move
 * sin/cos by ~1e-5). Returns `[dim]`; the network turns it into a constant.
 */
export function timestepEmbedding(
  t: number,
  dim: number,
  options: { flipSinToCos: boolean; freqShift: number; maxPeriod?: number; scale?: number },
): Float32Array {
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const out = new Float32Array(dim);
  const negLog = f(-Math.log(options.maxPeriod ?? 10000));
  const scale = options.scale ?? 1;
  const tf32 = f(t);
  for (let i = 0; i < half; i++) {
    const exponent = f(f(negLog * i) / f(half - options.freqShift));
    const arg = f(f(scale * f(tf32 * f(Math.exp(exponent)))));
    const s = f(Math.sin(arg));
    const c = f(Math.cos(arg));
    if (options.flipSinToCos) {
      out[i] = c;
      out[half + i] = s;
    } else {
      out[i] = s;
      out[half + i] = c;
    }
  }
  return out; // an odd dim keeps its last entry 0 (diffusers zero-pads)
}
