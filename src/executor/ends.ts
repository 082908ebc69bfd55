/**
 * What a written batch of results sets off (the finisher's onWritten): the state changes that took
 * are published (RUNNING first for a run that ended before a heartbeat marked it), late results
 * are logged as kept stale, finished tasks are counted for NODE_STATS, a retry arms the wake-up
 * for its backoff, and tasks of a tenant at its running-task cap wake the claim loop when let go.
 */
import type { AttemptResult, FinishedTask, TaskRow } from '../store/index.js';
import type { NodeState } from './node.js';
import { taskEvent } from './results.js';
import type { TaskEvent } from './types.js';

export interface EndsDeps {
  publish(events: TaskEvent[]): void;
  wake(): void;
  wakeAt(when: Date): void;
}

export function makeEnds(s: NodeState, { publish, wake, wakeAt }: EndsDeps) {
  const { store, runningTasksCap, logger } = s.options;
  const { unannounced, counters } = s;
  // Read once: a success's line is debug, and at full throughput its fields are not even built.
  const debug = logger.isLevelEnabled?.('debug') ?? true;

  /**
   * After a batch of results is written: publish the state changes that took, log the late results
   * kept as stale, count the finished. A rewrite after a lost answer finds some results recorded by
   * the write that seemed to fail (`alreadyWritten`): the task did not move now, but their ends
   * were never published, so they count as written here (a subscriber may hear such an end twice,
   * never not at all).
   */
  function written(results: AttemptResult[], rows: Map<string, FinishedTask>) {
    const events: TaskEvent[] = [];
    for (const r of results) {
      const announce = unannounced.delete(r);
      const row = rows.get(r.taskId);
      if (!row) continue; // the task is gone
      const took = row.alreadyWritten.includes(r.n) || (!row.stale && row.attempts === r.n);
      if (!took) {
        logger.warn(
          { taskId: r.taskId, attempt: r.n, outcome: r.outcome, holder: row.leaseOwner, status: row.status },
          'executor: a result came after this node had lost the task; kept as a stale attempt, the task unchanged',
        );
        continue;
      }
      // Cancelled under us: the attempt is recorded, the state change the event would announce did
      // not happen. Or (a result written before its answer was lost) the task has moved on since:
      // its newer state is announced by whoever moved it.
      if (row.attempts !== r.n || row.status !== r.next.status || row.status === 'CANCELLED') continue;
      if (announce) events.push(taskEvent({ ...row, status: 'RUNNING', updatedAt: r.startedAt }));
      events.push(taskEvent(row));
      ended(r, row);
    }
    publish(events);
    claimIfCapped(events);
  }

  /**
   * Tasks of a capped tenant (QUOTA_RUNNING_TASKS) or of a limited agent were let go: their slots
   * are free in the database only now, after the write. Claim again at once: the claim that found
   * the tenant or agent at its cap came back short and stopped the loop, and the next poll may be a
   * second away.
   */
  function claimIfCapped(events: TaskEvent[]) {
    if (events.length === 0) return;
    store.tasks.runningCaps(runningTasksCap).then(
      (caps) => events.some((e) => (caps.inForce && caps.of(e.tenantId) > 0) || (caps.agentsInForce && caps.controls(e.agentId))) && wake(),
      (err: unknown) => logger.warn({ err }, 'executor: reading running-task caps failed; the next poll claims'),
    );
  }

  /**
   * A written attempt's consequences here: a retry to wake up for, or a finished task to count; and
   * its line (a retry and a failure at info, a success at debug).
   */
  function ended(r: AttemptResult, row: EndedTask) {
    if (r.next.status === 'RETRYING') {
      wakeAt(r.next.runAt);
      logger.info({ ...attemptLine(r, row), runAt: r.next.runAt }, 'task retry scheduled');
      return;
    }
    const finishedAt = row.finishedAt ?? r.finishedAt;
    // From its last queueing (a manual retry queues it anew; an automatic retry keeps its place).
    const ms = finishedAt.getTime() - row.queuedAt.getTime();
    counters.record(Math.floor(finishedAt.getTime() / 1000), ms);
    if (row.status !== 'SUCCEEDED') logger.info({ ...attemptLine(r, row), status: row.status, ms }, 'task finished');
    else if (debug) logger.debug({ ...attemptLine(r, row), status: row.status, ms }, 'task finished');
  }

  return { written, ended };
}

/** What an attempt's end reads of its task: a finish's FinishedTask or a claim-on-insert's row. */
type EndedTask = Pick<TaskRow, 'tenantId' | 'agentId' | 'status' | 'queuedAt' | 'finishedAt'>;

/** What every line about an attempt says. */
const attemptLine = (r: AttemptResult, row: EndedTask) => ({
  taskId: r.taskId,
  tenantId: row.tenantId,
  agentId: row.agentId,
  attempt: r.n,
  outcome: r.outcome,
  exitCode: r.exitCode,
  runMs: r.runMs,
});
