/**
 * What one task costs PostgreSQL, for docs/SCALING.md. A throwaway cluster of its own (Debian
 * PostgreSQL 15's initdb, fsync on, pg_stat_statements loaded; never the shared server), one
 * Spindle node on it (bench/server.mjs), and PGCOST_TASKS hello tasks through the e2e path
 * (GraphQL `submitTasks` ×100 → SUCCEEDED event). Read around the measured run, per task:
 * statements and the rows they touched (pg_stat_statements), commits, WAL bytes, PostgreSQL's
 * CPU (every process of the cluster, from /proc) and the Spindle node's CPU. The statements that
 * cost the most go to bench/results/pgcost-statements.json.
 *
 * Runs as root (CI's machine kind): the cluster belongs to the `postgres` user via runuser.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect, prepare, startServer, throughput } from './e2e.js';
import { machine, sleep, type Metric, type Suite } from './lib.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const TASKS = Number(process.env.PGCOST_TASKS) || 20_000;
const log = (msg: string) => console.error(`  ${msg}`);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime (ms) of a process, and its parent pid; null once it is gone. */
function stat(pid: number): { cpuMs: number; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpuMs: ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK };
  } catch {
    return null;
  }
}

/**
 * CPU of the cluster so far: the postmaster and its children, live and (through the postmaster's
 * cutime/cstime, fields 16–17, counted above) those that exited, e.g. autovacuum workers.
 */
function clusterCpuMs(postmaster: number): number {
  let total = stat(postmaster)?.cpuMs ?? 0;
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === postmaster) continue;
    const s = stat(pid);
    if (s?.ppid === postmaster) total += s.cpuMs;
  }
  return total;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

interface Cluster {
  url: string;
  postmaster: number;
  stop(): Promise<void>;
}

