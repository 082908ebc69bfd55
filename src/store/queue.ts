/**
 * The queue's hot statements: one SQL statement per batch whatever its size (arrays go in as
 * parameters and are unnested on the server), sent through the driver, not the Prisma client.
 *
 * Longer than 300 lines on purpose: claim, insert (and insert-claimed), heartbeat, finish, release
 * and recovery share the column lists, the CLAIMABLE/HELD predicates and the lock order (rows are
 * locked in id order, see RATIONALE), and reading them side by side is how a change to one is
 * checked against the others.
 */
import type { Sql } from './db.js';
import { uuidv7 } from './ids.js';
import { finishedColumns, insertedColumns, taskColumns, toFinishedTask, toInsertedRow, toTaskRow, type InsertedRecord, type TaskRecord } from './map.js';
import type { TaskStatus } from '../domain/index.js';
import { inputSearchText, outputSearchText } from './search-text.js';
import type { AttemptResult, ClaimOnInsert, LeaseState, NewTask, TaskRepository, TaskRow } from './types.js';

export const T = taskColumns('t');
/** Waiting and nobody's: what a claim may take (task_claim_idx and task_tenant_claim_idx cover exactly these). */
export const CLAIMABLE = `t.status IN ('QUEUED', 'RETRYING') AND t.lease_owner IS NULL`;
/** Leased to a node, claimed (still QUEUED/RETRYING) or RUNNING: task_lease_idx covers exactly these. */
export const HELD = `t.status IN ('QUEUED', 'RETRYING', 'RUNNING') AND t.lease_owner IS NOT NULL`;
/** The claim order: task_claim_idx's columns, so a claim reads its first entries. */
export const CLAIM_ORDER = 't.priority DESC, t.queued_at, t.id';
const TERMINAL = `('SUCCEEDED', 'FAILED', 'CANCELLED')`;
/** SEARCH_SEPARATOR as SQL: a finish keeps search_text's input part and puts its own output after it. */
const SEP = 'chr(30)';
/** CLAIM_ORDER in JavaScript (an UPDATE … RETURNING comes back in no particular order). */
export const byClaimOrder = (a: TaskRow, b: TaskRow) =>
  b.priority - a.priority || a.queuedAt.getTime() - b.queuedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const INSERT_COLUMNS = `id, tenant_id, agent_id, agent_version_id, module_digest, priority, stdin, args, env,
  files_digest, timeout_ms, memory_bytes, fuel, max_output_bytes, retry, deterministic, idempotency_key, run_at, trace_context, wasi,
  search_text`;
/** The types of INSERT_COLUMNS, in order: parameters $1…$21. */
const INSERT_TYPES = ['uuid', 'uuid', 'uuid', 'uuid', 'text', 'int', 'bytea', 'jsonb', 'jsonb', 'text', 'int', 'bigint', 'bigint', 'int',
  'jsonb', 'jsonb', 'text', 'timestamptz', 'jsonb', 'jsonb', 'text'];

/**
 * Rows made of parameters (`[number, type]` per column): one row per element of array parameters,
 * unnested, or for exactly one row (`one`) a VALUES list of scalar parameters. PostgreSQL plans the
 * VALUES for the one row it is, where it estimates 100 for an unnest: the one-task claim-on-insert,
 * every submit of an idle node, took 0.2–0.3 ms less to commit that way (100–230 µs less of
 * PostgreSQL's CPU), paced as the latency bench's submits are (docs/RATIONALE.md).
 */
const paramRows = (columns: [n: number, type: string][], one: boolean) =>
  one
    ? `(VALUES (${columns.map(([n, type]) => `$${n}::${type}`).join(', ')}))`
    : `unnest(${columns.map(([n, type]) => `$${n}::${type}[]`).join(', ')})`;
/** INSERT_COLUMNS as parameters $1…$21 for paramRows. */
const INSERT_PARAMS = INSERT_TYPES.map((type, i): [number, string] => [i + 1, type]);
const INSERT_ROWS = paramRows(INSERT_PARAMS, false);
const INSERT_QUEUED = `INSERT INTO task AS t (${INSERT_COLUMNS})
  SELECT * FROM ${INSERT_ROWS}
  ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
  RETURNING ${insertedColumns('t')}`;

/**
 * Attempt results as rows, from 23 array parameters starting at `$first` (see resultParams), or
 * with `one` from 23 scalars, making one row unless `$first` (the task id) is null, then none.
 * Enum arrays go in as text[] (PGlite cannot serialise arrays of a custom type), cast where used.
 */
