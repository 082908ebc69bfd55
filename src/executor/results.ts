/**
 * Pure conversions at the executor's seams: a run's outcome → the attempt row to write, an
 * expired lease → its host_error attempt, a task row → the event that announces its state.
 */
import type { RunOutcome } from '../runtime/types.js';
import type { AttemptResult, TaskRow } from '../store/types.js';
import { nextState } from './retry.js';
import type { TaskEvent } from './types.js';

const EMPTY = new Uint8Array(0);

/** The event announcing a task's current state (outcome and exit code only once an attempt ended). */
export function taskEvent(t: TaskRow): TaskEvent {
  const settled = t.status !== 'RUNNING' && t.status !== 'QUEUED';
  return {
    taskId: t.id,
    tenantId: t.tenantId,
    agentId: t.agentId,
    status: t.status,
    attempt: t.attempts,
    outcome: settled ? t.lastOutcome : null,
    exitCode: settled ? t.exitCode : null,
    at: t.updatedAt,
  };
}

/** An outcome the executor itself produces (the run never reached the runtime, or failed around it). */
export function ownOutcome(kind: RunOutcome['kind'], error: string): RunOutcome {
  return {
    kind,
    exitCode: null,
    stdout: EMPTY,
    stderr: EMPTY,
    stdoutTruncated: false,
    stderrTruncated: false,
    files: [],
    error,
    compileMs: 0,
    runMs: 0,
    memoryPeakBytes: 0,
  };
}

export interface AttemptContext {
  task: TaskRow;
  node: string;
  startedAt: Date;
  finishedAt: Date;
  /** Where the output files went (already stored as one bundle), or none. */
  files: { meta: AttemptResult['files']; digest: string | null };
  random: () => number;
}

/** The attempt to record for a run of `task`, with the task's next state from its retry policy. */
export function attemptResult(outcome: RunOutcome, c: AttemptContext): AttemptResult {
  const { task } = c;
  return {
    taskId: task.id,
    n: task.attempts,
    node: c.node,
    outcome: outcome.kind,
    exitCode: outcome.exitCode,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    stdoutTruncated: outcome.stdoutTruncated,
    stderrTruncated: outcome.stderrTruncated,
    trapCode: outcome.trap?.code ?? null,
    trapMessage: outcome.trap?.message ?? null,
    error: outcome.error ?? null,
    compileMs: outcome.compileMs,
    runMs: outcome.runMs,
    fuelUsed: outcome.fuelUsed ?? null,
    memoryPeakBytes: outcome.memoryPeakBytes,
    files: c.files.meta,
    filesDigest: c.files.digest,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    // Attempts of earlier budgets (before a manual retry) do not count against this one.
    next: nextState(outcome.kind, outcome.exitCode, task.retry, task.attempts - task.attemptBase, c.finishedAt.getTime(), c.random),
  };
}

/**
 * The attempt a dead node left behind: `task` was taken over by `node` (reclaimExpired), its
 * attempt `task.attempts` is recorded as host_error and the retry policy decides what follows.
 */
export function expiredLeaseResult(task: TaskRow, lostOwner: string | null, node: string, now: Date, random: () => number): AttemptResult {
  const previous = lostOwner ? `node ${lostOwner}` : 'its node';
  return attemptResult(ownOutcome('host_error', `lease expired: ${previous} stopped heartbeating`), {
    task,
    node,
    startedAt: now,
    finishedAt: now,
    files: { meta: [], digest: null },
    random,
  });
}
