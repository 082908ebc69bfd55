/**
 * Running-task caps and agent controls without a query per claim. The overrides of
 * QUOTA_RUNNING_TASKS (rows only for tenants that have one) and the agents that are paused or have
 * a concurrency limit are cached for CAPS_CACHE_MS; a claim after that waits for one reload, so no
 * node acts on a view older than that. setQuotas, pause, resume and setConcurrencyLimit on this
 * store reload at once; another node's change is seen within CAPS_CACHE_MS.
 */
import type { Sql } from './db.js';
import type { RunningCaps } from './types.js';

export const CAPS_CACHE_MS = 5_000;

export interface RunningCapsCache {
  /** The caps, with `defaultCap` for tenants without an override. */
  get(defaultCap: number): Promise<RunningCaps>;
  /** Reloads now (an override changed). */
  reload(): Promise<void>;
}

export function makeRunningCapsCache(sql: Sql): RunningCapsCache {
  let overrides = new Map<string, number>();
  let anyCapped = false;
  let controlled = new Set<string>();
  let loadedAt = -Infinity;
  let loading: Promise<void> | null = null;
  // Loads may overlap (a reload during a periodic one): only a newer one's answer replaces the cache.
  let started = 0;
  let applied = 0;

  async function load(): Promise<void> {
    const seq = ++started;
    const at = Date.now();
    // One round trip for both: the tenants with an override, and the agents paused or limited (cap null).
    const rows = await sql.query<{ id: string; cap: number | null }>(
      `SELECT id, quota_running_tasks AS cap FROM tenant WHERE quota_running_tasks IS NOT NULL
       UNION ALL
       SELECT id, NULL FROM agent WHERE paused OR concurrency_limit IS NOT NULL`,
    );
    if (seq < applied) return;
    applied = seq;
    const tenants = rows.filter((r) => r.cap !== null);
    overrides = new Map(tenants.map((r) => [r.id, Number(r.cap)]));
    anyCapped = tenants.some((r) => Number(r.cap) > 0);
    controlled = new Set(rows.filter((r) => r.cap === null).map((r) => r.id));
    loadedAt = at;
  }

  return {
    async get(defaultCap) {
      if (Date.now() - loadedAt >= CAPS_CACHE_MS) await (loading ??= load().finally(() => (loading = null)));
      const current = overrides;
      const agents = controlled;
      return {
        inForce: defaultCap > 0 || anyCapped,
        of: (tenantId) => current.get(tenantId) ?? defaultCap,
        agentsInForce: agents.size > 0,
        controls: (agentId) => agents.has(agentId),
      };
    },
    reload: load,
  };
}