const resultRows = (first: number, one = false) => {
  const types = ['uuid', 'int', 'text', 'text', 'int', 'bytea', 'bytea', 'bool', 'bool', 'text', 'text', 'text', 'int', 'int',
    'bigint', 'bigint', 'jsonb', 'text', 'timestamptz', 'timestamptz', 'text', 'timestamptz', 'text'];
  return `${paramRows(types.map((type, i) => [first + i, type]), one)}
    AS r(task_id, n, node, outcome, exit_code, stdout, stderr, stdout_truncated, stderr_truncated, trap_code,
         trap_message, error, compile_ms, run_ms, fuel_used, memory_peak_bytes, files, files_digest,
         started_at, finished_at, next_status, next_run_at, search_text)${one ? ` WHERE $${first}::uuid IS NOT NULL` : ''}`;
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
  results.map(outputSearchText),
];
const ATTEMPT_COLUMNS = `id, task_id, tenant_id, n, node, outcome, exit_code, stdout, stderr, stdout_truncated,
  stderr_truncated, trap_code, trap_message, error, compile_ms, run_ms, fuel_used, memory_peak_bytes, files, files_digest,
  started_at, finished_at, stale`;
/** The attempt columns of result rows `r` (see resultRows), with the tenant from `tenant`. */
const attemptValues = (r: string, tenant: string) => `gen_random_uuid(), ${r}.task_id, ${tenant}, ${r}.n, ${r}.node,
  ${r}.outcome::outcome_kind, ${r}.exit_code, ${r}.stdout, ${r}.stderr, ${r}.stdout_truncated, ${r}.stderr_truncated,
  ${r}.trap_code, ${r}.trap_message, ${r}.error, ${r}.compile_ms, ${r}.run_ms, ${r}.fuel_used, ${r}.memory_peak_bytes,
  ${r}.files, ${r}.files_digest, ${r}.started_at, ${r}.finished_at`;
/** At most one attempt per number: a result written twice (a write retried after a lost answer) is kept once. */
const ON_ATTEMPT_CONFLICT = `ON CONFLICT (task_id, n) WHERE NOT stale DO NOTHING`;

/** Inserted columns whose value in INSERT_CLAIMED is not the input's alone. */
const CLAIMED_VALUES: Record<string, string> = {
  run_at: 'COALESCE(r.next_run_at, u.run_at)',
  search_text: 'u.search_text || COALESCE(r.search_text, \'\')',
};

/**
 * Claim-on-insert: each row is born in the state a claim would leave it in (leased to $22 for $23
 * ms), RUNNING with attempt 1 when its run has already begun ($25: when, aligned with the rows,
 * null for not yet), or, when its run already ended (a LEFT JOIN finds its result in r), in its
 * next state with the attempt recorded.
 * Either way it never enters task_claim_idx (claimable rows only) and skips the claim's UPDATE, on
 * the hot path a whole extra statement plus a non-HOT row version. Created and queued at $24 (the
 * submit, before any run began; never after the database's now()). A run that ended adds its
 * output to the search text after the input part's separator, as a finish would.
 */
const insertClaimed = (one: boolean) => `WITH r AS (SELECT * FROM ${resultRows(26, one)}),
  ins AS (
    INSERT INTO task AS t (${INSERT_COLUMNS}, status, attempts, lease_owner, lease_expires_at, started_at,
      created_at, queued_at, last_outcome, exit_code, finished_at)
    SELECT ${INSERT_COLUMNS.split(',').map((c) => CLAIMED_VALUES[c.trim()] ?? `u.${c.trim()}`).join(', ')},
      COALESCE(r.next_status, CASE WHEN u.begun_at IS NULL THEN 'QUEUED' ELSE 'RUNNING' END)::task_status,
      CASE WHEN r.task_id IS NULL AND u.begun_at IS NULL THEN 0 ELSE 1 END,
      CASE WHEN r.task_id IS NULL THEN $22::text END,
      CASE WHEN r.task_id IS NULL THEN now() + make_interval(secs => $23::int / 1000.0) END,
      CASE WHEN r.task_id IS NOT NULL OR u.begun_at IS NOT NULL THEN LEAST(now(), COALESCE(r.started_at, u.begun_at)) END,
      LEAST(now(), $24::timestamptz), LEAST(now(), $24::timestamptz), r.outcome::outcome_kind, r.exit_code,
      CASE WHEN r.next_status IN ${TERMINAL} THEN r.finished_at END
      FROM ${paramRows([...INSERT_PARAMS, [25, 'timestamptz']], one)} AS u(${INSERT_COLUMNS}, begun_at) LEFT JOIN r ON r.task_id = u.id
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING t.*
  ), attempt AS (
    INSERT INTO task_attempt (${ATTEMPT_COLUMNS}) SELECT ${attemptValues('r', 't.tenant_id')}, false FROM r JOIN ins t ON t.id = r.task_id
    ${ON_ATTEMPT_CONFLICT}
  )
  SELECT ${insertedColumns('t')} FROM ins t`;
