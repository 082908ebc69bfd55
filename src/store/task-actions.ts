/**
 * What cancel, retry and delete change, for one task (tasks.ts: cancel, retry) and in bulk
 * (cancelTasks, retryTasks, deleteTasks). A bulk call reads its selection once (`select`), then
 * acts on it in batches of ids, one short statement each in the API lane: no batch holds its rows'
 * locks for longer than its own statement, and the executor's claims and finishes interleave.
 */
import type { TaskStatus } from '../domain/index.js';
import type { Query } from './db.js';
import { isUuid } from './ids.js';
import { toTaskRow, type TaskRecord } from './map.js';
import { T } from './queue.js';
import { filterSql } from './task-count.js';
import type { TaskFilter } from './types.js';

// The lease owner stays on a cancelled row: it tells the executor which node to pre-empt, and lets
// that node record the attempt of a run it had started (finish, which keeps this outcome). The
// outcome is the task's end, `cancelled` even with no attempt; the exit code stays the last attempt's.
export const CANCEL_SET = `status = 'CANCELLED', last_outcome = 'cancelled', finished_at = now(), lease_expires_at = NULL, updated_at = now()`;
export const CANCELLABLE = `t.status IN ('QUEUED', 'RETRYING', 'RUNNING')`;
// A user's action: back of the queue (queued_at), unlike automatic retries.
export const RETRY_SET = `status = 'QUEUED', run_at = now(), queued_at = now(), attempt_base = t.attempts, finished_at = NULL,
  lease_owner = NULL, lease_expires_at = NULL, updated_at = now()`;
export const RETRYABLE = `t.status IN ('FAILED', 'CANCELLED')`;

/**
 * One batch of deletes: the ended tasks among the ids (a row another statement holds is skipped,
 * not waited for, and named in `busy`), with their attempts. Attempts go in a CTE of their own,
 * as in the retention sweep (retention.ts), so the statement returns the file bundles they named;
 * their delete trigger keeps the task_bytes ledger right.
 */
const DELETE = `
WITH ended AS (
  SELECT t.id FROM task t
  WHERE t.tenant_id = $1 AND t.id = ANY($2::uuid[]) AND t.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
), doomed AS (
  SELECT t.id FROM task t
  WHERE t.tenant_id = $1 AND t.id = ANY($2::uuid[]) AND t.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
  FOR UPDATE SKIP LOCKED
), attempts AS (
  DELETE FROM task_attempt a USING doomed d WHERE a.task_id = d.id
  RETURNING a.files_digest
), tasks AS (
  DELETE FROM task t USING doomed d WHERE t.id = d.id
  RETURNING t.id, t.files_digest
)
SELECT ARRAY(SELECT id::text FROM tasks) AS ids,
       ARRAY(SELECT id::text FROM ended EXCEPT SELECT id::text FROM doomed) AS busy,
       ARRAY(SELECT files_digest FROM tasks WHERE files_digest IS NOT NULL
             UNION SELECT files_digest FROM attempts WHERE files_digest IS NOT NULL) AS digests`;

export function makeTaskActions(apiQuery: Query) {
  const changeMany = async (set: string, when: string, tenantId: string, ids: string[]) => {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const rows = await apiQuery<TaskRecord>(
      `UPDATE task AS t SET ${set} WHERE t.tenant_id = $1 AND t.id = ANY($2::uuid[]) AND ${when} RETURNING ${T}`,
      [tenantId, valid],
    );
    return rows.map(toTaskRow);
  };

  return {
    async select(tenantId: string, filter: TaskFilter, statuses: readonly TaskStatus[], limit: number) {
      if (statuses.length === 0 || (filter.agentId !== undefined && !isUuid(filter.agentId))) return { ids: [], total: 0 };
      const params: unknown[] = [tenantId];
      const where = filterSql({ ...filter, status: [...statuses] }, params);
      // The window count is taken before LIMIT: every matching task, so the caller learns what is left.
      const rows = await apiQuery<{ id: string; total: number | string }>(
        `SELECT t.id::text AS id, count(*) OVER () AS total FROM task t
          WHERE ${where}
          ORDER BY t.created_at, t.id LIMIT $${params.push(limit)}`,
        params,
      );
      return { ids: rows.map((r) => r.id), total: Number(rows[0]?.total ?? 0) };
    },
    cancelMany: (tenantId: string, ids: string[]) => changeMany(CANCEL_SET, CANCELLABLE, tenantId, ids),
    retryMany: (tenantId: string, ids: string[]) => changeMany(RETRY_SET, RETRYABLE, tenantId, ids),
    async deleteMany(tenantId: string, ids: string[]) {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return { ids: [], busy: [], digests: [] };
      const [row] = await apiQuery<{ ids: string[]; busy: string[]; digests: string[] }>(DELETE, [tenantId, valid]);
      return { ids: row!.ids, busy: row!.busy, digests: row!.digests };
    },
  };
}
