/**
 * The durable queue as the executor and the API see it. The hot statements live in queue.ts;
 * reads for the API (get, list, counts, attempts) use the Prisma client.
 *
 * Which lane each statement takes (db.ts): the executor's statements (claim, reclaimExpired,
 * heartbeat, finish, release, nextRunAt, finishedBetween, ANALYZE) go through `sql`; a submit's insert and its
 * idempotency lookups through `sql.queryStable`; everything an API request asks (Prisma reads,
 * cancel, retry, the bulk actions of task-actions.ts) through the API lane, `prisma` and `apiQuery`.
 */
import type { Prisma, Query, Sql } from './db.js';
import { isUuid } from './ids.js';
import { attemptColumns, toAttemptRow, toTaskRow, type AttemptRecord, type TaskRecord } from './map.js';
import { claimControlled } from './agent-claim.js';
import { claimCapped } from './capped-claim.js';
import type { RunningCapsCache } from './caps.js';
import { makeQueueStatements, T } from './queue.js';
import { filterSql, makeTaskCounts } from './task-count.js';
import { afterSql, orderBySql } from './task-order.js';
import { CANCEL_SET, CANCELLABLE, makeTaskActions, RETRY_SET, RETRYABLE } from './task-actions.js';
import { DEFAULT_TASK_ORDER, type Page, type TaskCursor, type TaskEnd, type TaskFilter, type TaskRepository, type TaskRow } from './types.js';

const A = attemptColumns('a');

