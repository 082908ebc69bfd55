/**
 * Scale: do the reads the dashboard and the API make by default stay flat as the task table grows?
 * On PostgreSQL only (PGlite would take minutes to seed a million rows and is not where a million
 * rows live): two fresh servers side by side, each on its own schema;
 *   1. one gets 1,000,000 finished tasks (99 % SUCCEEDED, 1 % FAILED, one attempt each) seeded
 *      directly with SQL, then VACUUM ANALYZE (what autovacuum does to rows that finished long ago);
 *   2. both get the same recent tasks (100 FAILED, 1,000 SUCCEEDED), so every page is full on both;
 *      then each read's p50 on both, samples interleaved, so load from elsewhere weighs on both alike;
 *   3. the e2e throughput of both, rounds alternating.
 * `stats` is cached for a second per tenant (services/stats.service.ts): its samples are spaced
 * past that, so each one is a real count.
 */
import { graphql, type TadaDocumentNode } from '../src/client/index.js';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { AGENTS_QUERY, ROW, STATS_QUERY, TASK_QUERY, TASKS_QUERY } from '../web/src/api/queries.js';
import { median, sleep, type Metric } from './lib.js';

export const SCALE_ROWS = Number(process.env.BENCH_SCALE_ROWS) || 1_000_000;
const SAMPLES = 20;
const THROUGHPUT_TASKS = 10_000;
const log = (msg: string) => console.error(`  ${msg}`);

/** A client of the bench's server (bench/e2e.ts Conn). */
interface Conn {
  gql<T = any>(query: string | TadaDocumentNode<any, any, any>, variables?: Record<string, unknown>): Promise<T>;
}

/** What this phase uses of bench/e2e.ts, handed in (so this file does not import it: e2e.ts calls this one). */
export interface Harness {
  /** Runs `body` on a fresh server (registers hello first); a failure becomes `{ error }`. */
  phase<T>(databaseUrl: string, label: string, body: (conn: Conn, server: { pgSchema?: string }) => Promise<T>): Promise<T | { error: string }>;
  /** Submits `total` hello tasks; tasks/s to the last SUCCEEDED event. */
  throughput(conn: Conn, total: number, inFlight?: number, progress?: boolean): Promise<number>;
}

