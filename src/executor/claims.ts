/**
 * Wake-ups and the claim loop. Whatever may have made work runnable (a local submit, another
 * node's NOTIFY, a due retry or delayed task, the slow poll, a freed slot) wakes the loop, which
 * claims batches until the node holds `limit` runs or a claim comes back short. A claimed task is
 * only leased: RUNNING is announced once a worker has begun it (leases.ts). Delayed work shares one
 * timer (wakeup.ts), armed by the runAt this node knows of and by a nextRunAt probe for the rest.
 */
import type { TaskRow } from '../store/index.js';
import { limit, track, type NodeState } from './node.js';
import type { Run } from './run.js';
import { makeWakeup } from './wakeup.js';

export type Claims = ReturnType<typeof makeClaims>;

/** `startRun` begins the run of a task just claimed (runs.ts). */
export function makeClaims(s: NodeState, startRun: (task: TaskRow) => Run) {
  const { store, node, claimBatch, leaseMs, runningTasksCap, logger } = s.options;
  /** A wake-up came while the loop was claiming: claim once more even if that claim came back short. */
  let again = false;
  /** One probe at a time: while the database hangs, polls must not queue one a second in the executor's lane. */
  let probing: Promise<void> | null = null;
  const delayed = makeWakeup(wake);

  function wake() {
    s.maybeWork = true;
    if (!s.started || s.stopping) return;
    if (s.claiming) again = true;
    else track(s, claimLoop());
  }

  async function claimLoop() {
    s.claiming = true;
    try {
      while (!s.stopping) {
        again = false;
        const want = Math.min(claimBatch, limit(s) - s.inflight.size);
        if (want <= 0) break;
        const tasks = await store.tasks.claim(node, want, leaseMs, runningTasksCap);
        if (s.stopping) {
          // stop() began while the claim was in flight: hand these straight back.
          if (tasks.length > 0) await store.tasks.release(node, tasks.map((t) => t.id));
          break;
        }
        // No event: the tasks are only leased; RUNNING is announced once a worker has begun them.
        for (const task of tasks) startRun(task);
        if (tasks.length < want && !again) {
          s.maybeWork = false;
          break;
        }
      }
    } catch (err) {
      logger.error({ err }, 'executor: claim failed; the next poll retries');
    } finally {
      s.claiming = false;
    }
  }

  /**
   * A run left `inflight`. Its slot triggers a claim only once a quarter of the limit is free, so
   * claims stay batched under load (the runtime still has queued work meanwhile); submits and
   * wake-ups claim at once.
   */
  function slotFreed() {
    if (!s.maybeWork || s.claiming || s.stopping) return;
    const room = limit(s);
    const free = room - s.inflight.size;
    if (free > 0 && free >= Math.floor(room / 4)) track(s, claimLoop());
  }

  /** Arms the wake-up for the earliest delayed task in the queue (other nodes' included). */
  function pollDelayed(): Promise<void> {
    return (probing ??= store.tasks
      .nextRunAt()
      .then(
        (next) => void (next && delayed.at(next)),
        (err: unknown) => logger.warn({ err }, 'executor: nextRunAt failed'),
      )
      .finally(() => (probing = null)));
  }

  return {
    wake,
    /** Makes sure the loop wakes at (or just after) `when`: a delayed task or a retry's backoff. */
    wakeAt: (when: Date) => delayed.at(when),
    slotFreed,
    pollDelayed,
    /** No more delayed wake-ups (stop). */
    clearWakeups: () => delayed.clear(),
  };
}
