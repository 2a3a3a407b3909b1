import { check } from '../../../core/errors.ts';

/**
 * Typed reads of a component's config.json, each error naming the file and the key. `file` is a label
 * (the config path, or `<config object>` for in-memory configs).
 */
export class ConfigReader {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly file: string,
  ) {
    check(raw !== null && typeof raw === 'object' && !Array.isArray(raw), () => 'config is not a JSON object', { file });
  }

  private get(key: string, fallback: unknown): unknown {
    const v = this.raw[key];
    return v === undefined || v === null ? fallback : v;
  }

  int(key: string, fallback?: number): number {
    const v = this.get(key, fallback);
    check(Number.isInteger(v), () => `expected an integer, got ${JSON.stringify(v)}`, { file: this.file, key });
    return v as number;
  }

  num(key: string, fallback?: number): number {
    const v = this.get(key, fallback);
    check(typeof v === 'number' && Number.isFinite(v), () => `expected a number, got ${JSON.stringify(v)}`, {
      file: this.file,
      key,
    });
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.get(key, fallback);
    check(typeof v === 'boolean', () => `expected true or false, got ${JSON.stringify(v)}`, { file: this.file, key });
    return v;
  }

  str(key: string, fallback?: string): string {
    const v = this.get(key, fallback);
    check(typeof v === 'string', () => `expected a string, got ${JSON.stringify(v)}`, { file: this.file, key });
    return v;
  }

  /** Nullable string (absent or null -> null). */
  optStr(key: string): string | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    return this.str(key);
  }

  strList(key: string, fallback?: string[]): string[] {
    const v = this.get(key, fallback);
    check(Array.isArray(v) && v.every((s) => typeof s === 'string'), () => `expected a list of strings, got ${JSON.stringify(v)}`, {
      file: this.file,
      key,
    });
    return [...(v as string[])];
  }

  intList(key: string, fallback?: number[]): number[] {
    const v = this.get(key, fallback);
    check(
      Array.isArray(v) && v.length > 0 && v.every((n) => Number.isInteger(n) && n > 0),
      () => `expected a non-empty list of positive integers, got ${JSON.stringify(v)}`,
      { file: this.file, key },
    );
    return [...(v as number[])];
  }

  /** An int applying to every block, or one per block (`length` entries). */
  intPerBlock(key: string, length: number, fallback?: number): number[] {
    const v = this.get(key, fallback);
    if (Number.isInteger(v)) return Array.from({ length }, () => v as number);
    const list = this.intList(key);
    check(list.length === length, () => `has ${list.length} entries, expected one per block (${length})`, {
      file: this.file,
      key,
    });
    return list;
  }

  /** Rejects a key whose value would change the computation in a way this port does not implement. */
  unsupportedUnless(key: string, ok: (v: unknown) => boolean, what: string): void {
    const v = this.raw[key];
    check(ok(v), () => `${JSON.stringify(v)} is not supported (${what})`, { file: this.file, key });
  }
}

/** Whether a config value is absent, null, or equal to its harmless default. */
export const isUnset =
  (...defaults: unknown[]) =>
  (v: unknown): boolean =>
    v === undefined || v === null || defaults.includes(v);
