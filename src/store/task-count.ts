/**
 * Counts that stay bounded as the task table grows: exact up to a cap, read off an index by
 * `SELECT count(*) FROM (SELECT 1 … LIMIT cap + 1)` (at most cap + 1 index entries); past the cap
 * the planner's estimate of the same filtered query (EXPLAIN, no rows read), flagged as an
 * estimate and never below cap + 1, which the bounded count proved. An exact count over a million
 * rows reads a million index entries (~1.4 s on PostgreSQL 15 here); this reads ten thousand.
 */
import { TASK_STATUSES, type TaskStatus } from '../domain/index.js';
import type { Query } from './db.js';
import { containsPattern, idPrefixRange } from './search-text.js';
import type { TaskCount, TaskFilter } from './types.js';

export function makeTaskCounts(query: Query) {
  /** Past `cap`: the planner's row estimate for `from` (a FROM … WHERE clause), at least cap + 1. */
  async function estimate(from: string, params: unknown[], cap: number): Promise<TaskCount> {
    const [row] = await query<Record<string, unknown>>(`EXPLAIN (FORMAT JSON) SELECT 1 ${from}`, params);
    const raw = row ? Object.values(row)[0] : undefined;
    const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan?: { 'Plan Rows'?: number } }[] | undefined;
    const rows = Math.round(plan?.[0]?.Plan?.['Plan Rows'] ?? 0);
    return { count: Math.max(rows, cap + 1), exact: false };
  }

  return {
    /** The tenant's tasks matching the filter: exact up to `cap`, then an estimate. */
    async count(tenantId: string, filter: TaskFilter, cap: number): Promise<TaskCount> {
      const params: unknown[] = [tenantId];
      const from = `FROM task t WHERE ${filterSql(filter, params)}`;
      const [row] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 ${from} LIMIT ${cap + 1}) x`, params);
      const n = Number(row?.n ?? 0);
      return n <= cap ? { count: n, exact: true } : estimate(from, params, cap);
    },

    /**
     * Tasks per status of one tenant (null: every tenant), each exact up to `cap`: one statement of
     * six bounded index reads, and an EXPLAIN per status past the cap.
     */
    async countByStatus(tenantId: string | null, cap: number): Promise<Record<TaskStatus, TaskCount>> {
      const params: unknown[] = tenantId === null ? [] : [tenantId];
      // All tenants: tenant by tenant through (tenant_id, status, …), each bounded; no index leads with status.
      const matching =
        tenantId === null
          ? `SELECT 1 FROM tenant tn CROSS JOIN LATERAL (SELECT 1 FROM task t WHERE t.tenant_id = tn.id AND t.status = s.status LIMIT ${cap + 1}) y`
          : 'SELECT 1 FROM task t WHERE t.tenant_id = $1::uuid AND t.status = s.status';
      const rows = await query<{ status: TaskStatus; n: number }>(
        `SELECT s.status, (SELECT count(*) FROM (${matching} LIMIT ${cap + 1}) x)::int AS n
           FROM unnest(enum_range(NULL::task_status)) AS s(status)`,
        params,
      );
      const estimateFrom = `FROM task t WHERE ${tenantId === null ? '' : 't.tenant_id = $1::uuid AND '}t.status = $${params.length + 1}::task_status`;
      const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, { count: 0, exact: true }])) as Record<TaskStatus, TaskCount>;
      await Promise.all(
        rows.map(async ({ status, n }) => {
          const count = Number(n);
          counts[status] = count <= cap ? { count, exact: true } : await estimate(estimateFrom, [...params, status], cap);
        }),
      );
      return counts;
    },
  };
}

/**
 * The WHERE clause of a tenant's filtered task list ($1 = the tenant), as the Prisma reads filter
 * it; also the bulk actions' selection (task-actions.ts).
 */
export function filterSql(f: TaskFilter, params: unknown[]): string {
  const arg = (v: unknown) => `$${params.push(v)}`;
  const where = ['t.tenant_id = $1::uuid'];
  if (f.status?.length) where.push(`t.status = ANY(${arg(f.status)}::text[]::task_status[])`);
  if (f.agentId !== undefined) where.push(`t.agent_id = ${arg(f.agentId)}::uuid`);
  if (f.createdAfter) where.push(`t.created_at >= ${arg(f.createdAfter)}::timestamptz`);
  if (f.createdBefore) where.push(`t.created_at < ${arg(f.createdBefore)}::timestamptz`);
  if (f.search !== undefined) {
    // ILIKE '%…%' on search_text is what task_search_idx (GIN, trigrams) answers; an id prefix is a
    // range of the primary key. Both indexable, so the OR is a BitmapOr of the two, not a scan.
    const text = `t.search_text ILIKE ${arg(containsPattern(f.search))}`;
    const ids = idPrefixRange(f.search);
    where.push(ids ? `(${text} OR t.id BETWEEN ${arg(ids[0])}::uuid AND ${arg(ids[1])}::uuid)` : text);
  }
  return where.join(' AND ');
}
