/**
 * A mean with its standard error, for paired per-scene differences (prior - plane, one variant - another), so a
 * comparison that the number of scenes cannot resolve shows as such.
 */

export interface MeanAndError {
  mean: number;
  stderr: number;
}

/** Plain mean (NaN for no values). */
export const meanOf = (values: readonly number[]): number =>
  values.reduce((a, v) => a + v, 0) / values.length;

/** Sample standard deviation (n - 1 in the denominator); null below two values. */
export function sampleSd(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const mean = meanOf(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
}

/** Mean and standard error of the mean (sample standard deviation / sqrt n). */
export function meanAndError(values: readonly number[]): MeanAndError {
  const n = values.length;
  if (n === 0) return { mean: 0, stderr: 0 };
  const sd = sampleSd(values);
  return { mean: meanOf(values), stderr: sd === null ? 0 : sd / Math.sqrt(n) };
}

/** `+0.0123 ± 0.0045` (signed; a mean that rounds to zero prints as 0.0000). */
export function formatMeanAndError(v: MeanAndError): string {
  const m = Math.abs(v.mean) < 5e-5 ? 0 : v.mean;
  return `${m > 0 ? '+' : ''}${m.toFixed(4)} ± ${v.stderr.toFixed(4)}`;
}