export function makeTaskRepository(
  prisma: Prisma,
  sql: Sql,
  apiQuery: Query,
  caps: RunningCapsCache,
  onError: (err: Error) => void = () => {},
): TaskRepository {
  const queue = makeQueueStatements(sql, onError);
  const { insertBatch } = queue;
  const rowsOf = (query: Query) => async (text: string, ...params: unknown[]) => (await query<TaskRecord>(text, params)).map(toTaskRow);
  /** Submits' lookups, beside their inserts. */
  const submitRaw = rowsOf(sql.queryStable);
  /** API requests' raw statements: cancel, retry. */
  const apiRaw = rowsOf(apiQuery);
  const actions = makeTaskActions(apiQuery);
  const counts = makeTaskCounts(apiQuery);

  return {
    async claim(node, limit, leaseMs, defaultRunningCap = 0) {
      // Without caps or agent controls in force: the queue's plain one-statement claim, no extra round trip.
      const inForce = await caps.get(defaultRunningCap);
      if (inForce.agentsInForce) return claimControlled(sql, node, limit, leaseMs, defaultRunningCap);
      if (!inForce.inForce) return queue.claim(node, limit, leaseMs);
      return claimCapped(sql, node, limit, leaseMs, defaultRunningCap);
    },
    runningCaps: (defaultRunningCap) => caps.get(defaultRunningCap),
    reclaimExpired: queue.reclaimExpired,
    heartbeat: queue.heartbeat,
    finish: queue.finish,
    release: queue.release,
    nextRunAt: queue.nextRunAt,

    async insertMany(tasks, claimFor) {
      if (tasks.length === 0) return [];
      const result = (await insertBatch(tasks, claimFor)).map((task) => task && { task, created: true });
      // The rest conflicted on (tenant_id, idempotency_key): with an older row or an earlier one in this batch.
      let missing = tasks.map((t, i) => (result[i] ? -1 : i)).filter((i) => i >= 0);
      for (let round = 0; missing.length > 0; round++) {
        if (round === 3) throw new Error('insertMany: idempotency key conflicts did not settle');
        const found = await submitRaw(
          `SELECT ${T} FROM task t JOIN unnest($1::uuid[], $2::text[]) AS k(tenant_id, key)
             ON t.tenant_id = k.tenant_id AND t.idempotency_key = k.key`,
          missing.map((i) => tasks[i]!.tenantId),
          missing.map((i) => tasks[i]!.idempotencyKey),
        );
        const byKey = new Map(found.map((r) => [`${r.tenantId}\u0000${r.idempotencyKey}`, r]));
        const stillMissing: number[] = [];
        for (const i of missing) {
          const row = byKey.get(`${tasks[i]!.tenantId}\u0000${tasks[i]!.idempotencyKey}`);
          if (row) result[i] = { task: row, created: false };
          else stillMissing.push(i);
        }
        // A conflicting row that vanished (its transaction rolled back): insert those again.
        if (stillMissing.length > 0) {
          const again = await insertBatch(stillMissing.map((i) => tasks[i]!), claimFor);
          stillMissing.forEach((i, j) => {
            const task = again[j];
            if (task) result[i] = { task, created: true };
          });
        }
        missing = stillMissing.filter((i) => !result[i]);
      }
      return result as { task: TaskRow; created: boolean }[];
    },

    async cancel(tenantId, id) {
      if (!isUuid(id)) return null;
      return one(await changeOne(CANCEL_SET, CANCELLABLE, tenantId, id));
    },

    async retry(tenantId, id) {
      if (!isUuid(id)) return null;
      return one(await changeOne(RETRY_SET, RETRYABLE, tenantId, id));
    },

    selectForAction: actions.select,
    cancelMany: actions.cancelMany,
    retryMany: actions.retryMany,
    deleteMany: actions.deleteMany,

    async get(tenantId, id) {
      if (!isUuid(id)) return null;
      const t = await prisma.task.findFirst({ where: { id, tenantId } });
      return t && toTaskRow(t);
    },

    async getMany(ids) {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return [];
      return (await prisma.task.findMany({ where: { id: { in: valid } } })).map(toTaskRow);
    },

    async list(tenantId, filter, first, after, order) {
      if (filter.agentId !== undefined && !isUuid(filter.agentId)) return { rows: [], hasNextPage: false };
      const { text, params } = listStatement(tenantId, filter, first, after, order);
      const rows = await apiRaw(text, ...params);
      return { rows: rows.slice(0, first), hasNextPage: rows.length > first } satisfies Page<TaskRow>;
    },

    async count(tenantId, filter, cap) {
      if (filter.agentId !== undefined && !isUuid(filter.agentId)) return { count: 0, exact: true };
      return counts.count(tenantId, filter, cap);
    },

    async attempts(taskId) {
      if (!isUuid(taskId)) return [];
      // Two halves, each read from its partial index (the unique one on (task_id, n) WHERE NOT stale,
      // task_attempt_stale_idx): a plain "WHERE task_id = $1" could use neither.
      const rows = await apiQuery<AttemptRecord>(
        `SELECT * FROM (
           SELECT ${A} FROM task_attempt a WHERE a.task_id = $1 AND NOT a.stale
           UNION ALL
           SELECT ${A} FROM task_attempt a WHERE a.task_id = $1 AND a.stale
         ) a ORDER BY a.n, a.stale DESC, a."startedAt"`,
        [taskId],
      );
      return rows.map(toAttemptRow);
    },

    async countActive(tenantId) {
      const groups = await prisma.task.groupBy({
        by: ['status'],
        where: { tenantId, status: { in: ['QUEUED', 'RETRYING', 'RUNNING'] } },
        _count: { _all: true },
      });
      let waiting = 0;
      let running = 0;
      for (const g of groups) {
        if (g.status === 'RUNNING') running += g._count._all;
        else waiting += g._count._all;
      }
      return { waiting, running };
    },

    async finishedBetween(since, until, limit, { after, node, newestFirst = false } = {}) {
      const params: unknown[] = [since, until, limit];
      const arg = (v: unknown) => `$${params.push(v)}`;
      const dir = newestFirst ? 'DESC' : 'ASC';
      // Keyset: rows past the cursor in the reading direction, read off task_finished_idx (finished_at, id).
      const page = after ? `AND (t.finished_at, t.id) ${newestFirst ? '<' : '>'} (${arg(after.finishedAt)}::timestamptz, ${arg(after.id)}::uuid)` : '';
      const by = node === undefined ? '' : `AND EXISTS (SELECT 1 FROM task_attempt a
             WHERE a.task_id = t.id AND a.n = t.attempts AND NOT a.stale AND a.node = ${arg(node)})`;
      const rows = await sql.query<TaskEnd>(
        `SELECT t.id, t.tenant_id AS "tenantId", t.agent_id AS "agentId", t.status, t.attempts, t.last_outcome AS "lastOutcome",
                t.exit_code AS "exitCode", t.updated_at AS "updatedAt", t.finished_at AS "finishedAt"
           FROM task t
          WHERE t.finished_at >= $1 AND t.finished_at <= $2 AND t.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') ${page} ${by}
          ORDER BY t.finished_at ${dir}, t.id ${dir}
          LIMIT $3`,
        params,
      );
      return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }));
    },

    countByStatus: counts.countByStatus,
  };

  /** Applies `set` to one task when `when` holds; returns the row after, changed or not ([] when absent). */
  function changeOne(set: string, when: string, tenantId: string, id: string) {
    return apiRaw(
      `WITH changed AS (
         UPDATE task AS t SET ${set} WHERE t.tenant_id = $1 AND t.id = $2 AND ${when} RETURNING ${T}
       )
       SELECT * FROM changed
       UNION ALL
       SELECT ${T} FROM task t WHERE t.tenant_id = $1 AND t.id = $2 AND NOT EXISTS (SELECT 1 FROM changed)`,
      tenantId,
      id,
    );
  }
}

const one = (rows: TaskRow[]) => rows[0] ?? null;

/** TaskRepository.list's statement: a page and one row more (there is a next page when it comes back). */
export function listStatement(tenantId: string, filter: TaskFilter, first: number, after?: TaskCursor, order = DEFAULT_TASK_ORDER): { text: string; params: unknown[] } {
  const params: unknown[] = [tenantId];
  const where = [filterSql(filter, params)];
  if (after) where.push(afterSql(order, after, params));
  return { text: `SELECT ${T} FROM task t WHERE ${where.join(' AND ')} ORDER BY ${orderBySql(order)} LIMIT ${first + 1}`, params };
}
