/**
 * A mean with its standard error, for paired per-scene differences (prior - plane, one variant - another), so a
 * comparison that the number of scenes cannot resolve shows as such.
 */

export interface MeanAndError {
  mean: number;
  stderr: number;
}

/** Mean and standard error of the mean (sample standard deviation / sqrt n). */
export function meanAndError(values: readonly number[]): MeanAndError {
  const n = values.length;
  if (n === 0) return { mean: 0, stderr: 0 };
  const mean = values.reduce((a, v) => a + v, 0) / n;
  if (n < 2) return { mean, stderr: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n) };
}

/** `+0.0123 ± 0.0045` (signed; a mean that rounds to zero prints as 0.0000). */
export function formatMeanAndError(v: MeanAndError): string {
  const m = Math.abs(v.mean) < 5e-5 ? 0 : v.mean;
  return `${m > 0 ? '+' : ''}${m.toFixed(4)} ± ${v.stderr.toFixed(4)}`;
}
