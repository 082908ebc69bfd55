/**
 * The alias flood of issue 9: can API load starve the executor?
 *
 * One node in its own process (src/main.ts through test/helpers/node-process.ts), LEASE_MS=5000,
 * 6 workers, a tenant of 30k finished tasks (PostgreSQL: cloned in bulk by SQL; PGlite: submitted
 * and run). Then, per database:
 *
 * - idle baseline: a one-task submit, answer time and submit → SUCCEEDED event (median of 15);
 * - each flood shape (test/helpers/flood.ts): the costliest request the default MAX_QUERY_COST
 *   admits, alone: wall time (median of 3) and the node process's CPU time (all threads) for it,
 *   which a busy neighbour on the machine inflates far less than the wall time;
 * - three at once of the totalCount flood (the finding) and of the attempts flood (the most
 *   statements per request), while 4 sleeper tasks (6 s, longer than a lease) hold leases on 4 of
 *   the 6 workers, and a one-task submit every 250 ms: its answer time and its submit → SUCCEEDED
 *   time (claim, run on a free worker, result write), against the idle baseline;
 * - leases: on PostgreSQL the least lease headroom seen (sampled every 100 ms on a connection of
 *   our own; below 0 a lease expired) and the node's "lease expired" warnings.
 *
 * BENCH_FLOOD_DB=pg|pglite runs one database only; BENCH_FLOOD_TASKS changes the tenant's size;
 * BENCH_FLOOD_SHAPES=a,b measures those shapes only.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/index.js';
import { makeSchema } from '../src/graphql/schema.js';
import { FLOOD_SHAPES, floodQuery, maxAliases, seedTasks, type FloodShape } from '../test/helpers/flood.js';
import { spawnNode, type NodeProcess } from '../test/helpers/node-process.js';
import { dropSchema } from '../test/helpers/store.js';
import { postgresUrl } from './e2e.js';
import { percentile, sleep, sorted, type Metric, type Suite } from './lib.js';

const TASKS = Number(process.env.BENCH_FLOOD_TASKS) || 30_000;
const LEASE_MS = 5_000;
const SLEEPER_WAT = readFileSync(new URL('../test/fixtures/wat/sleep_6s.wat', import.meta.url), 'utf8');
const SLEEPERS = 4;
/** Shapes sent three at once: the finding's, and the one with the most statements per request. */
const THREE_AT_ONCE: FloodShape[] = ['totalCount', 'attempts'];
const WORKERS = 6;
const log = (msg: string) => console.error(`  ${msg}`);

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** utime + stime of a process, all threads (fields 14 and 15 of /proc/<pid>/stat). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

interface Answer {
  ms: number;
  errors: string[];
}

interface Conn {
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[]; ms: number }>;
  ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Resolves with performance.now() when the task's SUCCEEDED event arrives. */
  succeeded(id: string): Promise<number>;
  close(): Promise<void>;
}

