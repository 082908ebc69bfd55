/**
 * The queue's hot statements: one SQL statement per batch whatever its size (arrays go in as
 * parameters and are unnested on the server), sent through the driver, not the Prisma client.
 */
import type { Sql } from './db.js';
import { uuidv7 } from './ids.js';
import { taskColumns, toTaskRow, type TaskRecord } from './map.js';
import type { AttemptResult, ClaimOnInsert, NewTask, TaskRepository, TaskRow } from './types.js';

export const T = taskColumns('t');
export const RUNNABLE = `t.status IN ('QUEUED', 'RETRYING')`;
const TERMINAL = `('SUCCEEDED', 'FAILED', 'CANCELLED')`;
/** Claim order; ties on created_at (one batch) fall back to the time-ordered id. */
export const byClaimOrder = (a: TaskRow, b: TaskRow) =>
  b.priority - a.priority ||
  a.runAt.getTime() - b.runAt.getTime() ||
  a.createdAt.getTime() - b.createdAt.getTime() ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const INSERT_COLUMNS = `id, tenant_id, agent_id, agent_version_id, module_digest, priority, stdin, args, env,
  files_digest, timeout_ms, memory_bytes, fuel, max_output_bytes, retry, deterministic, idempotency_key, run_at`;
const INSERT_ROWS = `unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int[], $7::bytea[],
  $8::jsonb[], $9::jsonb[], $10::text[], $11::int[], $12::bigint[], $13::bigint[], $14::int[], $15::jsonb[],
  $16::jsonb[], $17::text[], $18::timestamptz[])`;
const INSERT_QUEUED = `INSERT INTO task AS t (${INSERT_COLUMNS})
  SELECT * FROM ${INSERT_ROWS}
  ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
  RETURNING ${T}`;

/**
 * Attempt results as rows, from 22 array parameters starting at `$first` (see resultParams).
 * Enum arrays go in as text[] (PGlite cannot serialise arrays of a custom type), cast where used.
 */
const resultRows = (first: number) => {
  const types = ['uuid', 'int', 'text', 'text', 'int', 'bytea', 'bytea', 'bool', 'bool', 'text', 'text', 'text', 'int', 'int',
    'bigint', 'bigint', 'jsonb', 'text', 'timestamptz', 'timestamptz', 'text', 'timestamptz'];
  return `unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(', ')})
    AS r(task_id, n, node, outcome, exit_code, stdout, stderr, stdout_truncated, stderr_truncated, trap_code,
         trap_message, error, compile_ms, run_ms, fuel_used, memory_peak_bytes, files, files_digest,
         started_at, finished_at, next_status, next_run_at)`;
};
const resultParams = (results: AttemptResult[]): unknown[] => [
  results.map((r) => r.taskId),
  results.map((r) => r.n),
  results.map((r) => r.node),
  results.map((r) => r.outcome),
  results.map((r) => r.exitCode),
  results.map((r) => r.stdout),
  results.map((r) => r.stderr),
  results.map((r) => r.stdoutTruncated),
  results.map((r) => r.stderrTruncated),
  results.map((r) => r.trapCode),
  results.map((r) => r.trapMessage),
  results.map((r) => r.error),
  results.map((r) => Math.round(r.compileMs)),
  results.map((r) => Math.round(r.runMs)),
  results.map((r) => (r.fuelUsed === null ? null : String(r.fuelUsed))),
  results.map((r) => String(Math.round(r.memoryPeakBytes))),
  results.map((r) => JSON.stringify(r.files)),
  results.map((r) => r.filesDigest),
  results.map((r) => r.startedAt),
  results.map((r) => r.finishedAt),
  results.map((r) => r.next.status),
  results.map((r) => (r.next.status === 'RETRYING' ? r.next.runAt : null)),
];
/** Records the attempts of `r` for the tasks of `tasks` (a relation with columns id, tenant_id). */
const insertAttempts = (tasks: string) => `INSERT INTO task_attempt (id, task_id, tenant_id, n, node, outcome, exit_code, stdout, stderr,
    stdout_truncated, stderr_truncated, trap_code, trap_message, error, compile_ms, run_ms, fuel_used,
    memory_peak_bytes, files, files_digest, started_at, finished_at)
  SELECT gen_random_uuid(), r.task_id, t.tenant_id, r.n, r.node, r.outcome::outcome_kind, r.exit_code, r.stdout, r.stderr,
    r.stdout_truncated, r.stderr_truncated, r.trap_code, r.trap_message, r.error, r.compile_ms, r.run_ms,
    r.fuel_used, r.memory_peak_bytes, r.files, r.files_digest, r.started_at, r.finished_at
    FROM r JOIN ${tasks} t ON t.id = r.task_id
  ON CONFLICT (task_id, n) DO NOTHING`;

