/**
 * The one way tests build a run's outcome and an attempt result by hand (to write an end straight
 * into the store, or feed the executor's pure conversions): a clean exit 0 with empty output,
 * finished now; a test overrides only the fields it is about.
 *
 *   await store.tasks.finish([makeAttemptResult({ taskId, n: 1, node: 'stalled-node', exitCode: 7 })]);
 *   const trapped = makeRunOutcome({ kind: 'trapped', exitCode: null, trap: { code: 'unreachable', message: '…' } });
 */
import type { RunOutcome } from '../../src/runtime/types.js';
import type { AttemptResult } from '../../src/store/types.js';

/** What the runtime answers for a run: exit 0, nothing written, 1 ms. */
export function makeRunOutcome(over: Partial<RunOutcome> = {}): RunOutcome {
  return {
    kind: 'exited',
    exitCode: 0,
    stdout: new Uint8Array(),
    stderr: new Uint8Array(),
    stdoutTruncated: false,
    stderrTruncated: false,
    files: [],
    compileMs: 0,
    runMs: 1,
    memoryPeakBytes: 0,
    ...over,
  };
}

/** The end of attempt `n` of `taskId` by `node`: exit 0, empty output, no files, finished now, SUCCEEDED. */
export function makeAttemptResult(over: Pick<AttemptResult, 'taskId' | 'n' | 'node'> & Partial<AttemptResult>): AttemptResult {
  const now = new Date();
  return {
    outcome: 'exited',
    exitCode: 0,
    stdout: new Uint8Array(),
    stderr: new Uint8Array(),
    stdoutTruncated: false,
    stderrTruncated: false,
    trapCode: null,
    trapMessage: null,
    error: null,
    compileMs: 0,
    runMs: 1,
    fuelUsed: null,
    memoryPeakBytes: 0,
    files: [],
    filesDigest: null,
    startedAt: now,
    finishedAt: now,
    next: { status: 'SUCCEEDED' },
    ...over,
  };
}
