/**
 * The claim while running-task caps are in force (QUOTA_RUNNING_TASKS or a tenant override): no
 * tenant holds more tasks than its cap on the whole cluster, and a tenant at its cap does not hold
 * up the others. Without caps the queue's plain claim runs instead (queue.ts), unchanged.
 *
 * What counts against the cap is every task a node holds: claimed (prefetched for a worker, still
 * QUEUED/RETRYING) or RUNNING. Counting only RUNNING would let a node prefetch past the cap, and
 * its workers would then run them all.
 *
 * Strictness: every capped claim, on any node, holds one transaction-level advisory lock (per
 * schema) while it counts and claims. The lock is taken in a statement of its own before the
 * claim: in READ COMMITTED a statement's snapshot is taken when the statement starts, so the claim
 * sees every lease an earlier holder committed. Tasks only become held through claims
 * (claim-on-insert is off for capped tenants; lease recovery keeps a RUNNING task held and gives
 * a claimed one back), so counts cannot be passed. Finishing tasks concurrently only frees slots.
 * The serialisation costs throughput, which is why the plain claim stays the default.
 */
import type { Sql } from './db.js';
import { toTaskRow, type TaskRecord } from './map.js';
import { byClaimOrder, CLAIM_ORDER, CLAIMABLE, HELD, T } from './queue.js';
import type { TaskRow } from './types.js';

/** task_tenant_claim_idx's order: the skip scan and the per-tenant reads follow it, so no other index can serve them. */
const TENANT_ORDER = `t.tenant_id, ${CLAIM_ORDER}`;

/** Held by every capped claim, tenant-capped or agent-controlled (agent-claim.ts), on any node. */
export const CAPPED_CLAIM_LOCK = `SELECT pg_advisory_xact_lock(hashtext('spindle:capped-claim:' || current_schema()))`;

// $1 node, $2 limit, $3 lease ms, $4 the default cap (0 = none).
// 1. waiting: the tenants with claimable tasks, by a skip scan of task_tenant_claim_idx (one probe each).
// 2. held: every tenant's held tasks (claimed or RUNNING), in one pass over task_lease_idx: few rows
//    (what the nodes hold), counted once rather than once per waiting tenant.
// 3. room: each waiting tenant's free slots, its cap minus what it holds; uncapped tenants may fill
//    the whole batch. MATERIALIZED: computed once, not again inside the LIMIT below.
// 4. picked: per tenant, its first `free` due tasks in claim order (task_tenant_claim_idx), so
//    a tenant at its cap costs one probe, never a scan of its queue.
// 5. the batch: the first $2 of those in the global claim order. Candidates are not locked (the
//    advisory lock already keeps capped claims apart); the UPDATE re-checks each row, so a task
//    cancelled meanwhile, or claimed by a node whose cache has not seen a new cap yet (at most
//    CAPS_CACHE_MS, see caps.ts), is skipped.
const CAPPED_CLAIM = `
WITH RECURSIVE waiting AS (
  (SELECT t.tenant_id FROM task t WHERE ${CLAIMABLE} ORDER BY ${TENANT_ORDER} LIMIT 1)
  UNION ALL
  SELECT n.tenant_id FROM waiting w, LATERAL (
    SELECT t.tenant_id FROM task t WHERE ${CLAIMABLE} AND t.tenant_id > w.tenant_id ORDER BY ${TENANT_ORDER} LIMIT 1) n
), held AS MATERIALIZED (
  SELECT t.tenant_id, count(*) AS n FROM task t WHERE ${HELD} GROUP BY t.tenant_id
), room AS MATERIALIZED (
  SELECT w.tenant_id,
         CASE WHEN COALESCE(tn.quota_running_tasks, $4::int) <= 0 THEN $2::int
              ELSE COALESCE(tn.quota_running_tasks, $4::int) - COALESCE(h.n, 0)
         END AS free
    FROM waiting w JOIN tenant tn ON tn.id = w.tenant_id LEFT JOIN held h ON h.tenant_id = w.tenant_id
), picked AS (
  SELECT p.* FROM room, LATERAL (
    SELECT t.id, t.priority, t.queued_at FROM task t
     WHERE t.tenant_id = room.tenant_id AND ${CLAIMABLE} AND t.run_at <= now()
     ORDER BY ${TENANT_ORDER}
     LIMIT GREATEST(LEAST(room.free, $2::int), 0)) p
   WHERE room.free > 0
)
UPDATE task AS t
   SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3::int / 1000.0)
  FROM (SELECT id FROM picked t ORDER BY ${CLAIM_ORDER} LIMIT $2::int) AS c
 WHERE t.id = c.id AND ${CLAIMABLE}
RETURNING ${T}`;

export async function claimCapped(sql: Sql, node: string, limit: number, leaseMs: number, defaultCap: number): Promise<TaskRow[]> {
  const rows = await sql.transaction(async (query) => {
    await query(CAPPED_CLAIM_LOCK);
    return query<TaskRecord>(CAPPED_CLAIM, [node, limit, leaseMs, defaultCap]);
  });
  return rows.map(toTaskRow).sort(byClaimOrder);
}
