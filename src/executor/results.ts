/**
 * Pure conversions at the executor's seams: a run's outcome → the attempt row to write, an
 * expired lease → its host_error attempt, a task row → the event that announces its state.
 */
import { SETTLED_STATUSES } from '../domain/index.js';
import { emptyOutcome, type RunOutcome } from '../runtime/index.js';
import type { AttemptResult, TaskRow } from '../store/types.js';
import { nextState } from './retry.js';
import type { TaskEvent } from './types.js';

/** The event announcing a task's current state (outcome and exit code only once an attempt ended). */
export function taskEvent(t: Pick<TaskRow, 'id' | 'tenantId' | 'agentId' | 'status' | 'attempts' | 'lastOutcome' | 'exitCode' | 'updatedAt'>): TaskEvent {
  const settled = SETTLED_STATUSES.has(t.status);
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

export interface AttemptContext {
  task: TaskRow;
  /** The attempt's number (a claimed task's attempts + 1; a recovered RUNNING task's attempts). */
  n: number;
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
    n: c.n,
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
    next: nextState(outcome.kind, outcome.exitCode, task.retryPolicy, c.n - task.attemptBase, c.finishedAt.getTime(), c.random),
  };
}

/**
 * The attempt a dead node left behind: `task` was taken over by `node` (reclaimExpired), its
 * attempt `task.attempts` is recorded as host_error and the retry policy decides what follows.
 */
export function expiredLeaseResult(task: TaskRow, lostOwner: string | null, node: string, now: Date, random: () => number): AttemptResult {
  const previous = lostOwner ? `node ${lostOwner}` : 'its node';
  return attemptResult(emptyOutcome('host_error', `lease expired: ${previous} stopped heartbeating`), {
    task,
    n: task.attempts,
    node,
    startedAt: now,
    finishedAt: now,
    files: { meta: [], digest: null },
    random,
  });
}