function connect(node: NodeProcess): Conn {
  const ws: Client = createClient({ url: node.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
  const waiting = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  ws.subscribe<{ taskEvents: { taskId: string } }>(
    { query: 'subscription { taskEvents(filter: { status: [SUCCEEDED] }) { taskId } }' },
    {
      next: (r) => {
        const id = r.data?.taskEvents.taskId;
        if (!id) return;
        const at = performance.now();
        const resolve = waiting.get(id);
        if (resolve) {
          waiting.delete(id);
          resolve(at);
        } else early.set(id, at);
      },
      error: (err) => log(`subscription error: ${JSON.stringify(err)}`),
      complete: () => {},
    },
  );
  const gql: Conn['gql'] = async (query, variables) => {
    const t0 = performance.now();
    const res = await fetch(node.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
    return { ...body, ms: performance.now() - t0 };
  };
  return {
    gql,
    async ok(query, variables) {
      const r = await gql(query, variables);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors).slice(0, 500)}`);
      return r.data;
    },
    succeeded(id) {
      const at = early.get(id);
      if (at !== undefined) {
        early.delete(id);
        return Promise.resolve(at);
      }
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    close: () => ws.dispose() as Promise<void>,
  };
}

const SUBMIT_HELLO = `mutation { submitTask(input: { agent: "hello" }) { id } }`;

/** One submit: answer time, and submit → SUCCEEDED event. */
async function submitOne(conn: Conn): Promise<{ answerMs: number; succeededMs: number }> {
  const t0 = performance.now();
  const r = await conn.gql<{ submitTask: { id: string } }>(SUBMIT_HELLO);
  if (!r.data) throw new Error(`submit failed: ${JSON.stringify(r.errors)}`);
  const answerMs = performance.now() - t0;
  const at = await Promise.race([conn.succeeded(r.data.submitTask.id), sleep(120_000).then(() => NaN)]);
  return { answerMs, succeededMs: at - t0 };
}

async function baseline(conn: Conn) {
  const answers: number[] = [];
  const succeeded: number[] = [];
  for (let i = 0; i < 15; i++) {
    const s = await submitOne(conn);
    answers.push(s.answerMs);
    succeeded.push(s.succeededMs);
    await sleep(50);
  }
  return { answerMs: percentile(sorted(answers), 50), succeededMs: percentile(sorted(succeeded), 50) };
}

async function waitIdle(conn: Conn, timeoutMs = 300_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { tasks } = await conn.ok(`{ tasks(filter: { status: [QUEUED, RETRYING, RUNNING] }, first: 1) { totalCount } }`);
    if (tasks.totalCount === 0) return;
    if (Date.now() > end) throw new Error(`${tasks.totalCount} tasks still unfinished`);
    await sleep(500);
  }
}

/** PGlite: no way in from outside the node, so the tenant is filled through the API (the tasks really run). */
async function seedThroughApi(conn: Conn, count: number) {
  const batch = Array.from({ length: 1000 }, () => ({ agent: 'hello' }));
  for (let done = 0; done < count; done += 1000) {
    await conn.ok(`mutation ($b: [SubmitTaskInput!]!) { submitTasks(inputs: $b) { id } }`, { b: batch.slice(0, Math.min(1000, count - done)) });
  }
  await waitIdle(conn);
}

async function taskIds(conn: Conn, max: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  while (ids.length < max) {
    const { tasks }: any = await conn.ok(`query ($a: String) { tasks(first: 500, after: $a) { edges { node { id } } pageInfo { endCursor hasNextPage } } }`, { a: after });
    ids.push(...tasks.edges.map((e: { node: { id: string } }) => e.node.id));
    if (!tasks.pageInfo.hasNextPage) break;
    after = tasks.pageInfo.endCursor;
  }
  return ids;
}

/** Least lease headroom among RUNNING tasks, sampled every 100 ms (PostgreSQL only). */
function leaseSampler(url: string, schema: string) {
  const client = new pg.Client({ connectionString: url, options: `-c search_path="${schema}"` });
  let least = Infinity;
  let samples = 0;
  let stopped = false;
  const done = (async () => {
    await client.connect();
    while (!stopped) {
      const { rows } = await client.query<{ ms: number | null }>(
        `SELECT extract(epoch FROM min(lease_expires_at) - clock_timestamp()) * 1000 AS ms FROM task WHERE status = 'RUNNING'`,
      );
      if (rows[0]?.ms !== null && rows[0]?.ms !== undefined) least = Math.min(least, Number(rows[0].ms));
      samples++;
      await sleep(100);
    }
    await client.end();
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { leastMs: least, samples };
    },
  };
}

interface DbResult {
  db: string;
  idle: { answerMs: number; succeededMs: number };
  shapes: { shape: FloodShape; aliases: number; cost: number; ms: number; cpuMs: number; errors: string[] }[];
  concurrent: { shape: FloodShape; floodMs: number[]; floodErrors: string[]; answerMs: number[]; succeededMs: number[] }[];
  lease: { leastMs: number; samples: number } | null;
  leaseExpiredLogs: number;
}

async function measure(databaseUrl: string | undefined): Promise<DbResult> {
  const db = databaseUrl ? 'PostgreSQL' : 'PGlite';
  const dataDir = mkdtempSync(join(os.tmpdir(), 'spindle-flood-'));
  const schema = `flood_${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = { DATA_DIR: dataDir, LEASE_MS: String(LEASE_MS), WORKERS: String(WORKERS), LOG_LEVEL: 'warn', QUOTA_QUEUED_TASKS: '1000000', QUOTA_ACTIVE_TASKS: '1000000' };
  if (databaseUrl) env.DATABASE_URL = `${databaseUrl}${databaseUrl.includes('?') ? '&' : '?'}schema=${schema}`;
  const node = await spawnNode(env);
  const conn = connect(node);
  try {
    const graphqlSchema = await makeSchema();
    const maxCost = loadConfig({}).graphql.maxCost;
    await conn.ok(`mutation ($w: String!) { registerAgent(input: { name: "sleeper", wat: $w, defaultLimits: { timeoutMs: 20000 } }) { id } }`, { w: SLEEPER_WAT });

    log(`${db}: seeding ${TASKS} tasks`);
    const t0 = performance.now();
    let ids: string[];
    if (databaseUrl) {
      const { submitTask } = await conn.ok<{ submitTask: { id: string } }>(SUBMIT_HELLO);
      await waitIdle(conn);
      ids = [submitTask.id, ...(await seedTasks(databaseUrl, schema, submitTask.id, TASKS - 1))];
    } else {
      await seedThroughApi(conn, TASKS);
      ids = await taskIds(conn, TASKS);
    }
    log(`${db}: seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    await baseline(conn); // warm-up
    const idle = await baseline(conn);
    log(`${db}: idle submit: answer ${idle.answerMs.toFixed(1)} ms, SUCCEEDED after ${idle.succeededMs.toFixed(1)} ms`);

    const shapes: DbResult['shapes'] = [];
    const only = process.env.BENCH_FLOOD_SHAPES?.split(',');
    for (const shape of (Object.keys(FLOOD_SHAPES) as FloodShape[]).filter((s) => !only || only.includes(s))) {
      const { n, cost } = maxAliases(graphqlSchema, shape, maxCost, ids);
      if (n === 0) {
        shapes.push({ shape, aliases: 0, cost, ms: 0, cpuMs: 0, errors: ['one alias costs more than MAX_QUERY_COST'] });
        continue;
      }
      const query = floodQuery(shape, n, ids);
      const times: number[] = [];
      const cpu: number[] = [];
      const errors = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const cpu0 = cpuMs(node.pid);
        const r = await conn.gql(query);
        cpu.push(cpuMs(node.pid) - cpu0);
        times.push(r.ms);
        for (const e of r.errors ?? []) errors.add(e.extensions?.code ?? e.message);
      }
      const ms = percentile(sorted(times), 50);
      shapes.push({ shape, aliases: n, cost, ms, cpuMs: percentile(sorted(cpu), 50), errors: [...errors] });
      log(`${db}: ${shape} ×${n} (cost ${cost}): ${ms.toFixed(0)} ms, node CPU ${percentile(sorted(cpu), 50).toFixed(0)} ms${errors.size ? `, errors ${[...errors].join(', ')}` : ''}`);
    }

    // Three at once of each of THREE_AT_ONCE, while sleepers hold leases; a one-task submit every 250 ms.
    await conn.ok(`mutation { submitTasks(inputs: [${Array(SLEEPERS).fill('{ agent: "sleeper" }').join(', ')}]) { id } }`);
    await sleep(500); // let them start
    const sampler = databaseUrl ? leaseSampler(databaseUrl, schema) : null;
    const concurrent: DbResult['concurrent'] = [];
    for (const shape of THREE_AT_ONCE) {
      const measured = shapes.find((s) => s.shape === shape);
      if (!measured?.aliases) continue;
      const query = floodQuery(shape, measured.aliases, ids);
      const floodErrors = new Set<string>();
      let floodsDone = false;
      const floods = Promise.all(
        [0, 1, 2].map(async () => {
          const r = await conn.gql(query);
          for (const e of r.errors ?? []) floodErrors.add(e.extensions?.code ?? e.message);
          return r.ms;
        }),
      ).finally(() => (floodsDone = true));
      const probes: Promise<{ answerMs: number; succeededMs: number }>[] = [];
      await sleep(100);
      do {
        probes.push(submitOne(conn));
        await sleep(250);
      } while (!floodsDone);
      const floodMs = await floods;
      const probed = await Promise.all(probes);
      const c = { shape, floodMs, floodErrors: [...floodErrors], answerMs: probed.map((p) => p.answerMs), succeededMs: probed.map((p) => p.succeededMs) };
      concurrent.push(c);
      log(`${db}: 3 × ${shape} at once: ${floodMs.map((m) => m.toFixed(0)).join(', ')} ms; submits during them: answer max ${Math.max(...c.answerMs).toFixed(0)} ms, SUCCEEDED max ${Math.max(...c.succeededMs).toFixed(0)} ms (${probed.length} submits)`);
    }
    await waitIdle(conn);
    const lease = sampler ? await sampler.stop() : null;
    if (lease) log(`${db}: least lease headroom ${lease.leastMs.toFixed(0)} ms of ${LEASE_MS} (${lease.samples} samples)`);
    const leaseExpiredLogs = node.logs().filter((l) => String(l.msg ?? '').includes('lease expired')).length;
    return { db, idle, shapes, concurrent, lease, leaseExpiredLogs };
  } finally {
    await conn.close().catch(() => {});
    await node.stop();
    if (databaseUrl) await dropSchema(databaseUrl, schema).catch((err: Error) => log(`dropping ${schema} failed: ${err.message}`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function metricsOf(r: DbResult): Metric[] {
  const tag = r.db === 'PostgreSQL' ? 'pg' : 'pglite';
  const pgTarget = (t: string) => (tag === 'pg' ? t : undefined);
  const out: Metric[] = [
    { name: `${tag}_idle_submit_ms`, value: r.idle.answerMs, unit: 'ms', note: 'one-task submit answered, idle node (median of 15)' },
    { name: `${tag}_idle_submit_succeeded_ms`, value: r.idle.succeededMs, unit: 'ms', note: 'submit → SUCCEEDED event, idle node (median of 15)' },
    ...r.shapes.map((s) => ({
      name: `${tag}_flood_${s.shape}_ms`,
      value: s.ms,
      unit: 'ms',
      target: pgTarget('≤ 1000'),
      note: `${s.aliases} aliases, cost ${s.cost} (median of 3)${s.errors.length ? `; errors: ${s.errors.join(', ')}` : ''}`,
    })),
    ...r.shapes.map((s) => ({ name: `${tag}_flood_${s.shape}_cpu_ms`, value: s.cpuMs, unit: 'ms CPU', note: 'the node process, all threads, for that request (median of 3)' })),
  ];
  for (const c of r.concurrent) {
    const maxAnswer = Math.max(...c.answerMs);
    const maxSucceeded = Math.max(...c.succeededMs);
    out.push(
      { name: `${tag}_three_${c.shape}_max_ms`, value: Math.max(...c.floodMs), unit: 'ms', note: `3 × ${c.shape} at once${c.floodErrors.length ? `; errors: ${c.floodErrors.join(', ')}` : ''}` },
      { name: `${tag}_three_${c.shape}_submit_delay_ms`, value: maxAnswer - r.idle.answerMs, unit: 'ms', target: pgTarget('≤ 300'), note: `worst of ${c.answerMs.length} submits during them (max ${maxAnswer.toFixed(0)} ms) minus the idle median` },
      { name: `${tag}_three_${c.shape}_succeeded_delay_ms`, value: maxSucceeded - r.idle.succeededMs, unit: 'ms', note: `same submits, submit → SUCCEEDED event (max ${maxSucceeded.toFixed(0)} ms) minus the idle median: the executor's own statements` },
    );
  }
  if (r.lease) {
    out.push({ name: `${tag}_least_lease_headroom_ms`, value: r.lease.leastMs, unit: 'ms', target: '> 0', note: `LEASE_MS=${LEASE_MS}, ${SLEEPERS} sleepers (6 s) running through the floods; sampled every 100 ms (${r.lease.samples} samples)` });
  }
  out.push({ name: `${tag}_lease_expired_logs`, value: r.leaseExpiredLogs, unit: 'count', target: '0', note: 'node warnings about expired leases' });
  return out;
}

export const floodSuite: Suite = {
  name: 'flood',
  setup: { tasks: TASKS, leaseMs: LEASE_MS, workers: WORKERS, sleepers: SLEEPERS, nodeProcess: 'src/main.ts (test/helpers/node-process.ts)', shapes: Object.keys(FLOOD_SHAPES) },
  async run(): Promise<Metric[]> {
    const only = process.env.BENCH_FLOOD_DB;
    const metrics: Metric[] = [];
    const pgUrl = only === 'pglite' ? null : await postgresUrl();
    if (pgUrl) metrics.push(...metricsOf(await measure(pgUrl)));
    else if (only !== 'pglite') log('PostgreSQL not reachable: set DATABASE_URL (PostgreSQL figures skipped)');
    if (only !== 'pg') metrics.push(...metricsOf(await measure(undefined)));
    return metrics;
  },
};
