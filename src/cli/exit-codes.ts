/** The exit status of `spindle run` and `spindle tasks submit --wait`, for each way a run can end. */
import type { OutcomeKind } from '../domain/index.js';

/** What a run that did not exit on its own answers (an exit answers the guest's code). */
export const EXIT_CODES: Record<Exclude<OutcomeKind, 'exited'>, number> = {
  trap: 134, // as wasmtime: a trap aborts
  timeout: 124, // as timeout(1)
  fuel_exhausted: 125,
  memory_limit: 125,
  output_limit: 125,
  host_error: 125,
  invalid_module: 126, // as a shell's "cannot execute"
  cancelled: 130, // as an interrupted command
};

export const exitCodeOf = (kind: OutcomeKind, exitCode: number | null): number => (kind === 'exited' ? (exitCode ?? 0) : EXIT_CODES[kind]);

