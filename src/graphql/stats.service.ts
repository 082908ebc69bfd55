/**
 * Stats for the `stats` query and subscription: status counts from the store (cached for at most
 * one second per tenant, so a hundred dashboards cost one query a second) plus the executor's
 * in-memory cluster figures and this node's pool.
 */
import { TASK_STATUSES, type TaskStatus } from '../domain/index.js';
import type { Executor } from '../executor/types.js';
import type { Store } from '../store/types.js';
import type { Stats } from './stats.type.js';

export const STATS_CACHE_MS = 1000;

export interface StatsService {
  snapshot(tenantId: string): Promise<Stats>;
  /** Status counts (cached ≤ 1 s), also used by /metrics. */
  counts(tenantId: string | null): Promise<Record<TaskStatus, number>>;
}

export function makeStatsService(deps: { store: Store; executor: Executor; node: string }): StatsService {
  const cache = new Map<string, { at: number; counts: Promise<Record<TaskStatus, number>> }>();

  const counts = (tenantId: string | null) => {
    const key = tenantId ?? '*';
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < STATS_CACHE_MS) return hit.counts;
    const entry = { at: Date.now(), counts: deps.store.tasks.countByStatus(tenantId) };
    // A failed count is not cached: the next caller tries again.
    entry.counts.catch(() => cache.get(key) === entry && cache.delete(key));
    cache.set(key, entry);
    return entry.counts;
  };

  return {
    counts,
    async snapshot(tenantId) {
      const byStatus = await counts(tenantId);
      const cluster = deps.executor.stats();
      const pool = deps.executor.pool();
      const workers = cluster.workers > 0 ? cluster.workers : pool.workers;
      const busyWorkers = cluster.workers > 0 ? cluster.busyWorkers : pool.busy;
      return {
        byStatus: TASK_STATUSES.map((status) => ({ status, count: byStatus[status] ?? 0 })),
        queueDepth: (byStatus.QUEUED ?? 0) + (byStatus.RETRYING ?? 0),
        running: byStatus.RUNNING ?? 0,
        throughputPerSec: cluster.throughputPerSec,
        throughputSeries: cluster.throughputSeries,
        latencyP50Ms: cluster.latencyP50Ms,
        latencyP95Ms: cluster.latencyP95Ms,
        latencyP99Ms: cluster.latencyP99Ms,
        workers,
        busyWorkers,
        utilisation: workers > 0 ? busyWorkers / workers : 0,
        pool,
        node: deps.node,
        at: new Date(),
      };
    },
  };
}
