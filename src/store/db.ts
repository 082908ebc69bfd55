/**
 * Opening the database: PGlite in-process (default) or PostgreSQL pools, migrations first, then a
 * Prisma client over the matching driver adapter. Also the cross-node wake-up channel.
 *
 * Statements go in three lanes, so API load cannot starve the executor (docs/RATIONALE.md):
 * - the executor's (Sql.query, Sql.transaction: claims, heartbeats, result writes, recovery, ANALYZE,
 *   NOTIFY): on PostgreSQL a pool of their own; on PGlite first in line for its one connection;
 * - submits (Sql.queryStable: the inserts and their idempotency lookups): on PostgreSQL their own
 *   small pool (generic plans); on PGlite first in line too (one bounded batch each);
 * - the API's (the Prisma client, Database.apiQuery): on PostgreSQL a pool of their own whose
 *   connections carry `statement_timeout`; on PGlite, which ignores statement_timeout, in order
 *   behind the executor's lane. Either way each API request has only a few statements queued at
 *   once (store/per-request.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { migrate, readMigrations, type MigrationConnection } from './migrate.js';
import { encodeParams, queueTypes } from './pg-values.js';
import { makeLocalNotifier, makePgNotifier, type Notifier } from './notify.js';
import { pgliteClientConfig } from './pglite-socket.js';
import { makeScheduler, type Scheduler } from './schedule.js';

/** The client as the store makes it: task.search_text omitted from every read (OMIT). */
export type Prisma = PrismaClient<never, typeof OMIT>;

/**
 * Plain SQL on the driver itself, for the queue's hot paths: the Prisma client costs about three
 * times the CPU per batch (parameter and row conversion through its engine), and on a 2-core node
 * that CPU belongs to the guests. Rows come back as the driver parses them; src/store/map.ts
 * normalises the differences (int8 as string on pg, bytea as Buffer on pg).
 */
export interface Sql {
  query: Query;
  /**
   * `query` for statements whose best plan does not depend on their parameters (the queue's
   * inserts: unnest → insert, whatever the batch size). PostgreSQL plans them once per connection
   * and reuses that generic plan, where `query` plans every execution; for a one-row insert that
   * planning was 0.45 of 1.1 ms. On PGlite the same as `query`.
   */
  queryStable: Query;
  /**
   * Runs `work` in one READ COMMITTED transaction on one connection: committed when it resolves,
   * rolled back when it throws. Await nothing but `query` inside: on PGlite (one connection) any
   * other database work would wait for this transaction, which waits for it.
   */
  transaction<R>(work: (query: Query) => Promise<R>): Promise<R>;
}

export type Query = <T>(text: string, params?: unknown[]) => Promise<T[]>;

export interface Database {
  kind: 'pglite' | 'postgres';
  /** For API requests: the API lane (statement timeout on PostgreSQL). */
  prisma: Prisma;
  /** The executor's lane (query, transaction) and the submits' (queryStable). */
  sql: Sql;
  /** Raw SQL for API requests (cancel, retry): the API lane, like `prisma`. */
  apiQuery: Query;
  notifier: Notifier;
  /**
   * Whether this node's executor can reach the database: `SELECT 1` in the executor's lane, which
   * is what the executor needs, and not behind API load (the API lane would report a busy node as
   * down, and an orchestrator would take it out of rotation). One ping at a time: a ping asked for
   * while one is pending shares it, so a hanging database gets one ping queued in the executor's
   * lane however often /healthz is polled, not one a second to run ahead of claims when it returns.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  pgSchema?: string;
  migrationsDir?: string;
  /** PostgreSQL: connections for API statements (default 8); the executor and submits have their own. */
  poolSize?: number;
  /**
   * PostgreSQL: `statement_timeout` of API statements in ms (0 = none; default 0 here, the config
   * sets API_STATEMENT_TIMEOUT_MS). Executor statements never time out. PGlite ignores it.
   */
  apiStatementTimeoutMs?: number;
  /** Errors of idle connections and of the LISTEN connection (they are retried, not fatal). */
  onError?: (err: Error) => void;
}

/** Columns no read needs: task.search_text is only matched (WHERE), never shown, and up to 4 KiB a row. */
const OMIT = { task: { searchText: true } } as const;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts, opts.databaseUrl) : openPglite(opts);
}

/**
 * PGlite's settings: PostgreSQL's defaults but for shared_buffers, 16 MB instead of 128 MB. Its
 * pages live in the OS page cache as well (plain files under DATA_DIR), and PGlite's Wasm heap
 * never shrinks: what shared_buffers takes stays resident (Emscripten zeroes it at start). 16 MB
 * against 32 MB: the same PGlite throughput in the e2e bench (1,859-1,902 against 1,886-1,909
 * tasks/s on a slow day), 16 MiB less RSS.
 */