const INSERT_CLAIMED = insertClaimed(false);
/** INSERT_CLAIMED for one task: each parameter the only element of INSERT_CLAIMED's array, or null for none. */
const INSERT_CLAIMED_ONE = insertClaimed(true);

/**
 * Locks the listed task rows in id order, as every statement that updates many given rows does
 * first: heartbeat, finish and release cover the same leased rows (a node heartbeats the tasks
 * whose results it is writing), and two of them locking in different orders deadlock, which costs
 * PostgreSQL's deadlock_timeout (1 s) and a failed statement. FOR NO KEY UPDATE, like the UPDATE
 * itself: it does not block the key-share locks of the attempts' foreign keys.
 */
const lockInOrder = (ids: string) => `SELECT id FROM task WHERE id = ANY(${ids}) ORDER BY id FOR NO KEY UPDATE`;

/**
 * A rewrite of results whose earlier write may have committed (its answer was lost): a result
 * already recorded (same task, attempt, node and start) is not kept again as stale. Only then:
 * the two subqueries cost a third of the statement's planning, most of its cost for one result.
 * "= ANY($1)": whether the planner probes per row or hashes them, they read this batch's attempts.
 */
const SKIP_WRITTEN = `WHERE h.held
        OR NOT EXISTS (SELECT 1 FROM task_attempt a WHERE a.task_id = ANY($1::uuid[]) AND NOT a.stale
                          AND a.task_id = h.task_id AND a.n = h.n AND a.node = h.node AND a.started_at = h.started_at)
           AND NOT EXISTS (SELECT 1 FROM task_attempt a WHERE a.task_id = ANY($1::uuid[]) AND a.stale
                          AND a.task_id = h.task_id AND a.n = h.n AND a.node = h.node AND a.started_at = h.started_at)`;

/**
 * For a rewrite (mayBeWritten): the attempt numbers of this batch's results for task `id` that the
 * earlier write had recorded (the same task, attempt, node and start, not stale). The statement's
 * own INSERT is invisible here (sibling CTEs read the snapshot), so these were there before it.
 * Such a result is not late, though the task does not move now: the writer publishes its end.
 */
const writtenBefore = (id: string) => `ARRAY(SELECT a.n FROM task_attempt a JOIN h ON a.task_id = h.task_id AND a.n = h.n
    AND a.node = h.node AND a.started_at = h.started_at WHERE a.task_id = ${id} AND NOT a.stale)`;
const NONE_WRITTEN = `'{}'::int[]`;

/**
 * The finish. `locked` reads the rows as they are once locked (the latest version; nobody else can
 * change them before this statement commits), and `h` says for each result whether its node still
 * holds that attempt: RUNNING with attempts = n, or claimed with attempts = n - 1 (the run ended
 * before a heartbeat marked it RUNNING: claimed → next state in this one write); a task cancelled
 * under the node keeps CANCELLED and its attempt (the CASEs in `moved`). Every other result is late
 * (the lease was taken over, the task moved on): its attempt goes in stale and the task is not
 * touched. The final SELECT returns the untouched rows as they are (a CTE's changes are invisible
 * to its sibling SELECT, which sees the snapshot). Deciding "held" once, from `locked`, keeps the
 * statement cheap to plan, which is most of its cost for the one or two results of an idle node.
 */