/** initdb + postgres on a free port, as the postgres user when we are root. */
async function startCluster(): Promise<Cluster> {
  if (!existsSync(`${PG_BIN}/initdb`)) throw new Error(`${PG_BIN}/initdb not found (Debian's postgresql-15)`);
  const dir = mkdtempSync(join(os.tmpdir(), 'spindle-pgcost-'));
  const root = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]): [string, string[]] => (root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (root) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const data = join(dir, 'data');
  execFileSync(...as(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']), { stdio: 'ignore' });
  const port = await freePort();
  const settings = ['listen_addresses=127.0.0.1', `unix_socket_directories=${dir}`, 'shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', 'fsync=on'];
  const child: ChildProcess = spawn(...as(`${PG_BIN}/postgres`, ['-D', data, '-p', String(port), ...settings.flatMap((c) => ['-c', c])]), { stdio: 'ignore' });
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => {});
      if (performance.now() > deadline) throw new Error(`private PostgreSQL did not start: ${(err as Error).message}`);
      await sleep(100);
    }
  }
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url,
    postmaster,
    async stop() {
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      process.kill(postmaster, 'SIGINT'); // fast shutdown
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Reading {
  lsn: string;
  commits: number;
  pgCpuMs: number;
  nodeCpuMs: number;
}

async function read(db: pg.Client, cluster: Cluster, nodeCpuMs: number): Promise<Reading> {
  const { rows } = await db.query<{ lsn: string; commits: string }>(
    `SELECT pg_current_wal_lsn()::text AS lsn, (SELECT sum(xact_commit) FROM pg_stat_database)::text AS commits`,
  );
  return { lsn: rows[0]!.lsn, commits: Number(rows[0]!.commits), pgCpuMs: clusterCpuMs(cluster.postmaster), nodeCpuMs };
}

interface Statement {
  query: string;
  toplevel: boolean;
  calls: number;
  rows: number;
  execMs: number;
}

export const pgcostSuite: Suite = {
  name: 'pgcost',
  setup: { cluster: 'private: Debian PostgreSQL 15 initdb, fsync on, pg_stat_statements', tasks: TASKS, batch: 100, batchesInFlight: 4 },
  async run(): Promise<Metric[]> {
    let cluster: Cluster;
    try {
      cluster = await startCluster();
    } catch (err) {
      const note = `no private PostgreSQL: ${(err as Error).message}`;
      log(`pgcost: ${note}`);
      return [{ name: 'pgcost_tasks_per_s', value: NaN, unit: 'tasks/s', note }];
    }
    log(`pgcost: private PostgreSQL at ${cluster.url}`);
    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    const server = await startServer(cluster.url, 'pgcost');
    const conn = connect(server.urls);
    try {
      await prepare(conn);
      await throughput(conn, 2_000, 4, false); // warm-up
      // Stats arrive late (a backend reports its counters when idle): let the warm-up's settle.
      await sleep(1500);
      await db.query('SELECT pg_stat_statements_reset()');
      await db.query('SELECT pg_stat_reset()');
      const before = await read(db, cluster, server.cpuMs());
      const perSecond = await throughput(conn, TASKS);
      const nodeCpuMs = server.cpuMs();
      await sleep(1500);
      const after = await read(db, cluster, nodeCpuMs);
      const { rows: walRows } = await db.query<{ bytes: string }>(`SELECT pg_wal_lsn_diff($1, $2)::text AS bytes`, [after.lsn, before.lsn]);
      const { rows: stmts } = await db.query<{ query: string; calls: string; rows: string; exec_ms: number; toplevel: boolean }>(
        `SELECT query, calls::text, rows::text, total_exec_time AS exec_ms, toplevel FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT ILIKE '%pg_stat%' AND query NOT ILIKE '%pg_current_wal_lsn%' AND query NOT ILIKE '%pg_wal_lsn_diff%'
          ORDER BY total_exec_time DESC`,
      );
      const statements: Statement[] = stmts.map((s) => ({ query: s.query.replace(/\s+/g, ' ').slice(0, 300), calls: Number(s.calls), rows: Number(s.rows), execMs: s.exec_ms, toplevel: s.toplevel }));
      // Top level: what the node sent. Nested: what those ran inside (foreign-key checks, functions); their time is in their callers'.
      const top = statements.filter((s) => s.toplevel);
      const sum = (f: (s: Statement) => number, of = top) => of.reduce((n, s) => n + f(s), 0);
      const per = (x: number) => x / TASKS;
      const out = fileURLToPath(new URL('./results/pgcost-statements.json', import.meta.url));
      writeFileSync(
        out,
        `${JSON.stringify({ machine: machine(), tasks: TASKS, statements: statements.slice(0, 15).map((s) => ({ ...s, callsPerTask: per(s.calls), rowsPerTask: per(s.rows), execUsPerTask: (per(s.execMs) * 1000) })) }, null, 2)}\n`,
      );
      log(`pgcost: top statements by execution time written to ${out}`);
      for (const s of statements.slice(0, 8)) log(`  ${(per(s.execMs) * 1000).toFixed(1)} µs/task  ${per(s.calls).toFixed(3)} calls/task  ${per(s.rows).toFixed(2)} rows/task${s.toplevel ? '' : ' (nested)'}  ${s.query.slice(0, 110)}`);
      return [
        { name: 'pgcost_tasks_per_s', value: perSecond, unit: 'tasks/s', note: `e2e on the private cluster, ${TASKS} tasks` },
        { name: 'pgcost_statements_per_task', value: per(sum((s) => s.calls)), unit: 'statements', note: 'top-level statements the node sent (pg_stat_statements calls)' },
        { name: 'pgcost_nested_statements_per_task', value: per(sum((s) => s.calls, statements.filter((s) => !s.toplevel))), unit: 'statements', note: 'run inside those: foreign-key checks, functions' },
        { name: 'pgcost_commits_per_task', value: per(after.commits - before.commits), unit: 'commits', note: 'pg_stat_database xact_commit, every database' },
        { name: 'pgcost_rows_per_task', value: per(sum((s) => s.rows)), unit: 'rows', note: 'rows returned or changed by those statements' },
        { name: 'pgcost_wal_bytes_per_task', value: per(Number(walRows[0]!.bytes)), unit: 'bytes', note: 'pg_current_wal_lsn difference over the run' },
        { name: 'pgcost_exec_us_per_task', value: per(sum((s) => s.execMs)) * 1000, unit: 'µs', note: 'statement execution time summed (pg_stat_statements total_exec_time)' },
        { name: 'pgcost_pg_cpu_us_per_task', value: (per(after.pgCpuMs - before.pgCpuMs) * 1000), unit: 'µs CPU', note: 'every process of the cluster (/proc utime+stime, exited children included)' },
        { name: 'pgcost_node_cpu_us_per_task', value: (per(after.nodeCpuMs - before.nodeCpuMs) * 1000), unit: 'µs CPU', note: 'the Spindle node process, all threads' },
      ];
    } finally {
      await conn.close().catch(() => {});
      await server.close().catch(() => {});
      await db.end().catch(() => {});
      await cluster.stop();
    }
  },
};
