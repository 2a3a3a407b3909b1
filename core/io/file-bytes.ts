import { readFileSync, statSync } from 'node:fs';
import { ApertureDepthError } from '../errors.ts';

/**
 * The largest decoded payload a reader will allocate unless told otherwise (2 GiB): a header that
 * claims more is refused before any allocation.
 */
export const MAX_DECODED_BYTES = 2 ** 31;

/** Reads a whole file; a missing file, a folder or an unreadable file is an error naming it. */
export function readFileBytes(path: string, what: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory())
      throw new ApertureDepthError(`is a folder, expected a ${what} file`, { file: path });
    // A device or a pipe (/dev/zero, a FIFO) has no size to check and may never end: refuse it.
    if (!st.isFile())
      throw new ApertureDepthError(`is not a regular file, expected a ${what} file`, { file: path });
    size = st.size;
  } catch (err) {
    if (err instanceof ApertureDepthError) throw err;
    throw new ApertureDepthError(`${what} file ${fsReason(err)}`, { file: path, cause: err });
  }
  if (size > MAX_DECODED_BYTES) {
    throw new ApertureDepthError(`${what} file is ${size} bytes, more than this reader loads at once`, {
      file: path,
    });
  }
  try {
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw new ApertureDepthError(`${what} file ${fsReason(err)}`, { file: path, cause: err });
  }
}

/** A short reason for a filesystem error: "not found", "not readable (permission denied)", ... */
export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EACCES' || code === 'EPERM') return 'not readable (permission denied)';
  if (code === 'EISDIR') return 'is a folder';
  return `could not be read (${(err as Error)?.message ?? String(err)})`;
}

/** The message of anything thrown, for wrapping third-party errors. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : String(err);
}
