import type { SchedulerConfig } from './scheduler-config.ts';

const f32 = Math.fround;

/**
 * `torch.linspace(start, end, n, dtype=float32)` on the CPU: float32 step, the first half counted up from
 * `start`, the second half down from `end` (so both ends are exact).
 */
export function linspaceFloat32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  for (let i = 0; i < n; i++)
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (n - i - 1)));
  return out;
}

/** GLIDE's cosine schedule (`betas_for_alpha_bar`, max beta 0.999), as diffusers' `squaredcos_cap_v2`. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return out;
}

/** Cumulative product; accumulated in double and stored in float32, as torch's CPU `cumprod` does. */
export function cumprodFloat32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i];
    out[i] = acc;
  }
  return out;
}

/**
 * Rescales betas to a zero terminal SNR (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps
 * are Flawed", Algorithm 1), in float32 like diffusers' `rescale_zero_terminal_snr`. The last
 * `alphas_cumprod` comes out exactly 0, so a v-prediction model at t = T predicts x0 = -v.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const alphas = betas.map((b) => f32(1 - b));
  const sqrtBar = cumprodFloat32(alphas).map((a) => f32(Math.sqrt(a)));
  const first = sqrtBar[0];
  const last = sqrtBar[n - 1];
  const gain = f32(first / f32(first - last));
  const bar = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const shifted = f32(f32(sqrtBar[i] - last) * gain);
    bar[i] = f32(shifted * shifted);
  }
  const out = new Float32Array(n);
  out[0] = f32(1 - bar[0]);
  for (let i = 1; i < n; i++) out[i] = f32(1 - f32(bar[i] / bar[i - 1]));
  return out;
}

/** The training noise schedule of a scheduler config: betas and their cumulative alpha products (float32). */
export interface NoiseSchedule {
  betas: Float32Array;
  alphasCumprod: Float32Array;
  /** alpha_cumprod used when the previous timestep is before 0: 1 (`set_alpha_to_one`) or alphas_cumprod[0]. */
  finalAlphaCumprod: number;
}

export function noiseSchedule(config: SchedulerConfig): NoiseSchedule {
  const n = config.numTrainTimesteps;
  let betas: Float32Array;
  if (config.trainedBetas) betas = Float32Array.from(config.trainedBetas);
  else if (config.betaSchedule === 'linear') betas = linspaceFloat32(config.betaStart, config.betaEnd, n);
  else if (config.betaSchedule === 'scaled_linear') {
    betas = linspaceFloat32(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), n).map((b) => f32(b * b));
  } else betas = cosineBetas(n);
  if (config.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
  const alphasCumprod = cumprodFloat32(betas.map((b) => f32(1 - b)));
  return { betas, alphasCumprod, finalAlphaCumprod: config.setAlphaToOne ? 1 : alphasCumprod[0] };
}
