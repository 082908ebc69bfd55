/**
 * One run of a task on this node, from its claim to its recorded result. Shared by runs.ts (which
 * starts and completes runs), claim-on-insert.ts (runs that start before their row is written) and
 * the leases (which renew, mark RUNNING and detect loss).
 */
import type { AttemptResult, TaskRow } from '../store/types.js';
import { Abort } from './abort.js';
import type { AttemptSpans } from './traces.js';

export interface Run {
  /** The task as claimed: still QUEUED/RETRYING in the database until the run is marked. */
  task: TaskRow;
  /** The attempt this run is (the claimed row's attempts + 1). */
  n: number;
  abort: Abort;
  /** When a worker took it up (the runtime's onStart); null while it is only claimed. */
  startedAt: Date | null;
  /** Its task is RUNNING in the database with attempt n (a heartbeat marked it, or it was inserted so). */
  marked: boolean;
  /** A heartbeat marking it is in flight; its result waits for it, so RUNNING is announced once, first. */
  marking: Promise<void> | null;
  /**
   * Not recorded: set by stop() (the task goes back to the queue), or when this node claims the
   * task again for the same attempt number while this run still winds down (cancel + retry in
   * quick succession, or a claimed task given back after its lease expired): its result could
   * not be told from the new run's.
   */
  released: boolean;
  /** A heartbeat found the task no longer this node's (taken over, cancelled, gone): the run was stopped. */
  lost: boolean;
  /** Its outcome is in: nothing is left to mark (its result's write does that, if it is written). */
  ended: boolean;
  done: Promise<void>;
  /**
   * Claim-on-insert: the run started before its row was written. Resolves once the insert is
   * done: true when the result is still to be written (the row went in claimed or RUNNING), false
   * when it went in with the row or the insert failed.
   */
  written: Promise<boolean> | null;
  /** Claim-on-insert: its row is not written yet (no heartbeat may look for it). */
  inserting: boolean;
  /** Claim-on-insert: the result, once the run ended (read by the insert waiting for it). */
  result?: AttemptResult;
  onResult?: () => void;
  /** Its spans, when traces are on. */
  spans?: AttemptSpans;
}

export function makeRun(task: TaskRow, written: Promise<boolean> | null): Run {
  return {
    task,
    n: task.attempts + 1,
    abort: new Abort(),
    startedAt: null,
    marked: false,
    marking: null,
    released: false,
    lost: false,
    ended: false,
    done: Promise.resolve(),
    written,
    inserting: written !== null,
  };
}