/**
 * Claim-on-insert: each row is born in the state a claim would leave it in (RUNNING, attempt 1,
 * leased to $19 for $20 ms), or, when its run already ended (a LEFT JOIN finds its result in r),
 * in its next state with the attempt recorded. Either way it never enters task_claim_idx (a partial
 * index on runnable rows) and skips the claim's UPDATE, on the hot path a whole extra statement
 * plus a non-HOT row version. Created and started at $21 (the submit, before any run began; never
 * after the database's now()).
 */
const INSERT_CLAIMED = `WITH r AS (SELECT * FROM ${resultRows(22)}),
  ins AS (
    INSERT INTO task AS t (${INSERT_COLUMNS}, status, attempts, lease_owner, lease_expires_at, started_at,
      created_at, last_outcome, exit_code, finished_at)
    SELECT ${INSERT_COLUMNS.split(',').map((c) => (c.trim() === 'run_at' ? 'COALESCE(r.next_run_at, u.run_at)' : `u.${c.trim()}`)).join(', ')},
      COALESCE(r.next_status, 'RUNNING')::task_status, 1,
      CASE WHEN r.task_id IS NULL THEN $19::text END,
      CASE WHEN r.task_id IS NULL THEN now() + make_interval(secs => $20::int / 1000.0) END,
      LEAST(now(), $21::timestamptz), LEAST(now(), $21::timestamptz), r.outcome::outcome_kind, r.exit_code,
      CASE WHEN r.next_status IN ${TERMINAL} THEN r.finished_at END
      FROM ${INSERT_ROWS} AS u(${INSERT_COLUMNS}) LEFT JOIN r ON r.task_id = u.id
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING t.*
  ), attempt AS (${insertAttempts('ins')})
  SELECT ${T} FROM ins t`;

/**
 * Locks the listed task rows in id order, as every statement that updates many given rows does
 * first: heartbeat, finish and release cover the same RUNNING rows (a node heartbeats the tasks
 * whose results it is writing), and two of them locking in different orders deadlock, which costs
 * PostgreSQL's deadlock_timeout (1 s) and a failed statement. FOR NO KEY UPDATE, like the UPDATE
 * itself: it does not block the key-share locks of the attempts' foreign keys.
 */
const lockInOrder = (ids: string) => `SELECT id FROM task WHERE id = ANY(${ids}) ORDER BY id FOR NO KEY UPDATE`;

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

export type QueueStatements = Pick<TaskRepository, 'claim' | 'reclaimExpired' | 'heartbeat' | 'finish' | 'release' | 'nextRunAt'> & {
  /** Inserts what does not conflict on (tenant_id, idempotency_key); aligned with the input (undefined = conflict). */
  insertBatch(tasks: NewTask[], claimFor?: ClaimOnInsert): Promise<(TaskRow | undefined)[]>;
  raw(text: string, ...params: unknown[]): Promise<TaskRow[]>;
};

