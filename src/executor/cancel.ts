/**
 * Cancel: the store cancels the task (queued or running), this node publishes CANCELLED and stops
 * its own run of it, and TASK_CANCEL on the bus tells every node to stop theirs (`preempt`), so
 * a running task is pre-empted wherever it runs. The stopped run's attempt is still recorded
 * (runs.ts: 'cancelled'); a run a worker had not begun yet leaves no attempt.
 */
import type { NodeState } from './node.js';
import { taskEvent } from './results.js';
import type { TaskEvent } from './types.js';

export function makeCancel(s: NodeState, publish: (events: TaskEvent[]) => void) {
  const { store, bus } = s.options;

  /** Stops this node's runs of these tasks (TASK_CANCEL, from any node). */
  function preempt(ids: string[]) {
    for (const id of ids) s.inflight.get(id)?.abort.abort();
  }

  async function cancel(tenantId: string, id: string) {
    const row = await store.tasks.cancel(tenantId, id);
    if (row?.status === 'CANCELLED') {
      publish([taskEvent(row)]);
      s.inflight.get(id)?.abort.abort();
      bus.pubsub.publish('TASK_CANCEL', [id]);
    }
    return row;
  }

  /** A batch in one write and one publish; only the leased ones (claimed or running on some node) go out on TASK_CANCEL. */
  async function cancelMany(tenantId: string, ids: string[]) {
    const rows = await store.tasks.cancelMany(tenantId, ids);
    publish(rows.map(taskEvent));
    const leased = rows.filter((r) => r.leaseOwner !== null).map((r) => r.id);
    if (leased.length > 0) {
      preempt(leased);
      bus.pubsub.publish('TASK_CANCEL', leased);
    }
    return rows.length;
  }

  return { cancel, cancelMany, preempt };
}
