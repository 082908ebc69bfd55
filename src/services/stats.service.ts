/**
 * Stats for the `stats` query and subscription: status counts from the store (cached for at most
 * one second per tenant, so a hundred dashboards cost one query a second; each exact up to
 * COUNT_EXACT_MAX, past it an estimate, so the read stays flat as the table grows) plus the
 * executor's in-memory cluster figures and this node's pool.
 */
import { TASK_STATUSES, type Principal, type TaskStatus } from '../domain/index.js';
import type { Executor } from '../executor/types.js';
import type { Store } from '../store/index.js';

export const STATS_CACHE_MS = 1000;

/** The `stats` query's answer, for the caller's tenant. */
export interface StatsSnapshot {
  /** exact false: `count` is an estimate past COUNT_EXACT_MAX. */
  byStatus: { status: TaskStatus; count: number; exact: boolean }[];
  /** QUEUED + RETRYING. */
  queueDepth: number;
  running: number;
  throughputPerSec: number;
  throughputSeries: number[];
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
  workers: number;
  busyWorkers: number;
  utilisation: number;
  /** This node's worker pool. */
  pool: ReturnType<Executor['pool']>;
  node: string;
  at: Date;
}

export interface StatsService {
  /** Any role may read its tenant's stats. */
  snapshot(caller: Principal): Promise<StatsSnapshot>;
  /** Status counts (cached ≤ 1 s), also used by /metrics. */
  counts(tenantId: string | null): Promise<Record<TaskStatus, number>>;
  /** The tenant's unfinished tasks (cached ≤ 1 s), for quotas on the submit path: no full count per tenant. */
  active(tenantId: string): Promise<{ waiting: number; running: number }>;
}

/** `load` per tenant, each answer kept STATS_CACHE_MS; a failed one is not kept (the next caller tries again). */
function cached<K extends string | null, T>(load: (tenantId: K) => Promise<T>): (tenantId: K) => Promise<T> {
  const cache = new Map<string, { at: number; value: Promise<T> }>();
  return (tenantId) => {
    const key = tenantId ?? '*';
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < STATS_CACHE_MS) return hit.value;
    // Expired entries of idle tenants go when the map grows, so it stays about the active tenants.
    if (cache.size > 10_000) for (const [k, e] of cache) if (now - e.at >= STATS_CACHE_MS) cache.delete(k);
    const entry = { at: now, value: load(tenantId) };
    entry.value.catch(() => cache.get(key) === entry && cache.delete(key));
    cache.set(key, entry);
    return entry.value;
  };
}

export function makeStatsService(deps: { store: Store; executor: Executor; node: string; countExactMax: number }): StatsService {
  const byStatusOf = cached((tenantId: string | null) => deps.store.tasks.countByStatus(tenantId, deps.countExactMax));
  const counts = async (tenantId: string | null) =>
    Object.fromEntries(Object.entries(await byStatusOf(tenantId)).map(([s, c]) => [s, c.count])) as Record<TaskStatus, number>;
  const active = cached((tenantId: string) => deps.store.tasks.countActive(tenantId));

  return {
    counts,
    active,
    async snapshot(caller) {
      const counted = await byStatusOf(caller.tenantId);
      const byStatus = (status: TaskStatus) => counted[status]?.count ?? 0;
      const cluster = deps.executor.stats();
      const pool = deps.executor.pool();
      const workers = cluster.workers > 0 ? cluster.workers : pool.workers;
      const busyWorkers = cluster.workers > 0 ? cluster.busyWorkers : pool.busy;
      return {
        byStatus: TASK_STATUSES.map((status) => ({ status, count: byStatus(status), exact: counted[status]?.exact ?? true })),
        queueDepth: byStatus('QUEUED') + byStatus('RETRYING'),
        running: byStatus('RUNNING'),
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
