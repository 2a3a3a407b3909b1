/**
 * The one error type of the project. Every rejection of user input (a file, a config key, a CLI argument)
 * is an `ApertureDepthError` that names what was wrong and where, so a user can fix it without a stack trace.
 */
export interface ErrorContext {
  /** The file the problem was found in, when there is one. */
  file?: string;
  /** The key path, argument or tensor name at fault (e.g. `optimizer.iterations`, `--backend`). */
  key?: string;
  cause?: unknown;
}

export class ApertureDepthError extends Error {
  readonly file?: string;
  readonly key?: string;
  /** The message without the file and key in front. */
  readonly detail: string;

  constructor(message: string, context: ErrorContext = {}) {
    const where = [context.file ? `${context.file}` : '', context.key ? `${context.key}` : '']
      .filter(Boolean)
      .join(': ');
    super(where ? `${where}: ${message}` : message, context.cause ? { cause: context.cause } : undefined);
    this.name = 'ApertureDepthError';
    this.file = context.file;
    this.key = context.key;
    this.detail = message;
  }
}

/** Throws an `ApertureDepthError` unless `cond` holds; the message is built lazily. */
export function check(cond: unknown, message: () => string, context: ErrorContext = {}): asserts cond {
  if (!cond) throw new ApertureDepthError(message(), context);
}

/**
 * Runs `fn` (sync or async); an `ApertureDepthError` keyed `from` (a library's parameter name) comes out keyed
 * `to` (what the user wrote: a flag or config key), with the same file and message.
 *
 * @example await renamingKey('margin', 'prior.margin', () => prior.encodeImage(rgb))
 */
export function renamingKey<T>(from: string, to: string, fn: () => T): T {
  const rename = (e: unknown): never => {
    if (e instanceof ApertureDepthError && e.key === from) {
      throw new ApertureDepthError(e.detail, { file: e.file, key: to, cause: e });
    }
    throw e;
  };
  try {
    const out = fn();
    return (out instanceof Promise ? out.catch(rename) : out) as T;
  } catch (e) {
    return rename(e);
  }
}