const PGLITE_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * initdb of a new data directory in a child process that then exits. It takes PGlite's heap to
 * ~750 MiB, and a Wasm heap never gives memory back. A worker thread is not enough either: its Wasm
 * memory goes with it, but the C heap it grew (V8 compiling PGlite, initdb's buffers) stays with
 * the process, ~120 MiB of a fresh node's footprint. A process returns all of it.
 */
async function initPglite(dir: string): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  const code = `const [pglite, dir, params] = JSON.parse(process.argv[1]);
const { PGlite } = await import(pglite);
const db = await PGlite.create(dir, { startParams: params });
await db.close();`;
  const args = JSON.stringify([import.meta.resolve('@electric-sql/pglite'), dir, PGLITE_PARAMS]);
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '--eval', code, args], { maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`PGlite's initdb of ${dir} failed (${err.code ?? err.signal}): ${stderr.trim().slice(-2000) || err.message}`));
      else resolve();
    });
  });
}

async function openPglite(opts: DatabaseOptions): Promise<Database> {
  const dir = join(opts.dataDir, 'pglite');
  await mkdir(dir, { recursive: true });
  await initPglite(dir);
  // No extensions: task search's trigram index is PostgreSQL's only (migration task_search).
  const db = await PGlite.create(dir, { startParams: PGLITE_PARAMS });
  try {
    await migrate(pgliteMigrationConnection(db), await readMigrations(opts.migrationsDir));
  } catch (err) {
    await db.close();
    throw err;
  }
  // One connection: every statement, Prisma's included, waits here for its turn, so the executor
  // waits at most for the one API statement in progress (and the cost model bounds that one).
  // PGlite queues statements itself, in order of arrival; ours decides that order instead.
  const scheduler = makeScheduler({ slots: 1, yieldToIo: true });
  const first = <T>(work: () => Promise<T>) => scheduler.run(true, work);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(scheduledPglite(db, scheduler)), omit: OMIT });
  // node-postgres over the PGlite instance: named statements are parsed once, and after a few runs
  // planned once (plan_cache_mode auto). Parsing and planning the queue's CTEs in Wasm was most of
  // a one-task submit's cost: at 200 submits/s, 1.0 core and p50 6-26 ms; prepared, 0.75 core and ~3 ms.
  const client = new pg.Client({ ...pgliteClientConfig(db), types: queueTypes });
  await client.connect();
  const named = async <T>(text: string, params?: unknown[]) => (await client.query({ text, values: encodeParams(params), name: statementName(text) })).rows as T[];
  const query: Query = <T>(text: string, params?: unknown[]) => first(() => named<T>(text, params));
  return {
    kind: 'pglite',
    prisma,
    sql: {
      query,
      queryStable: query,
      transaction: (work) =>
        first(async () => {
          await client.query('BEGIN');
          try {
            const result = await work(named);
            await client.query('COMMIT');
            return result;
          } catch (err) {
            await client.query('ROLLBACK');
            throw err;
          }
        }),
    },
    apiQuery: <T>(text: string, params?: unknown[]) => scheduler.run(false, () => named<T>(text, params)),
    notifier: makeLocalNotifier(),
    ping: oneAtATime(() => first(async () => void (await db.query('SELECT 1')))),
    close: async () => {
      await prisma.$disconnect();
      await client.end();
      await db.close();
    },
  };
}

/**
 * The PGlite object as Prisma's adapter (pglite-prisma-adapter 0.7) uses it: query, exec and
 * transaction, each one unit in the API lane (a transaction holds the connection until it settles).
 */
function scheduledPglite(db: PGlite, scheduler: Scheduler): PGlite {
  const api = <T>(work: () => Promise<T>) => scheduler.run(false, work);
  const facade: Pick<PGlite, 'query' | 'exec' | 'transaction'> = {
    query: (...args: Parameters<PGlite['query']>) => api(() => db.query(...args)),
    exec: (...args: Parameters<PGlite['exec']>) => api(() => db.exec(...args)),
    transaction: (...args: Parameters<PGlite['transaction']>) => api(() => db.transaction(...args)),
  } as Pick<PGlite, 'query' | 'exec' | 'transaction'>;
  return facade as PGlite;
}

function pgliteMigrationConnection(db: PGlite): MigrationConnection {
  return {
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
    transaction: async (script, after) => {
      await db.transaction(async (tx) => {
        await tx.exec(script);
        await tx.query(after.sql, after.params);
      });
    },
  };
}

