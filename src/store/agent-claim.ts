/**
 * The claim while any agent is paused or has a concurrency limit (the user's controls of an agent):
 * a paused agent's tasks are not claimed, and no agent holds more tasks than its limit on the whole
 * cluster; running-task caps per tenant (capped-claim.ts) hold as well. Without agent controls the
 * tenant-capped claim or the queue's plain one runs instead, unchanged.
 *
 * What counts against a limit is every task a node holds, claimed (prefetched for a worker, still
 * QUEUED/RETRYING) or RUNNING, as for the tenant caps. Strictness is theirs too: the statement runs
 * under the same transaction-level advisory lock as the tenant-capped claim, so counts read by one
 * claim include every lease an earlier one committed. Claim-on-insert never takes a controlled
 * agent's tasks (claim-on-insert.ts), lease recovery only keeps or gives back.
 *
 * The one window: a node whose cache (caps.ts) has not seen an agent paused or limited yet, at
 * most CAPS_CACHE_MS after another node changed it, still claims with the plain statement.
 */
import type { Sql } from './db.js';
import { CAPPED_CLAIM_LOCK } from './capped-claim.js';
import { toTaskRow, type TaskRecord } from './map.js';
import { byClaimOrder, CLAIM_ORDER, CLAIMABLE, HELD, T } from './queue.js';
import type { TaskRow } from './types.js';

/** task_agent_claim_idx's order: the skip scan and the per-agent reads follow it. */
const AGENT_ORDER = `t.agent_id, ${CLAIM_ORDER}`;

// $1 node, $2 limit, $3 lease ms, $4 the default tenant cap (0 = none).
// 1. waiting: the agents with claimable tasks, by a skip scan of task_agent_claim_idx (one probe each).
// 2. held: held tasks (claimed or RUNNING) per agent and per tenant, in one pass over task_lease_idx.
// 3. room: each waiting agent's free slots: none while paused, its limit minus what it holds, or the
//    whole batch without a limit.
// 4. picked: per agent, its first `free` due tasks in claim order (task_agent_claim_idx), so a paused
//    agent or one at its limit costs one probe, never a scan of its backlog.
// 5. tenant_room: the free slots of the picks' tenants, as in capped-claim.ts.
// 6. ranked: a tenant's picks in claim order, cut at the tenant's free slots.
// 7. the batch: the first $2 in the global claim order; the UPDATE re-checks each row (a task
//    cancelled meanwhile, or claimed by a node with a stale cache, is skipped).
const AGENT_CLAIM = `
WITH RECURSIVE waiting AS (
  (SELECT t.agent_id FROM task t WHERE ${CLAIMABLE} ORDER BY ${AGENT_ORDER} LIMIT 1)
  UNION ALL
  SELECT n.agent_id FROM waiting w, LATERAL (
    SELECT t.agent_id FROM task t WHERE ${CLAIMABLE} AND t.agent_id > w.agent_id ORDER BY ${AGENT_ORDER} LIMIT 1) n
), held AS MATERIALIZED (
  SELECT t.agent_id, t.tenant_id, count(*) AS n FROM task t WHERE ${HELD} GROUP BY t.agent_id, t.tenant_id
), room AS MATERIALIZED (
  SELECT w.agent_id,
         CASE WHEN a.paused THEN 0
              WHEN a.concurrency_limit IS NULL THEN $2::int
              ELSE a.concurrency_limit - COALESCE((SELECT sum(h.n) FROM held h WHERE h.agent_id = w.agent_id), 0)
         END AS free
    FROM waiting w JOIN agent a ON a.id = w.agent_id
), picked AS MATERIALIZED (
  SELECT p.* FROM room, LATERAL (
    SELECT t.id, t.tenant_id, t.priority, t.queued_at FROM task t
     WHERE t.agent_id = room.agent_id AND ${CLAIMABLE} AND t.run_at <= now()
     ORDER BY ${AGENT_ORDER}
     LIMIT GREATEST(LEAST(room.free, $2::int), 0)) p
   WHERE room.free > 0
), tenant_room AS MATERIALIZED (
  SELECT tn.id AS tenant_id,
         CASE WHEN COALESCE(tn.quota_running_tasks, $4::int) <= 0 THEN $2::int
              ELSE COALESCE(tn.quota_running_tasks, $4::int) - COALESCE((SELECT sum(h.n) FROM held h WHERE h.tenant_id = tn.id), 0)
         END AS free
    FROM tenant tn WHERE tn.id IN (SELECT tenant_id FROM picked)
), ranked AS (
  SELECT t.id, t.priority, t.queued_at, tr.free,
         row_number() OVER (PARTITION BY t.tenant_id ORDER BY ${CLAIM_ORDER}) AS k
    FROM picked t JOIN tenant_room tr ON tr.tenant_id = t.tenant_id
)
UPDATE task AS t
   SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3::int / 1000.0)
  FROM (SELECT id FROM ranked t WHERE t.k <= t.free ORDER BY ${CLAIM_ORDER} LIMIT $2::int) AS c
 WHERE t.id = c.id AND ${CLAIMABLE}
RETURNING ${T}`;

export async function claimControlled(sql: Sql, node: string, limit: number, leaseMs: number, defaultCap: number): Promise<TaskRow[]> {
  const rows = await sql.transaction(async (query) => {
    await query(CAPPED_CLAIM_LOCK);
    return query<TaskRecord>(AGENT_CLAIM, [node, limit, leaseMs, defaultCap]);
  });
  return rows.map(toTaskRow).sort(byClaimOrder);
}
