/** Exit status of a bench that does not apply on this machine (e.g. no GPU): `run-all.ts` reports it as skipped. */
export const NOT_HERE = 75;
