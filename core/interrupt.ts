import { ApertureDepthError, type ErrorContext } from './errors.ts';

/**
 * A run stopped on request (Ctrl-C, SIGINT, SIGTERM) after saving its state: not a failure of the input.
 * The CLI exits with 130, the shell's code for an interrupt.
 */
export class InterruptedError extends ApertureDepthError {
  constructor(message: string, context: ErrorContext = {}) {
    super(message, context);
    this.name = 'InterruptedError';
  }
}

/** Exit code of an interrupted run (128 + SIGINT). */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * Turns the first SIGINT or SIGTERM into an abort of the returned signal, so the optimization loop can
 * write a checkpoint and stop at the end of its current iteration; a second signal exits at once. `release`
 * removes the handlers.
 *
 * @example
 * const stop = stopOnSignals((s) => log(`${s}: stopping after this iteration`));
 * try { await estimate({ ..., signal: stop.signal }); } finally { stop.release(); }
 */
export function stopOnSignals(onFirst?: (signal: NodeJS.Signals) => void): {
  signal: AbortSignal;
  release: () => void;
} {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(INTERRUPTED_EXIT_CODE);
    onFirst?.(signal);
    controller.abort(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