/** The API's default page: no totalCount asked for. */
const LIST = graphql(`query { tasks(first: 50) { pageInfo { hasNextPage endCursor } edges { node { ...Row } } } }`, [ROW]);
const LIST_FAILED = graphql(`query { tasks(first: 50, filter: { status: [FAILED] }) { pageInfo { hasNextPage endCursor } edges { node { ...Row } } } }`, [ROW]);
const TOTAL_COUNT = `{ tasks(first: 1) { totalCount } }`;
/** Exits 1 at once: a FAILED task. */
const FAIL_WAT = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 1))))`;
const RECENT_FAILED = 100;

interface Read {
  name: string;
  what: string;
  /** Sends the read once. */
  send(conn: Conn, ctx: { taskId: string; cursor: string | null }): Promise<unknown>;
  /** Pause between samples (ms). */
  spacing?: number;
}

const READS: Read[] = [
  { name: 'list', what: 'tasks(first: 50), no totalCount (the API default)', send: (c) => c.gql(LIST) },
  { name: 'list_dashboard', what: "the dashboard's task list: tasks(first: 50) with totalCount", send: (c) => c.gql(TASKS_QUERY, { first: 50 }) },
  { name: 'list_page2', what: 'tasks(first: 50, after: page 1 end cursor)', send: (c, x) => c.gql(TASKS_QUERY, { first: 50, after: x.cursor }) },
  { name: 'list_filtered', what: 'tasks(first: 50, status FAILED) with totalCount (dashboard)', send: (c) => c.gql(TASKS_QUERY, { first: 50, filter: { status: ['FAILED'] } }) },
  { name: 'list_failed_nocount', what: 'tasks(first: 50, status FAILED), no totalCount', send: (c) => c.gql(LIST_FAILED) },
  { name: 'totalcount', what: 'tasks(first: 1) { totalCount }', send: (c) => c.gql(TOTAL_COUNT) },
  { name: 'stats', what: "stats, the dashboard's overview (samples 1.1 s apart: past its 1 s cache)", send: (c) => c.gql(STATS_QUERY), spacing: 1_100 },
  { name: 'task_detail', what: "task(id) with attempts, the dashboard's detail", send: (c, x) => c.gql(TASK_QUERY, { id: x.taskId }) },
  { name: 'agents', what: "agents, the dashboard's list", send: (c) => c.gql(AGENTS_QUERY) },
];

/**
 * Searches as a user makes them at 1M tasks: a rare token (one task), a phrase of 1 % of them (the
 * failed ones' error), a word of every task (the newest page comes first, from the created_at
 * index), and the start of a task id. `search_p95_ms_at_1m` is the p95 of all their samples.
 */
const SEARCH_LIST = graphql(`query ($search: String!) { tasks(first: 50, filter: { search: $search }) { edges { node { ...Row } } } }`, [ROW]);
const SEARCHES: { what: string; search(ctx: { taskId: string }): string }[] = [
  { what: 'rare token', search: () => `key-${md5Head(777_777)}` },
  { what: '1 % of tasks', search: () => 'checksum mismatch' },
  { what: 'every task', search: () => 'from spindle' },
  { what: 'id prefix', search: (ctx) => ctx.taskId.slice(0, 13) },
];
const md5Head = (i: number) => createHash('md5').update(String(i)).digest('hex').slice(0, 12);

async function searchP95(side: Side): Promise<{ p95: number; byQuery: Record<string, number> }> {
  const all: number[] = [];
  const byQuery: Record<string, number> = {};
  for (const q of SEARCHES) {
    const variables = { search: q.search(side.ctx) };
    for (let i = 0; i < 3; i++) await side.conn.gql(SEARCH_LIST, variables); // warm-up
    const times: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = performance.now();
      await side.conn.gql(SEARCH_LIST, variables);
      times.push(performance.now() - t0);
    }
    byQuery[q.what] = median(times);
    all.push(...times);
  }
  return { p95: percentile(all, 0.95), byQuery };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]!;

/**
 * Each read's p50 on both servers, their samples interleaved (empty, full, empty, full, …) so a
 * busy neighbour on this 2-core machine weighs on both alike.
 */
async function p50s(empty: Side, full: Side): Promise<{ empty: Record<string, number>; full: Record<string, number> }> {
  const out = { empty: {} as Record<string, number>, full: {} as Record<string, number> };
  for (const read of READS) {
    for (let i = 0; i < 3; i++) for (const side of [empty, full]) await read.send(side.conn, side.ctx); // warm-up: plans, caches
    const times = { empty: [] as number[], full: [] as number[] };
    const n = read.spacing ? 10 : SAMPLES;
    for (let i = 0; i < n; i++) {
      if (read.spacing) await sleep(read.spacing);
      for (const [key, side] of [['empty', empty], ['full', full]] as const) {
        const t0 = performance.now();
        await read.send(side.conn, side.ctx);
        times[key].push(performance.now() - t0);
      }
    }
    out.empty[read.name] = median(times.empty);
    out.full[read.name] = median(times.full);
  }
  return out;
}

interface Side {
  conn: Conn;
  ctx: { taskId: string; cursor: string | null };
}

async function context(conn: Conn): Promise<{ taskId: string; cursor: string | null }> {
  const page = await conn.gql<{ tasks: { pageInfo: { endCursor: string | null }; edges: { node: { id: string } }[] } }>(LIST);
  return { taskId: page.tasks.edges.at(-1)!.node.id, cursor: page.tasks.pageInfo.endCursor };
}

/** Seeds `rows` finished tasks of the hello agent (and one attempt each), older than every task there. */
export async function seed(databaseUrl: string, schema: string, rows: number): Promise<{ seedS: number; vacuumS: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    const t0 = performance.now();
    await client.query('BEGIN');
    // Copy the tenant, agent and limits of a task the bench submitted; rows are 1 s apart, ending a
    // day ago. Ids are time-ordered like the app's (UUIDv7 layout), so the primary keys grow at their
    // right edge instead of splitting pages all over; each task gets its attempt in the same statement.
    await client.query(
      `WITH p AS (SELECT * FROM task ORDER BY created_at LIMIT 1),
       seeded AS (
         INSERT INTO task (id, tenant_id, agent_id, agent_version_id, module_digest, status, timeout_ms, memory_bytes, max_output_bytes,
                           retry, attempts, run_at, queued_at, last_outcome, exit_code, created_at, updated_at, started_at, finished_at, search_text)
         SELECT uuid(lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7000' || '8000' || lpad(to_hex(i), 12, '0')),
                p.tenant_id, p.agent_id, p.agent_version_id, p.module_digest,
                (CASE WHEN i % 100 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END)::task_status,
                p.timeout_ms, p.memory_bytes, p.max_output_bytes, p.retry, 1, ts, ts, 'exited', (i % 100 = 0)::int, ts,
                ts + interval '3 ms', ts + interval '1 ms', ts + interval '3 ms',
                -- What the queue writes (store/search-text.ts): name and args, U+001E, the output.
                'hello job-' || i || ' key-' || substr(md5(i::text), 1, 12) || chr(30) || 'hello from spindle job-' || i || E'\n'
                  || CASE WHEN i % 100 = 0 THEN ' exit 1: checksum mismatch' ELSE '' END
           FROM p, generate_series($1::int, 1, -1) i, LATERAL (SELECT now() - interval '1 day' - i * interval '1 second' AS ts) x
         RETURNING id, tenant_id, exit_code, started_at, finished_at
       )
       INSERT INTO task_attempt (id, task_id, tenant_id, n, node, outcome, exit_code, stdout, started_at, finished_at)
       SELECT uuid(overlay(s.id::text placing '9' from 15 for 1)), s.id, s.tenant_id, 1, 'seed', 'exited', s.exit_code,
              '\\x68656c6c6f2c20776f726c64210a'::bytea, s.started_at, s.finished_at
         FROM seeded s`,
      [rows],
    );
    await client.query('COMMIT');
    const t1 = performance.now();
    await client.query('VACUUM (ANALYZE) task');
    await client.query('VACUUM (ANALYZE) task_attempt');
    return { seedS: (t1 - t0) / 1000, vacuumS: (performance.now() - t1) / 1000 };
  } finally {
    await client.end();
  }
}

/** RECENT_FAILED tasks that fail (exit 1), then the throughput warm-up's 1,000 hello tasks. */
async function recent(h: Harness, conn: Conn): Promise<void> {
  await conn.gql(`mutation ($wat: String!) { registerAgent(input: { name: "fail", wat: $wat }) { id } }`, { wat: FAIL_WAT });
  await conn.gql(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, {
    inputs: Array.from({ length: RECENT_FAILED }, () => ({ agent: 'fail' })),
  });
  const deadline = performance.now() + 60_000;
  const failed = async () =>
    (await conn.gql<{ tasks: { totalCount: number } }>(`{ tasks(first: 1, filter: { status: [FAILED], agent: "fail" }) { totalCount } }`)).tasks.totalCount;
  while ((await failed()) < RECENT_FAILED) {
    if (performance.now() > deadline) throw new Error(`${RECENT_FAILED} failing tasks did not all fail within 60 s`);
    await sleep(200);
  }
  await h.throughput(conn, 1_000, 4, false);
}

/** Waits until no ANALYZE of the schema's task table is under way (pg_stat_progress_analyze). */
async function analyzeDone(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = performance.now() + 60_000;
    const busy = async () =>
      (await client.query(`SELECT 1 FROM pg_stat_progress_analyze WHERE relid = to_regclass($1)`, [`"${schema}".task`])).rowCount! > 0;
    while (performance.now() < deadline && (await busy())) await sleep(50);
  } finally {
    await client.end();
  }
}

/** Throughput on both servers, alternating rounds (empty, full, empty, full); the mean of each's rounds. */
async function throughputs(h: Harness, empty: Conn, full: Conn): Promise<{ empty: number; full: number }> {
  const rounds = { empty: [] as number[], full: [] as number[] };
  for (let round = 0; round < 2; round++) {
    rounds.empty.push(await h.throughput(empty, THROUGHPUT_TASKS / 2, 4, false));
    rounds.full.push(await h.throughput(full, THROUGHPUT_TASKS / 2, 4, false));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { empty: mean(rounds.empty), full: mean(rounds.full) };
}

/**
 * The scale phase's figures; NaN with a note when PostgreSQL is not there or the phase failed.
 * Two servers side by side, each on a fresh schema: one stays (nearly) empty, the other gets
 * SCALE_ROWS finished tasks; reads and throughput are measured on both in one stretch of time.
 */
export async function scaleMetrics(h: Harness, databaseUrl: string | null): Promise<Metric[]> {
  if (!databaseUrl) return [{ name: 'list_p50_ms_at_1m', value: NaN, unit: 'ms', note: 'PostgreSQL not reachable (the scale phase runs on PostgreSQL only)' }];
  const result = await h.phase(databaseUrl, 'pg-scale-empty', (emptyConn) =>
    h.phase(databaseUrl, 'pg-scale-full', async (fullConn, server) => {
      log(`scale: seeding ${SCALE_ROWS} tasks`);
      const { seedS, vacuumS } = await seed(databaseUrl, server.pgSchema!, SCALE_ROWS);
      log(`scale: seeded in ${seedS.toFixed(1)} s, VACUUM ANALYZE ${vacuumS.toFixed(1)} s`);
      // Both get the same recent tasks (FAILED ones and the throughput warm-up's), so every page read
      // is full on both and the only difference is the million older rows.
      for (const conn of [emptyConn, fullConn]) await recent(h, conn);
      // The server's own ANALYZE after those inserts (store/queue.ts) reads a sample of the million
      // rows for a while: let it end, or the first reads measure it.
      await analyzeDone(databaseUrl, server.pgSchema!);
      const empty = { conn: emptyConn, ctx: await context(emptyConn) };
      const full = { conn: fullConn, ctx: await context(fullConn) };
      const reads = await p50s(empty, full);
      log(`scale: empty: ${fmt(reads.empty)}`);
      log(`scale: at ${SCALE_ROWS}: ${fmt(reads.full)}`);
      const search = await searchP95(full);
      log(`scale: search at ${SCALE_ROWS}: p95 ${search.p95.toFixed(1)} ms; p50s ${fmt(search.byQuery)}`);
      const tput = await throughputs(h, emptyConn, fullConn);
      log(`scale: ${tput.empty.toFixed(0)} tasks/s on the empty table, ${tput.full.toFixed(0)} with ${SCALE_ROWS} rows there`);
      return { before: reads.empty, after: reads.full, tputEmpty: tput.empty, tputFull: tput.full, seedS, search };
    }),
  );
  if ('error' in result) return [{ name: 'list_p50_ms_at_1m', value: NaN, unit: 'ms', note: `failed: ${result.error}` }];
  const { before, after, tputEmpty, tputFull, seedS, search } = result;
  const metrics: Metric[] = [];
  for (const read of READS) {
    const tag = read.name;
    metrics.push(
      { name: `${tag}_p50_ms_empty`, value: before[tag]!, unit: 'ms', note: read.what },
      { name: `${tag}_p50_ms_at_1m`, value: after[tag]!, unit: 'ms', target: `≤ ${(2 * before[tag]!).toFixed(1)} (2× empty)`, note: `${SCALE_ROWS} finished tasks; ${(after[tag]! / before[tag]!).toFixed(2)}× empty` },
    );
  }
  metrics.push(
    { name: 'e2e_pg_tasks_per_s_empty_table', value: tputEmpty, unit: 'tasks/s', note: `${THROUGHPUT_TASKS} hello tasks (2 rounds, alternating with the full server)` },
    { name: 'e2e_pg_tasks_per_s_at_1m', value: tputFull, unit: 'tasks/s', note: `${THROUGHPUT_TASKS} hello tasks with ${SCALE_ROWS} finished tasks there; ${(tputFull / tputEmpty).toFixed(2)}× the empty server` },
    {
      name: 'search_p95_ms_at_1m',
      value: search.p95,
      unit: 'ms',
      note: `tasks(first: 50, filter: { search }) at ${SCALE_ROWS} tasks, p95 of ${SEARCHES.length}×${SAMPLES} samples (${fmt(search.byQuery)} p50)`,
    },
    { name: 'scale_seed_s', value: seedS, unit: 's', note: `INSERT … SELECT generate_series of ${SCALE_ROWS} tasks + attempts` },
  );
  return metrics;
}

const fmt = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
