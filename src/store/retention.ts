/**
 * RetentionRepository: the retention sweeper's statements, and the QUOTA_TASK_BYTES figure the
 * sweeper keeps cheap to read. Each is one bounded statement in the
 * executor's lane (its own short transaction), so a sweep never holds locks for long and never
 * waits behind API load; two nodes sweeping at once take disjoint rows (`FOR UPDATE SKIP LOCKED`).
 */
import type { Query, Sql } from './db.js';
import type { RetentionRepository } from './types.js';

/**
 * One batch: per tenant whose retention for the status is finite (its override, else the server
 * default $2; NULL or 0 = forever), its oldest ended tasks of that status past its cutoff
 * (task_expiry_idx: one range per tenant, kept rows never read), locked and skipped by other
 * sweepers, at most $3 in all, deleted with their attempts. Attempts go in a CTE of their own so the
 * statement can return the file bundles they named; the cascade of the task delete finds none left.
 */
const SWEEP = `
WITH policy AS (
  SELECT id AS tenant_id, now() - make_interval(secs => ms / 1000.0) AS cutoff
  FROM (SELECT id, coalesce(CASE $1::task_status WHEN 'SUCCEEDED' THEN retain_succeeded_ms
                                                 WHEN 'FAILED' THEN retain_failed_ms
                                                 ELSE retain_cancelled_ms END, $2::bigint) AS ms
        FROM tenant) t
  WHERE ms > 0
), doomed AS (
  SELECT x.id FROM policy p CROSS JOIN LATERAL (
    SELECT id FROM task
    WHERE tenant_id = p.tenant_id AND status = $1::task_status AND finished_at IS NOT NULL AND finished_at < p.cutoff
    ORDER BY finished_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
  ) x
  LIMIT $3
), attempts AS (
  DELETE FROM task_attempt a USING doomed d WHERE a.task_id = d.id
  RETURNING a.files_digest
), tasks AS (
  DELETE FROM task t USING doomed d WHERE t.id = d.id
  RETURNING t.id, t.files_digest
)
SELECT (SELECT count(*) FROM tasks)::int AS tasks,
       ARRAY(SELECT id::text FROM tasks) AS ids,
       (SELECT count(*) FROM attempts)::int AS attempts,
       ARRAY(SELECT files_digest FROM tasks WHERE files_digest IS NOT NULL
             UNION SELECT files_digest FROM attempts WHERE files_digest IS NOT NULL) AS digests`;

/** Digests among $1 that no task, attempt or module names (task_files_idx, task_attempt_files_idx, module's key). */
const UNREFERENCED = `
SELECT d AS digest FROM unnest($1::text[]) AS d
WHERE NOT EXISTS (SELECT 1 FROM task WHERE files_digest = d)
  AND NOT EXISTS (SELECT 1 FROM task_attempt WHERE files_digest = d)
  AND NOT EXISTS (SELECT 1 FROM module WHERE digest = d)`;

/**
 * Deleted agents (deleted before the cutoff) none of whose tasks is left: the agent row goes and its
 * versions with it (ON DELETE CASCADE). task (tenant_id, agent_id, created_at) answers "any task
 * left"; task's foreign keys (RESTRICT) make a concurrent insert for the agent fail or wait.
 */
const FORGET_AGENTS = `
WITH doomed AS (
  SELECT a.id FROM agent a
  WHERE a.deleted_at IS NOT NULL AND a.deleted_at < $1::timestamptz
    AND NOT EXISTS (SELECT 1 FROM task t WHERE t.tenant_id = a.tenant_id AND t.agent_id = a.id)
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), versions AS (
  DELETE FROM agent_version v USING doomed d WHERE v.agent_id = d.id RETURNING v.id
), agents AS (
  DELETE FROM agent a USING doomed d WHERE a.id = d.id RETURNING a.id
)
SELECT (SELECT count(*) FROM agents)::int AS agents, (SELECT count(*) FROM versions)::int AS versions`;

