/**
 * The durable queue as the executor and the API see it. The hot statements live in queue.ts;
 * reads for the API (get, list, counts, attempts) use the Prisma client.
 */
import { badInput, TASK_STATUSES, type TaskStatus } from '../domain/index.js';
import type { Prisma as P } from '../generated/prisma/client.js';
import type { Prisma, Sql } from './db.js';
import { isUuid } from './ids.js';
import { toAttemptRow, toTaskRow } from './map.js';
import { claimCapped } from './capped-claim.js';
import type { RunningCapsCache } from './caps.js';
import { makeQueueStatements, T } from './queue.js';
import type { Page, TaskFilter, TaskRepository, TaskRow } from './types.js';

export function makeTaskRepository(prisma: Prisma, sql: Sql, caps: RunningCapsCache, onError: (err: Error) => void = () => {}): TaskRepository {
  const queue = makeQueueStatements(sql, onError);
  const { raw, insertBatch } = queue;

  return {
    async claim(node, limit, leaseMs, defaultRunningCap = 0) {
      // Without caps in force: the queue's plain one-statement claim, no extra round trip.
      if (!(await caps.get(defaultRunningCap)).inForce) return queue.claim(node, limit, leaseMs);
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
        const found = await raw(
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
      // The lease owner stays on the row: it tells the executor which node to pre-empt.
      return one(
        await changeOne(
          `status = 'CANCELLED', finished_at = now(), lease_expires_at = NULL, updated_at = now()`,
          `t.status IN ('QUEUED', 'RETRYING', 'RUNNING')`,
          tenantId,
          id,
        ),
      );
    },

    async retry(tenantId, id) {
      if (!isUuid(id)) return null;
      return one(
        await changeOne(
          `status = 'QUEUED', run_at = now(), attempt_base = t.attempts, finished_at = NULL,
           lease_owner = NULL, lease_expires_at = NULL, updated_at = now()`,
          `t.status IN ('FAILED', 'CANCELLED')`,
          tenantId,
          id,
        ),
      );
    },

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

    async list(tenantId, filter, first, after) {
      if (filter.agentId !== undefined && !isUuid(filter.agentId)) {
        return { rows: [], hasNextPage: false, totalCount: 0, endCursor: null };
      }
      const where = taskWhere(tenantId, filter);
      const pageWhere: P.TaskWhereInput = after ? { AND: [where, afterCursor(after)] } : where;
      const [rows, totalCount] = await Promise.all([
        prisma.task.findMany({ where: pageWhere, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: first + 1 }),
        prisma.task.count({ where }),
      ]);
      const page = rows.slice(0, first).map(toTaskRow);
      const last = page.at(-1);
      return {
        rows: page,
        hasNextPage: rows.length > first,
        totalCount,
        endCursor: last ? encodeCursor(last) : null,
      } satisfies Page<TaskRow> & { endCursor: string | null };
    },

    async attempts(taskId) {
      if (!isUuid(taskId)) return [];
      return (await prisma.taskAttempt.findMany({ where: { taskId }, orderBy: { n: 'asc' } })).map(toAttemptRow);
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

    async countByStatus(tenantId) {
      const groups = await prisma.task.groupBy({
        by: ['status'],
        where: tenantId === null ? {} : { tenantId },
        _count: { _all: true },
      });
      const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
      for (const g of groups) counts[g.status as TaskStatus] = g._count._all;
      return counts;
    },
  };

  /** Applies `set` to one task when `when` holds; returns the row after, changed or not ([] when absent). */
  function changeOne(set: string, when: string, tenantId: string, id: string) {
    return raw(
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

function taskWhere(tenantId: string, f: TaskFilter): P.TaskWhereInput {
  const where: P.TaskWhereInput = { tenantId };
  if (f.status?.length) where.status = { in: f.status };
  if (f.agentId !== undefined) where.agentId = f.agentId;
  if (f.createdAfter || f.createdBefore) where.createdAt = { gte: f.createdAfter, lt: f.createdBefore };
  return where;
}

// ---------- cursors: opaque to clients, (createdAt, id) inside ----------

function encodeCursor(t: TaskRow): string {
  return Buffer.from(`${t.createdAt.getTime()}:${t.id}`).toString('base64url');
}

function afterCursor(cursor: string): P.TaskWhereInput {
  const [ms, id] = Buffer.from(cursor, 'base64url').toString().split(':');
  const at = new Date(Number(ms));
  if (!id || !isUuid(id) || Number.isNaN(at.getTime())) throw badInput('after', 'is not a cursor from this API');
  return { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: id } }] };
}