export function makeQueueStatements(sql: Sql, onError: (err: Error) => void): QueueStatements {
  const raw = async (text: string, ...params: unknown[]): Promise<TaskRow[]> =>
    (await sql.query<TaskRecord>(text, params)).map(toTaskRow);

  // Why the store runs ANALYZE itself: right after a burst of submissions the planner's statistics
  // still describe a nearly empty queue, so it plans the claim as "fetch every runnable row and
  // sort" instead of reading the first N entries of task_claim_idx: a claim then costs O(queue
  // depth) until autovacuum's next analyze (up to a minute away). Refreshing after 1k, 2k, 4k, …
  // (at most every 100k) inserted rows keeps the plan right for a few tens of ms each time.
  let insertedSinceAnalyze = 0;
  let analyzeAfter = 1_000;
  let analyzing = false;
  function noteInserted(n: number) {
    insertedSinceAnalyze += n;
    if (analyzing || insertedSinceAnalyze < analyzeAfter) return;
    analyzing = true;
    insertedSinceAnalyze = 0;
    analyzeAfter = Math.min(analyzeAfter * 2, 100_000);
    sql
      .query('ANALYZE task')
      .catch(onError)
      .finally(() => (analyzing = false));
  }

  async function insertBatch(tasks: NewTask[], claimFor?: ClaimOnInsert): Promise<(TaskRow | undefined)[]> {
    const ids = tasks.map((t) => t.id ?? uuidv7());
    const params: unknown[] = [
      ids,
      tasks.map((t) => t.tenantId),
      tasks.map((t) => t.agentId),
      tasks.map((t) => t.agentVersionId),
      tasks.map((t) => t.moduleDigest),
      tasks.map((t) => t.priority),
      tasks.map((t) => t.stdin),
      tasks.map((t) => JSON.stringify(t.args)),
      tasks.map((t) => JSON.stringify(t.env)),
      tasks.map((t) => t.filesDigest),
      tasks.map((t) => t.limits.timeoutMs),
      tasks.map((t) => String(t.limits.memoryBytes)),
      tasks.map((t) => (t.limits.fuel === undefined ? null : String(t.limits.fuel))),
      tasks.map((t) => t.limits.maxOutputBytes),
      tasks.map((t) => JSON.stringify(t.retry)),
      tasks.map((t) => json(t.deterministic)),
      tasks.map((t) => t.idempotencyKey),
      tasks.map((t) => t.runAt),
    ];
    if (claimFor) {
      const settled = claimFor.settled ? ids.flatMap((id) => claimFor.settled?.get(id) ?? []) : [];
      params.push(claimFor.node, claimFor.leaseMs, claimFor.at ?? null, ...resultParams(settled));
    }
    const text = claimFor ? INSERT_CLAIMED : INSERT_QUEUED;
    const rows = (await sql.queryStable<TaskRecord>(text, params)).map(toTaskRow);
    noteInserted(rows.length);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id));
  }

  return {
    raw,
    insertBatch,

    async claim(node, limit, leaseMs) {
      const rows = await raw(
        `UPDATE task AS t
            SET status = 'RUNNING', attempts = t.attempts + 1, lease_owner = $1,
                lease_expires_at = now() + make_interval(secs => $3::int / 1000.0),
                started_at = COALESCE(t.started_at, now()), updated_at = now()
           FROM (SELECT id FROM task t
                  WHERE ${RUNNABLE} AND t.run_at <= now()
                  ORDER BY t.priority DESC, t.run_at, t.created_at, t.id
                  LIMIT $2 FOR UPDATE SKIP LOCKED) AS c
          WHERE t.id = c.id
      RETURNING ${T}`,
        node,
        limit,
        leaseMs,
      );
      return rows.sort(byClaimOrder);
    },

    async reclaimExpired(node, limit, leaseMs) {
      const rows = await sql.query<TaskRecord & { lostOwner: string | null }>(
        `UPDATE task AS t
            SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3::int / 1000.0), updated_at = now()
           FROM (SELECT id, lease_owner FROM task t
                  WHERE t.status = 'RUNNING' AND t.lease_expires_at < now()
                  ORDER BY t.lease_expires_at
                  LIMIT $2 FOR UPDATE SKIP LOCKED) AS c
          WHERE t.id = c.id
      RETURNING ${T}, c.lease_owner AS "lostOwner"`,
        [node, limit, leaseMs],
      );
      return rows.map((r) => ({ ...toTaskRow(r), lostOwner: r.lostOwner }));
    },

    async heartbeat(node, taskIds, leaseMs) {
      if (taskIds.length === 0) return;
      await sql.query(
        `WITH locked AS MATERIALIZED (${lockInOrder('$2::uuid[]')})
         UPDATE task AS t SET lease_expires_at = now() + make_interval(secs => $3::int / 1000.0)
           FROM locked WHERE t.id = locked.id AND t.status = 'RUNNING' AND t.lease_owner = $1`,
        [node, taskIds, leaseMs],
      );
    },

    async finish(results) {
      if (results.length === 0) return [];
      // One statement: the attempts, the conditional status change, and the untouched rows as
      // they are (a CTE's changes are invisible to its sibling SELECT, which sees the snapshot).
      return raw(
        `WITH r AS (SELECT * FROM ${resultRows(1)}),
         locked AS MATERIALIZED (${lockInOrder('$1::uuid[]')}),
         attempt AS (${insertAttempts('task')}),
         moved AS (
           UPDATE task AS t
              SET status = r.next_status::task_status, last_outcome = r.outcome::outcome_kind, exit_code = r.exit_code,
                  run_at = COALESCE(r.next_run_at, t.run_at), lease_owner = NULL, lease_expires_at = NULL,
                  finished_at = CASE WHEN r.next_status IN ${TERMINAL} THEN r.finished_at END, updated_at = now()
             FROM r JOIN locked ON locked.id = r.task_id
            WHERE t.id = r.task_id AND t.status = 'RUNNING' AND t.lease_owner = r.node AND t.attempts = r.n
        RETURNING ${T}
         )
         SELECT * FROM moved
         UNION ALL
         SELECT ${T} FROM task t WHERE t.id = ANY($1::uuid[]) AND t.id NOT IN (SELECT id FROM moved)`,
        ...resultParams(results),
      );
    },

    async release(node, taskIds) {
      if (taskIds.length === 0) return;
      await sql.query(
        `WITH locked AS MATERIALIZED (${lockInOrder('$2::uuid[]')})
         UPDATE task AS t
            SET status = 'QUEUED', attempts = t.attempts - 1, lease_owner = NULL, lease_expires_at = NULL,
                started_at = CASE WHEN t.attempts = 1 THEN NULL ELSE t.started_at END, updated_at = now()
           FROM locked WHERE t.id = locked.id AND t.status = 'RUNNING' AND t.lease_owner = $1`,
        [node, taskIds],
      );
    },
    async nextRunAt() {
      // A skip scan of task_claim_idx: within one priority the index is ordered by run_at, so the
      // first entry of each priority is that priority's earliest; one index probe per distinct priority.
      const rows = await sql.query<{ next: Date | null }>(
        `WITH RECURSIVE p AS (
           (SELECT t.priority, t.run_at FROM task t WHERE ${RUNNABLE}
             ORDER BY t.priority DESC, t.run_at, t.created_at, t.id LIMIT 1)
           UNION ALL
           SELECT n.priority, n.run_at FROM p, LATERAL (
             SELECT t.priority, t.run_at FROM task t WHERE ${RUNNABLE} AND t.priority < p.priority
              ORDER BY t.priority DESC, t.run_at, t.created_at, t.id LIMIT 1) n
         )
         SELECT min(run_at) AS next FROM p`,
      );
      return rows[0]?.next ?? null;
    },
  };
}
