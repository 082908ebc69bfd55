/**
 * The leases of one node. A claim only leases a task; the heartbeat renews every lease the node
 * holds and, in the same statement, marks the runs that workers have begun RUNNING (attempts + 1,
 * startedAt). A run still going MARK_AFTER_MS after it started is marked by an early heartbeat over
 * every such run (one timer for all of them, none per task); a run that ends first goes claimed →
 * its next state in the finish write instead, so a short task costs no marking write at all.
 *
 * The heartbeat also says which tasks are still this node's: a run whose task was taken over after
 * its lease expired (this node stalled), cancelled, or is gone, is stopped. Its result, if it had
 * started, still goes to the finish, which keeps it as a stale attempt (see store/queue.ts FINISH).
 *
 * A node never has more RUNNING rows than workers: a run that took up the worker of an ended run
 * whose result is still being written is marked only once that write has landed (under load the
 * write can take longer than MARK_AFTER_MS; the run's own result may then take it claimed → ended).
 *
 * Recovery takes over the RUNNING tasks of nodes that stopped heartbeating (their attempt ends as
 * host_error) and gives their claimed, never started tasks back to the queue in their place.
 */
import type { AttemptResult, LeaseState } from '../store/index.js';
import type { NodeState } from './node.js';
import { expiredLeaseResult, taskEvent } from './results.js';
import type { Run } from './run.js';
import type { TaskEvent } from './types.js';

/** A run still going this long after a worker took it up is marked RUNNING by an early heartbeat. */
export const MARK_AFTER_MS = 100;
/**
 * After a failed heartbeat, marking waits MARK_AFTER_MS × 2^(failures - 1), at most heartbeatMs:
 * the oldest unmarked run is past due already, so without a pause the next try would follow on the
 * next turn, hundreds of failed queries (and warnings) a second while the database is down.
 */
const markBackoff = (failures: number, heartbeatMs: number) => Math.min(heartbeatMs, MARK_AFTER_MS * 2 ** (failures - 1));
const RECOVER_BATCH = 100;

export interface LeasesDeps {
  /** Tasks whose results are waiting to be written (their leases must stay alive). */
  pendingIds(): string[];
  /** Queues an attempt result for writing. */
  record(result: AttemptResult): void;
  publish(events: TaskEvent[]): void;
  /** Claimed tasks of a dead node went back to the queue: there is work to claim. */
  requeued(): void;
  /** Leases of these nodes were just taken over (they stopped heartbeating). */
  lost(owners: (string | null)[]): Promise<void>;
}

export type Leases = ReturnType<typeof makeLeases>;

