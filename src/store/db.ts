/**
 * Opening the database: PGlite in-process (default) or a PostgreSQL pool, migrations first, then a
 * Prisma client over the matching driver adapter. Also the cross-node wake-up channel.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { migrate, readMigrations, type MigrationConnection } from './migrate.js';
import { makeLocalNotifier, makePgNotifier, type Notifier } from './notify.js';

export type Prisma = InstanceType<typeof PrismaClient>;

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
  prisma: Prisma;
  sql: Sql;
  notifier: Notifier;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  pgSchema?: string;
  migrationsDir?: string;
  /** PostgreSQL pool size. Default 10: enough for claim, finish and API reads on 2 cores. */
  poolSize?: number;
  /** Errors of idle connections and of the LISTEN connection (they are retried, not fatal). */
  onError?: (err: Error) => void;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts, opts.databaseUrl) : openPglite(opts);
}

async function openPglite(opts: DatabaseOptions): Promise<Database> {
  const dir = join(opts.dataDir, 'pglite');
  await mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir);
  try {
    await migrate(pgliteMigrationConnection(db), await readMigrations(opts.migrationsDir));
  } catch (err) {
    await db.close();
    throw err;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  const query: Query = async <T>(text: string, params?: unknown[]) => (await db.query<T>(text, params)).rows;
  return {
    kind: 'pglite',
    prisma,
    sql: {
      query,
      queryStable: query,
      transaction: (work) => db.transaction((tx) => work(async <T>(text: string, params?: unknown[]) => (await tx.query<T>(text, params)).rows)),
    },
    notifier: makeLocalNotifier(),
    ping: async () => void (await db.query('SELECT 1')),
    close: async () => {
      await prisma.$disconnect();
      await db.close();
    },
  };
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
  // Custom plans on the main pool: the best plan for a claim or a batch write depends on its array
  // sizes, and a cached generic plan for the finish statement measured ~15x slower. The inserts go
  // through a small pool of their own that keeps generic plans (Sql.queryStable).
  const connection: pg.ClientConfig = { connectionString: url, options: `-c search_path="${schema}" -c plan_cache_mode=force_custom_plan` };
  const stableConnection: pg.ClientConfig = { connectionString: url, options: `-c search_path="${schema}" -c plan_cache_mode=auto` };

  await migratePostgres(connection, schema, opts.migrationsDir);

  const pool = new pg.Pool({ ...connection, application_name: 'spindle', max: opts.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  pool.on('error', onError);
  const stablePool = new pg.Pool({ ...stableConnection, application_name: 'spindle', max: STABLE_POOL_SIZE, idleTimeoutMillis: 30_000 });
  stablePool.on('error', onError);
  const notifier = await makePgNotifier(connection, pool, schema, onError).catch(async (err) => {
    await Promise.all([pool.end(), stablePool.end()]);
    throw err;
  });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema }) });
  return {
    kind: 'postgres',
    prisma,
    sql: {
      query: async <T>(text: string, params?: unknown[]) => (await pool.query({ text, values: params, name: statementName(text) })).rows as T[],
      queryStable: async <T>(text: string, params?: unknown[]) => (await stablePool.query({ text, values: params, name: statementName(text) })).rows as T[],
      transaction: (work) => pgTransaction(pool, work),
    },
    notifier,
    ping: async () => void (await pool.query('SELECT 1')),
    close: async () => {
      await notifier.close();
      await prisma.$disconnect();
      await Promise.all([pool.end(), stablePool.end()]);
    },
  };
}

/** Connections for Sql.queryStable: the submit path's inserts (a few in flight at once). */
const STABLE_POOL_SIZE = 4;

async function pgTransaction<R>(pool: pg.Pool, work: (query: Query) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(async <T>(text: string, params?: unknown[]) => (await client.query({ text, values: params, name: statementName(text) })).rows as T[]);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that cannot even roll back is not given back to the pool.
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
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
