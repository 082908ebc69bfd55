/**
 * stop(): the node drains. Nothing more is claimed or woken up; leases stay alive while runs wind
 * down and results are written. Runs get `graceMs` to end; the rest are aborted and released (their
 * tasks go back to the queue, no attempt recorded). Queued results are flushed, the last stats
 * published; then marking ends and every subscription is dropped.
 */
import type { Claims } from './claims.js';
import type { Finisher } from './finisher.js';
import type { Leases } from './leases.js';
import type { NodeState } from './node.js';

/** How long stop() waits for aborted runs to wind down before releasing them anyway. */
const ABORT_SETTLE_MS = 5_000;
/** How long stop() keeps trying to write queued results. */
const FLUSH_MS = 10_000;

export interface DrainDeps {
  claims: Pick<Claims, 'clearWakeups'>;
  leases: Leases;
  finisher: Finisher;
  /** Publishes this node's stats, the current second included. */
  publishFinalStats(): void;
}

export async function drain(s: NodeState, graceMs: number, { claims, leases, finisher, publishFinalStats }: DrainDeps): Promise<void> {
  const { store, node, logger, heartbeatMs } = s.options;
  s.stopping = true;
  claims.clearWakeups();
  for (const t of s.timers.splice(0)) clearInterval(t);
  // Keep leases alive while runs wind down and results are written.
  const beat = setInterval(leases.heartbeat, heartbeatMs);
  beat.unref();
  try {
    // A claim in flight hands its tasks straight back (see claims.ts); a recovery finishes.
    await settle([...s.background], ABORT_SETTLE_MS);
    await settle([...s.inflight.values()].map((r) => r.done), graceMs);
    const rest = [...s.inflight.values()];
    if (rest.length > 0) {
      for (const run of rest) {
        run.released = true;
        run.abort.abort();
      }
      await settle(rest.map((r) => r.done), ABORT_SETTLE_MS);
      await store.tasks.release(node, rest.map((r) => r.task.id)).catch((err: unknown) => {
        logger.error({ err, tasks: rest.length }, 'executor: releasing tasks failed; their leases will expire');
      });
    }
    if (!(await finisher.flush(FLUSH_MS))) {
      logger.error({ results: finisher.size() }, 'executor: results not written at stop; their leases will expire and recovery will retry them');
      finisher.close();
    }
    if (s.started) publishFinalStats();
  } finally {
    clearInterval(beat);
    await leases.close();
    for (const off of s.unsubscribe.splice(0)) off();
  }
}

/** Waits for all promises or `ms`, whichever comes first. */
async function settle(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