export function makeLeases(state: NodeState, deps: LeasesDeps) {
  // heartbeatMs, the period of the full heartbeat, is also the longest pause of marking after failed heartbeats.
  const { store, node, leaseMs, heartbeatMs, workers, logger, random, observer } = state.options;
  const { inflight, markedUnwritten } = state;
  /** Runs begun but not RUNNING in the database yet, in the order they started. */
  const unmarked = new Set<Run>();
  let markTimer: NodeJS.Timeout | null = null;
  /** One heartbeat at a time; a request meanwhile runs right after it ('all' covers 'marks'). */
  let beating: Promise<void> | null = null;
  let pending: 'all' | 'marks' | null = null;
  let closed = false;
  /** Heartbeats failed in a row, and no marking before `retryAt` (ms) while they fail. */
  let failures = 0;
  let retryAt = 0;
  /** Runs wait for marking until a marked run's result is written (no RUNNING row to spare). */
  let full = false;

  function queue(run: Run) {
    if (run.startedAt === null || run.ended || run.marked || run.inserting || run.lost || run.released) return;
    unmarked.add(run);
    armMarks();
  }

  /** One timer for every unmarked run: due when the oldest has run MARK_AFTER_MS (or the backoff is over). */
  function armMarks() {
    if (markTimer !== null || beating !== null || closed || full) return;
    const oldest = unmarked.values().next().value;
    if (oldest === undefined) return;
    const now = Date.now();
    const delay = Math.max(0, oldest.startedAt!.getTime() + MARK_AFTER_MS - now, retryAt - now);
    markTimer = setTimeout(() => {
      // One more turn before deciding: a timer runs before the I/O phase, so when the event loop
      // has been busy (a long database statement on PGlite's thread), results that workers have
      // already published are still waiting there; their runs have ended and need no marking.
      setImmediate(() => {
        markTimer = null;
        request('marks');
      }).unref();
    }, delay);
    markTimer.unref();
  }

  function request(kind: 'all' | 'marks') {
    if (closed) return;
    if (beating !== null) {
      pending = pending === 'all' || kind === 'all' ? 'all' : 'marks';
      return;
    }
    if (markTimer !== null && kind === 'all') {
      clearTimeout(markTimer); // the full heartbeat marks every begun run
      markTimer = null;
    }
    beating = beat(kind).then((ok) => {
      beating = null;
      failures = ok ? 0 : failures + 1;
      retryAt = ok ? 0 : Date.now() + markBackoff(failures, heartbeatMs);
      // A full heartbeat asked for meanwhile goes now (its period bounds it); marks wait out the backoff.
      const next = ok ? pending : pending === 'all' ? 'all' : null;
      pending = null;
      if (next !== null) request(next);
      else armMarks();
    });
  }

  /** False when the heartbeat failed (the database unreachable, the statement refused). */
  async function beat(kind: 'all' | 'marks'): Promise<boolean> {
    let runs: Run[];
    let marks: Run[];
    if (kind === 'marks') {
      // Runs that have gone half the delay join the oldest: one write for runs that began close together.
      const now = Date.now();
      marks = [...unmarked].filter((r) => now - r.startedAt!.getTime() >= MARK_AFTER_MS / 2);
      runs = marks;
    } else {
      runs = [...inflight.values()].filter((r) => !r.inserting);
      marks = [...unmarked];
    }
    // Room for as many RUNNING rows as there are workers, less those this node holds already.
    let held = markedUnwritten.size;
    for (const r of inflight.values()) if (r.marked) held++;
    const room = Math.max(0, workers - held);
    full = marks.length > room;
    if (full) {
      const deferred = new Set(marks.slice(room));
      marks = marks.slice(0, room);
      if (kind === 'marks') runs = runs.filter((r) => !deferred.has(r));
    }
    const ids = runs.map((r) => r.task.id);
    if (kind === 'all') ids.push(...deps.pendingIds());
    if (ids.length === 0) return true;
    let done!: () => void;
    const marking = new Promise<void>((resolve) => (done = resolve));
    for (const r of marks) r.marking = marking;
    try {
      const started = marks.map((r) => ({ taskId: r.task.id, n: r.n, at: r.startedAt! }));
      const states = await store.tasks.heartbeat(node, ids, leaseMs, started);
      settle(runs, new Map(states.map((s) => [s.id, s])));
      return true;
    } catch (err) {
      logger.warn({ err, tasks: ids.length, failures: failures + 1 }, 'executor: heartbeat failed');
      return false;
    } finally {
      for (const r of marks) if (r.marking === marking) r.marking = null;
      done();
    }
  }

  /** After a heartbeat: announce the runs it marked RUNNING, stop those whose task is no longer ours. */
  function settle(runs: Run[], states: Map<string, LeaseState>) {
    const events: TaskEvent[] = [];
    for (const run of runs) {
      // Ended (its result is on its way and tells the rest), or a newer run of the task took its place.
      if (run.ended || inflight.get(run.task.id) !== run) {
        unmarked.delete(run);
        continue;
      }
      const s = states.get(run.task.id);
      if (!s?.held) {
        lose(run, s);
        continue;
      }
      if (!run.marked && s.status === 'RUNNING' && s.attempts === run.n) {
        run.marked = true;
        unmarked.delete(run);
        events.push(taskEvent({ ...run.task, status: 'RUNNING', attempts: run.n, updatedAt: s.updatedAt }));
      }
    }
    deps.publish(events);
  }

  function lose(run: Run, s: LeaseState | undefined) {
    if (run.lost) return;
    run.lost = true;
    unmarked.delete(run);
    const where = { taskId: run.task.id, tenantId: run.task.tenantId, agentId: run.task.agentId, attempt: run.n, holder: s?.leaseOwner ?? null, status: s?.status ?? null };
    if (s?.status === 'CANCELLED') logger.debug(where, 'executor: the task was cancelled; stopping its run');
    else logger.warn(where, 'executor: this node no longer holds the task (its lease was taken over); stopping its run');
    run.abort.abort();
  }

  /**
   * Takes over the tasks of nodes that stopped heartbeating (never this node's own runs in hand).
   * One recovery at a time: a timer that fires while one is in flight (the database hangs) shares it.
   */
  let recovering: Promise<void> | null = null;
  function recover(): Promise<void> {
    return (recovering ??= recoverAll().finally(() => (recovering = null)));
  }

  async function recoverAll() {
    try {
      for (;;) {
        const keep = [...inflight.keys(), ...deps.pendingIds()];
        const tasks = await store.tasks.reclaimExpired(node, RECOVER_BATCH, leaseMs, keep);
        const now = new Date();
        let requeued = 0;
        for (const task of tasks) {
          if (task.status !== 'RUNNING') {
            requeued++;
            logger.info({ taskId: task.id, tenantId: task.tenantId, agentId: task.agentId, lostNode: task.lostOwner }, 'executor: a claimed task whose lease expired went back to the queue');
            continue;
          }
          logger.warn({ taskId: task.id, tenantId: task.tenantId, agentId: task.agentId, attempt: task.attempts, lostNode: task.lostOwner }, 'executor: recovering a task whose lease expired');
          deps.record(expiredLeaseResult(task, task.lostOwner, node, now, random));
        }
        if (requeued > 0) {
          observer.recovered('requeued', requeued);
          deps.requeued();
        }
        if (tasks.length > requeued) observer.recovered('lost_attempt', tasks.length - requeued);
        await deps.lost(tasks.map((t) => t.lostOwner));
        if (tasks.length < RECOVER_BATCH || state.stopping) break;
      }
    } catch (err) {
      logger.error({ err }, 'executor: lease recovery failed');
    }
  }

  return {
    /** A worker took the run up (the runtime's onStart; repeats are ignored). */
    started(run: Run) {
      if (run.startedAt !== null) return;
      run.startedAt = new Date();
      queue(run);
    },
    /** Claim-on-insert: the run's row is written now (claimed, or RUNNING when `run.marked`). */
    inserted(run: Run) {
      run.inserting = false;
      queue(run);
    },
    /** The run ended: no need to mark it any more (its result's write will). */
    ended(run: Run) {
      run.ended = true;
      unmarked.delete(run);
    },
    /** Results were written: RUNNING rows of marked runs may have ended, making room to mark. */
    written(results: AttemptResult[]) {
      let freed = false;
      for (const r of results) if (markedUnwritten.delete(r)) freed = true;
      if (freed && full) {
        full = false;
        armMarks();
      }
    },
    /** Renews every lease this node holds (and marks every begun run). */
    heartbeat: () => request('all'),
    recover,
    /** Waits for a heartbeat in flight, then stops marking. */
    async close() {
      closed = true;
      if (markTimer !== null) clearTimeout(markTimer);
      markTimer = null;
      while (beating !== null) await beating;
    },
  };
}