const finishStatement = (mayBeWritten: boolean) => `WITH r AS (SELECT * FROM ${resultRows(1)}),
  locked AS MATERIALIZED (
    SELECT id, tenant_id, status, lease_owner, attempts FROM task WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE
  ),
  h AS MATERIALIZED (
    SELECT r.*, l.tenant_id, COALESCE(l.lease_owner = r.node AND CASE l.status
             WHEN 'RUNNING' THEN l.attempts = r.n
             WHEN 'QUEUED' THEN l.attempts + 1 = r.n
             WHEN 'RETRYING' THEN l.attempts + 1 = r.n
             WHEN 'CANCELLED' THEN l.attempts IN (r.n, r.n - 1)
             ELSE false END, false) AS held
      FROM r JOIN locked l ON l.id = r.task_id
  ),
  moved AS (
    UPDATE task AS t
       SET attempts = h.n, started_at = COALESCE(t.started_at, h.started_at),
           status = CASE WHEN t.status = 'CANCELLED' THEN t.status ELSE h.next_status::task_status END,
           last_outcome = CASE WHEN t.status = 'CANCELLED' THEN t.last_outcome ELSE h.outcome::outcome_kind END,
           exit_code = CASE WHEN t.status = 'CANCELLED' THEN t.exit_code ELSE h.exit_code END,
           run_at = CASE WHEN t.status = 'CANCELLED' THEN t.run_at ELSE COALESCE(h.next_run_at, t.run_at) END,
           lease_owner = CASE WHEN t.status = 'CANCELLED' THEN t.lease_owner END, lease_expires_at = NULL,
           finished_at = CASE WHEN t.status = 'CANCELLED' THEN t.finished_at WHEN h.next_status IN ${TERMINAL} THEN h.finished_at END,
           search_text = CASE WHEN t.status = 'CANCELLED' THEN t.search_text
                              ELSE split_part(t.search_text, ${SEP}, 1) || ${SEP} || h.search_text END,
           updated_at = CASE WHEN t.status = 'CANCELLED' THEN t.updated_at ELSE now() END
      FROM h WHERE t.id = h.task_id AND h.held
    RETURNING ${finishedColumns('t')}
  ),
  attempt AS (
    INSERT INTO task_attempt (${ATTEMPT_COLUMNS})
    SELECT ${attemptValues('h', 'h.tenant_id')}, NOT h.held FROM h
    ${mayBeWritten ? SKIP_WRITTEN : ''}
    ${ON_ATTEMPT_CONFLICT}
  )
  SELECT *, false AS stale, ${mayBeWritten ? writtenBefore('moved.id') : NONE_WRITTEN} AS "alreadyWritten" FROM moved
  UNION ALL
  SELECT ${finishedColumns('t')}, true, ${mayBeWritten ? writtenBefore('t.id') : NONE_WRITTEN} FROM task t
   WHERE t.id = ANY($1::uuid[]) AND t.id NOT IN (SELECT id FROM moved)`;
const FINISH = finishStatement(false);
const FINISH_AGAIN = finishStatement(true);

/**
 * The heartbeat: renews the leases $1 holds among $2 and marks the started runs ($4-$6: task id,
 * attempt number, start) RUNNING. Returns every listed task that exists, `held` or not.
 */
