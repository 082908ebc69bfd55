/**
 * Agent resolution for the submit path, cached per node: every submitTask names an agent (id or
 * name) and usually its latest version, and looking both up costs two queries per request.
 *
 * - Agent by id/name and its latest version: kept at most AGENT_CACHE_MS (1 s). Another node's
 *   registerAgent/deleteAgent shows here within that second; this node's own are immediate
 *   (`invalidate`, called by the agent mutations). Not-found answers are cached the same way.
 * - An explicit version (agent id, n): versions are immutable, so a found one is kept without
 *   TTL; a missing one is not cached (it may be registered next).
 * Keys are scoped by tenant (an agent id is only ever looked up within its tenant). Each map is
 * bounded: when full it is cleared, so a flood of unknown names costs queries, never memory.
 */
import { isUuid } from '../domain/index.js';
import type { AgentRow, AgentVersionRow, Store } from '../store/index.js';

export const AGENT_CACHE_MS = 1000;
const MAX_ENTRIES = 10_000;

export interface AgentCache {
  /** The agent by id or name in the tenant (id first, like AgentService.find), or null. */
  find(tenantId: string, idOrName: string): Promise<AgentRow | null>;
  /** Version `n` of the agent, or its latest when n is absent; null when there is none. */
  version(tenantId: string, agentId: string, n?: number): Promise<AgentVersionRow | null>;
  /** Forgets everything cached for the tenant (after registerAgent / deleteAgent on this node). */
  invalidate(tenantId: string): void;
}

interface Entry<T> {
  at: number;
  value: Promise<T>;
}

export function makeAgentCache(store: Store, now: () => number = Date.now): AgentCache {
  // tenant → key → entry, so invalidating a tenant is one delete.
  const fresh = new Map<string, Map<string, Entry<AgentRow | null> | Entry<AgentVersionRow | null>>>();
  const versions = new Map<string, AgentVersionRow>();
  let size = 0;

  function cached<T>(tenantId: string, key: string, load: () => Promise<T>): Promise<T> {
    let byKey = fresh.get(tenantId);
    const hit = byKey?.get(key) as Entry<T> | undefined;
    const t = now();
    if (hit && t - hit.at < AGENT_CACHE_MS) return hit.value;
    if (size >= MAX_ENTRIES) {
      fresh.clear();
      size = 0;
      byKey = undefined;
    }
    if (!byKey) fresh.set(tenantId, (byKey = new Map()));
    const entry: Entry<T> = { at: t, value: load() };
    if (!hit) size++;
    byKey.set(key, entry as Entry<AgentRow | null>);
    // A failed lookup is not cached: the next caller tries again.
    const map = byKey;
    entry.value.catch(() => map.get(key) === (entry as unknown) && map.delete(key));
    return entry.value;
  }

  return {
    find(tenantId, idOrName) {
      return cached(tenantId, `a:${idOrName}`, async () => {
        const { agents } = store;
        if (isUuid(idOrName)) return (await agents.get(tenantId, idOrName.toLowerCase())) ?? agents.getByName(tenantId, idOrName);
        return agents.getByName(tenantId, idOrName);
      });
    },
    async version(tenantId, agentId, n) {
      if (n === undefined) return cached(tenantId, `v:${agentId}`, () => store.agents.version(agentId));
      const key = `${tenantId}:${agentId}@${n}`;
      const hit = versions.get(key);
      if (hit) return hit;
      const v = await store.agents.version(agentId, n);
      if (v) {
        if (versions.size >= MAX_ENTRIES) versions.clear();
        versions.set(key, v);
      }
      return v;
    },
    invalidate(tenantId) {
      const byKey = fresh.get(tenantId);
      if (!byKey) return;
      size -= byKey.size;
      fresh.delete(tenantId);
    },
  };
}