/**
 * Modules no agent version uses (never registered, or their agents forgotten above) that nobody
 * stored since the cutoff: their per-tenant records (stored bytes) and the module row go; the
 * caller deletes the blobs. agent_version's foreign key (RESTRICT) makes a registration racing
 * this delete fail or wait, never point at a missing row.
 */
const FORGET_MODULES = `
WITH doomed AS (
  SELECT m.digest FROM module m
  WHERE m.created_at < $1::timestamptz
    AND NOT EXISTS (SELECT 1 FROM agent_version v WHERE v.module_digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM tenant_module tm WHERE tm.digest = m.digest AND tm.created_at >= $1::timestamptz)
  ORDER BY m.created_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), owners AS (
  DELETE FROM tenant_module tm USING doomed d WHERE tm.digest = d.digest
), gone AS (
  DELETE FROM module m USING doomed d WHERE m.digest = d.digest RETURNING m.digest
)
SELECT digest FROM gone`;

/** The task_bytes ledger, one row per tenant afterwards. */
const FOLD_TASK_BYTES = `
WITH gone AS (DELETE FROM task_bytes RETURNING tenant_id, bytes)
INSERT INTO task_bytes (tenant_id, bytes) SELECT tenant_id, sum(bytes) FROM gone GROUP BY tenant_id`;

export function makeRetentionRepository(sql: Sql, kind: 'pglite' | 'postgres'): RetentionRepository {
  const query: Query = sql.query;
  return {
    async sweepFinished(status, defaultMs, limit) {
      const [row] = await query<{ tasks: number; ids: string[]; attempts: number; digests: string[] }>(SWEEP, [status, defaultMs ?? null, limit]);
      return { tasks: row!.tasks, ids: row!.ids, attempts: row!.attempts, digests: row!.digests };
    },
    async unreferenced(digests) {
      if (digests.length === 0) return [];
      return (await query<{ digest: string }>(UNREFERENCED, [digests])).map((r) => r.digest);
    },
    async forgetDeletedAgents(before, limit) {
      const [row] = await query<{ agents: number; versions: number }>(FORGET_AGENTS, [before, limit]);
      return row!;
    },
    async forgetUnusedModules(before, limit) {
      return (await query<{ digest: string }>(FORGET_MODULES, [before, limit])).map((r) => r.digest);
    },
    async taskBytes(tenantId) {
      const [row] = await query<{ bytes: string | number | null }>(`SELECT sum(bytes)::bigint AS bytes FROM task_bytes WHERE tenant_id = $1::uuid`, [tenantId]);
      return Number(row?.bytes ?? 0);
    },
    async foldTaskBytes() {
      // Rows written meanwhile are not in this statement's snapshot and stay as they are; a second
      // node folding at once waits for these rows and then finds them gone, so no delta counts twice.
      await query(FOLD_TASK_BYTES);
    },
    async reclaimSpace() {
      // Right after the deletes rather than whenever autovacuum comes by: PGlite has none, and on
      // PostgreSQL autovacuum may be off or a minute (autovacuum_naptime) late, while at 200 tasks/s
      // the freed space must be reused at once or the tables grow as if nothing had been deleted.
      // Plain VACUUM takes no lock that blocks reads or writes and reads only pages not marked
      // all-visible (what the sweep and recent task updates touched); SKIP_LOCKED: when another
      // node (or ANALYZE) is at it, this one does not queue behind.
      await query('VACUUM (SKIP_LOCKED) task, task_attempt');
      // PGlite has no checkpointer either: without a checkpoint its write-ahead log only grows (a
      // 16 MiB segment per ~10k tasks written, measured), whatever VACUUM frees in the tables.
      // On PostgreSQL the checkpointer recycles WAL on its own (and CHECKPOINT needs a superuser).
      if (kind === 'pglite') await query('CHECKPOINT');
    },
  };
}