const HEARTBEAT = `WITH s AS (SELECT * FROM unnest($4::uuid[], $5::int[], $6::timestamptz[]) AS s(id, n, started_at)),
  locked AS MATERIALIZED (${lockInOrder('$2::uuid[]')}),
  renewed AS (
    UPDATE task AS t
       SET lease_expires_at = now() + make_interval(secs => $3::int / 1000.0),
           status = CASE WHEN s.n = t.attempts + 1 AND t.status <> 'RUNNING' THEN 'RUNNING' ELSE t.status END,
           attempts = CASE WHEN s.n = t.attempts + 1 AND t.status <> 'RUNNING' THEN s.n ELSE t.attempts END,
           started_at = CASE WHEN s.n = t.attempts + 1 AND t.status <> 'RUNNING'
                             THEN COALESCE(t.started_at, LEAST(now(), s.started_at)) ELSE t.started_at END,
           updated_at = CASE WHEN s.n = t.attempts + 1 AND t.status <> 'RUNNING' THEN now() ELSE t.updated_at END
      FROM locked LEFT JOIN s ON s.id = locked.id
     WHERE t.id = locked.id AND t.id = ANY($2::uuid[]) AND ${HELD} AND t.lease_owner = $1
    RETURNING t.id, t.status, t.attempts, t.lease_owner, t.updated_at
  )
  SELECT id, status, attempts, lease_owner AS "leaseOwner", updated_at AS "updatedAt", true AS held FROM renewed
  UNION ALL
  SELECT t.id, t.status, t.attempts, t.lease_owner, t.updated_at, false FROM task t
   WHERE t.id = ANY($2::uuid[]) AND t.id NOT IN (SELECT id FROM renewed)`;

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
      tasks.map((t) => JSON.stringify(t.retryPolicy)),
      tasks.map((t) => json(t.deterministic)),
      tasks.map((t) => t.idempotencyKey),
      tasks.map((t) => t.runAt),
      tasks.map((t) => json(t.traceContext)),
      tasks.map((t) => json(t.wasi)),
      tasks.map((t, i) => inputSearchText(t, ids[i])),
    ];
    if (claimFor) {
      const settled = claimFor.settled ? ids.flatMap((id) => claimFor.settled?.get(id) ?? []) : [];
      const begun = ids.map((id) => (claimFor.settled?.has(id) ? null : (claimFor.started?.get(id) ?? null)));
      params.push(claimFor.node, claimFor.leaseMs, claimFor.at ?? null, begun, ...resultParams(settled));
    }
    const one = claimFor !== undefined && tasks.length === 1;
    const text = one ? INSERT_CLAIMED_ONE : claimFor ? INSERT_CLAIMED : INSERT_QUEUED;
    const rows = await sql.queryStable<InsertedRecord>(text, one ? params.map((p) => (Array.isArray(p) ? (p[0] ?? null) : p)) : params);
    noteInserted(rows.length);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id, i) => {
      const r = byId.get(id);
      return r && toInsertedRow(tasks[i]!, r);
    });
  }

  return {
    raw,
    insertBatch,

    async claim(node, limit, leaseMs) {
      // Only the lease: the task is the node's now, but QUEUED/RETRYING until a worker starts it.
      const rows = await raw(
        `UPDATE task AS t
            SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3::int / 1000.0)
           FROM (SELECT id FROM task t
                  WHERE ${CLAIMABLE} AND t.run_at <= now()
                  ORDER BY ${CLAIM_ORDER}
                  LIMIT $2 FOR UPDATE SKIP LOCKED) AS c
          WHERE t.id = c.id
      RETURNING ${T}`,
        node,
        limit,
        leaseMs,
      );
      return rows.sort(byClaimOrder);
    },

    async reclaimExpired(node, limit, leaseMs, keep = []) {
      // RUNNING: taken over (the caller records the lost attempt). Claimed, never started: back to
      // the queue with its queued_at, i.e. in its place, no attempt spent.
      const rows = await sql.query<TaskRecord & { lostOwner: string | null }>(
        `UPDATE task AS t
            SET lease_owner = CASE WHEN c.status = 'RUNNING' THEN $1 END,
                lease_expires_at = CASE WHEN c.status = 'RUNNING' THEN now() + make_interval(secs => $3::int / 1000.0) END,
                updated_at = now()
           FROM (SELECT id, lease_owner, status FROM task t
                  WHERE ${HELD} AND t.lease_expires_at < now() AND NOT (t.id = ANY($4::uuid[]))
                  ORDER BY t.lease_expires_at
                  LIMIT $2 FOR UPDATE SKIP LOCKED) AS c
          WHERE t.id = c.id
      RETURNING ${T}, c.lease_owner AS "lostOwner"`,
        [node, limit, leaseMs, keep],
      );
      return rows.map((r) => ({ ...toTaskRow(r), lostOwner: r.lostOwner }));
    },

    async heartbeat(node, taskIds, leaseMs, started = []) {
      if (taskIds.length === 0) return [];
      const rows = await sql.query<LeaseState>(HEARTBEAT, [
        node,
        taskIds,
        leaseMs,
        started.map((s) => s.taskId),
        started.map((s) => s.n),
        started.map((s) => s.at),
      ]);
      return rows.map((r) => ({ ...r, status: r.status as TaskStatus, attempts: Number(r.attempts) }));
    },

    async finish(results, opts) {
      if (results.length === 0) return [];
      const rows = await sql.query<Parameters<typeof toFinishedTask>[0]>(opts?.mayBeWritten ? FINISH_AGAIN : FINISH, resultParams(results));
      return rows.map(toFinishedTask);
    },

    async release(node, taskIds) {
      if (taskIds.length === 0) return;
      // Claimed: only the lease goes. RUNNING: back to QUEUED with the attempt undone.
      await sql.query(
        `WITH locked AS MATERIALIZED (${lockInOrder('$2::uuid[]')})
         UPDATE task AS t
            SET status = CASE WHEN t.status = 'RUNNING' THEN 'QUEUED' ELSE t.status END,
                attempts = CASE WHEN t.status = 'RUNNING' THEN t.attempts - 1 ELSE t.attempts END,
                started_at = CASE WHEN t.status = 'RUNNING' AND t.attempts = 1 THEN NULL ELSE t.started_at END,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
           FROM locked WHERE t.id = locked.id AND t.id = ANY($2::uuid[]) AND ${HELD} AND t.lease_owner = $1`,
        [node, taskIds],
      );
    },

    async nextRunAt() {
      // task_delayed_idx holds exactly these rows (due-at-once tasks never enter it): its first entry.
      const rows = await sql.query<{ next: Date | null }>(
        `SELECT min(t.run_at) AS next FROM task t WHERE ${CLAIMABLE} AND t.run_at > t.queued_at`,
      );
      return rows[0]?.next ?? null;
    },
  };
}