async function openPostgres(opts: DatabaseOptions, url: string): Promise<Database> {
  // Prisma's own convention, `?schema=name` in the URL, works too.
  const schema = opts.pgSchema ?? schemaFromUrl(url) ?? 'public';
  if (!SCHEMA_NAME.test(schema)) throw new Error(`pgSchema must match ${SCHEMA_NAME}, got ${JSON.stringify(schema)}`);
  const onError = opts.onError ?? (() => {});
  // search_path on every pooled connection: raw SQL stays unqualified and lands in `schema`.
  // Custom plans for the executor: the best plan for a claim or a batch write depends on its array
  // sizes, and a cached generic plan for the finish statement measured ~15x slower. The inserts go
  // through a small pool of their own that keeps generic plans (Sql.queryStable).
  const session = `-c search_path="${schema}"`;
  const connection: pg.ClientConfig = { connectionString: url, options: `${session} -c plan_cache_mode=force_custom_plan`, types: queueTypes };
  const stableConnection: pg.ClientConfig = { connectionString: url, options: `${session} -c plan_cache_mode=auto`, types: queueTypes };
  const timeout = opts.apiStatementTimeoutMs ?? 0;
  const apiConnection: pg.ClientConfig = { connectionString: url, options: `${session}${timeout > 0 ? ` -c statement_timeout=${timeout}` : ''}` };

  await migratePostgres(connection, schema, opts.migrationsDir);

  const apiSize = opts.poolSize ?? API_POOL_SIZE;
  const pool = new pg.Pool({ ...connection, application_name: 'spindle', max: EXECUTOR_POOL_SIZE, idleTimeoutMillis: 30_000 });
  const stablePool = new pg.Pool({ ...stableConnection, application_name: 'spindle', max: STABLE_POOL_SIZE, idleTimeoutMillis: 30_000 });
  const apiPool = new pg.Pool({ ...apiConnection, application_name: 'spindle-api', max: apiSize, idleTimeoutMillis: 30_000 });
  const pools = [pool, stablePool, apiPool];
  for (const p of pools) p.on('error', onError);
  const notifier = await makePgNotifier(connection, pool, schema, onError).catch(async (err) => {
    await Promise.all(pools.map((p) => p.end()));
    throw err;
  });
  const prisma = new PrismaClient({ adapter: new PrismaPg(apiPool, { schema }), omit: OMIT });
  return {
    kind: 'postgres',
    prisma,
    sql: {
      query: async <T>(text: string, params?: unknown[]) => (await pool.query({ text, values: encodeParams(params), name: statementName(text) })).rows as T[],
      queryStable: async <T>(text: string, params?: unknown[]) => (await stablePool.query({ text, values: encodeParams(params), name: statementName(text) })).rows as T[],
      transaction: (work) => pgTransaction(pool, work),
    },
    apiQuery: async <T>(text: string, params?: unknown[]) => (await apiPool.query({ text, values: encodeParams(params), name: statementName(text) })).rows as T[],
    notifier,
    ping: oneAtATime(async () => void (await pool.query('SELECT 1'))),
    close: async () => {
      await notifier.close();
      await prisma.$disconnect();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

/** `work`, unless a call is still pending: then that call's promise (Database.ping). */
function oneAtATime(work: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | null = null;
  return () => (pending ??= work().finally(() => (pending = null)));
}

/** Connections for Sql.queryStable: the submit path's inserts (a few in flight at once). */
const STABLE_POOL_SIZE = 4;
/**
 * Connections for the executor: its claim loop, two result writers, the heartbeat, and now and
 * then recovery, the delayed-task probe, NOTIFY or ANALYZE (a capped claim's transaction holds
 * one). The e2e benchmark's throughput and CPU per task did not move from the shared pool of 10.
 */
const EXECUTOR_POOL_SIZE = 5;
/**
 * Connections for API statements. pg.Pool serves them in order of arrival; each request has at
 * most 2 reads in flight (store/per-request.ts), so a one-task submit never queues behind a
 * flood's thousands of statements, only behind the few each request has in flight.
 */
const API_POOL_SIZE = 8;

async function pgTransaction<R>(pool: pg.Pool, work: (query: Query) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no listener for its socket errors, and pg throws an unheard 'error'
  // event: the process would die when the database goes away mid-transaction. The query fails anyway.
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(async <T>(text: string, params?: unknown[]) => (await client.query({ text, values: encodeParams(params), name: statementName(text) })).rows as T[]);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that cannot even roll back is not given back to the pool.
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    // A broken client keeps the listener: it is discarded, and its socket may still report the end.
    if (!broken) client.off('error', onError);
    client.release(broken);
  }
}

function schemaFromUrl(url: string): string | null {
  try {
    return new URL(url).searchParams.get('schema');
  } catch {
    return null;
  }
}

/**
 * Hot statements are prepared once per connection (named by a hash of their text), which saves the
 * parse and plan of a 20-array INSERT on every batch. Their texts are a fixed set, so the cache is bounded.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `spindle_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Migrations on PostgreSQL run on one dedicated connection under a session advisory lock, so two
 * nodes starting at once apply each migration exactly once (the second waits, then finds nothing to do).
 */
async function migratePostgres(connection: pg.ClientConfig, schema: string, dir?: string): Promise<void> {
  const files = await readMigrations(dir);
  const client = new pg.Client(connection);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`spindle:migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const conn: MigrationConnection = {
      query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
      transaction: async (script, after) => {
        await client.query('BEGIN');
        try {
          await client.query(script);
          await client.query(after.sql, after.params);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      },
    };
    await migrate(conn, files);
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end();
  }
}
