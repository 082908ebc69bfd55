// storeErrorKind on real errors, as pg and Prisma 7 (over @prisma/adapter-pg and PGlite) raise
// them: a closed port, a reset, a server that hangs up or never answers, a terminated backend, a
// statement timeout — and ordinary failures that must stay unclassified (masked as internal).
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { afterAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { storeErrorKind } from '../../src/store/errors.js';
import { databaseUrl } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

const servers: Server[] = [];
const sockets = new Set<Socket>();
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server on a free port that does `onConnection` to every client instead of speaking PostgreSQL. */
async function fakeServer(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err,
  );

/** The same failure through pg, Prisma raw SQL and a Prisma model query. */
async function throughEveryLayer(port: number, poolOptions: pg.PoolConfig = {}) {
  const pool = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${port}/test`, connectionTimeoutMillis: 500, ...poolOptions });
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  try {
    return {
      pg: await failure(pool.query('SELECT 1')),
      raw: await failure(prisma.$queryRaw`SELECT 1`),
      model: await failure(prisma.tenant.findMany()),
    };
  } finally {
    await prisma.$disconnect().catch(() => {});
    await pool.end().catch(() => {});
  }
}

describe('storeErrorKind: the database cannot be reached', () => {
  it('classifies a refused connection (ECONNREFUSED, Prisma P1001 and P2010 DatabaseNotReachable)', async () => {
    const errs = await throughEveryLayer(await closedPort());
    expect(errs.pg).toMatchObject({ code: 'ECONNREFUSED' });
    expect(errs.raw).toMatchObject({ code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } } });
    expect(errs.model).toMatchObject({ code: 'P1001' });
    for (const err of Object.values(errs)) expect(storeErrorKind(err)).toBe('unavailable');
  });

  it('classifies a reset connection (ECONNRESET, Prisma P1017 and P2010 ConnectionClosed)', async () => {
    const errs = await throughEveryLayer(await fakeServer((s) => s.resetAndDestroy()));
    expect(errs.pg).toMatchObject({ code: 'ECONNRESET' });
    expect(errs.raw).toMatchObject({ code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'ConnectionClosed' } } } });
    expect(errs.model).toMatchObject({ code: 'P1017' });
    for (const err of Object.values(errs)) expect(storeErrorKind(err)).toBe('unavailable');
  });

  it('classifies a server that hangs up ("Connection terminated unexpectedly", passed through by Prisma)', async () => {
    const errs = await throughEveryLayer(await fakeServer((s) => s.end()));
    for (const err of Object.values(errs)) {
      expect((err as Error).message).toMatch(/^Connection terminated unexpectedly/);
      expect(storeErrorKind(err)).toBe('unavailable');
    }
  });

  it('classifies a server that never answers (connection timeout, and a pool waiting for a connection)', async () => {
    const port = await fakeServer(() => {});
    const errs = await throughEveryLayer(port);
    for (const err of Object.values(errs)) {
      expect((err as Error).message).toMatch(/^Connection terminated due to connection timeout/);
      expect(storeErrorKind(err)).toBe('unavailable');
    }
    const pool = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${port}/test`, connectionTimeoutMillis: 300, max: 1 });
    pool.on('error', () => {});
    const first = failure(pool.connect());
    const waiting = await failure(pool.connect());
    await first;
    await pool.end().catch(() => {});
    expect((waiting as Error).message).toMatch(/timeout exceeded when trying to connect|Connection terminated/);
    expect(storeErrorKind(waiting)).toBe('unavailable');
  });

  it('looks through causes and AggregateErrors', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
    expect(storeErrorKind(new Error('claim failed', { cause: reset }))).toBe('unavailable');
    expect(storeErrorKind(new AggregateError([new Error('x'), reset]))).toBe('unavailable');
  });
});

describe('storeErrorKind: ordinary failures stay unclassified', () => {
  it('leaves SQL errors, constraint violations and our own bugs alone (PGlite through Prisma)', async () => {
    const db = await PGlite.create();
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
    try {
      await db.exec('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
      expect(storeErrorKind(await failure(db.query('SELEC 1')))).toBeNull();
      expect(storeErrorKind(await failure(prisma.$executeRaw`INSERT INTO t VALUES (1)`))).toBeNull();
      expect(storeErrorKind(await failure(prisma.tenant.findMany()))).toBeNull(); // no such table here
      expect(storeErrorKind(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
      expect(storeErrorKind('a string')).toBeNull();
    } finally {
      await prisma.$disconnect();
      await db.close();
    }
  });
});

describe.runIf(databaseUrl)('storeErrorKind: PostgreSQL ends a statement', () => {
  const appName = `spindle-errors-test-${process.pid}`;
  const pool = new pg.Pool({ connectionString: databaseUrl, application_name: appName, max: 2 });
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  afterAll(async () => {
    await prisma.$disconnect();
    await pool.end();
  });

  it('classifies a terminated backend (57P01) as unavailable, through pg and Prisma', async () => {
    const killer = new pg.Client({ connectionString: databaseUrl });
    await killer.connect();
    try {
      const viaPg = failure(pool.query('SELECT pg_sleep(5)'));
      const viaPrisma = failure(prisma.$queryRaw`SELECT pg_sleep(5)`);
      // Only our own two connections: found by their application_name.
      await waitFor('both statements to run', async () => {
        const { rows } = await killer.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_sleep%'`, [appName]);
        return rows[0].n === 2;
      }, { timeoutMs: 4_000, everyMs: 50 });
      await killer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [appName]);
      const [a, b] = await Promise.all([viaPg, viaPrisma]);
      expect(a).toMatchObject({ code: '57P01' });
      expect(b).toMatchObject({ code: 'P2010', meta: { driverAdapterError: { cause: { originalCode: '57P01' } } } });
      expect(storeErrorKind(a)).toBe('unavailable');
      expect(storeErrorKind(b)).toBe('unavailable');
    } finally {
      await killer.end();
    }
  });

  it('classifies a statement timeout (57014) as statement_timeout, through pg and Prisma', async () => {
    const client = await pool.connect();
    const viaPg = await failure(client.query('SET statement_timeout = 50; SELECT pg_sleep(1)')).finally(() => client.release(true));
    expect(viaPg).toMatchObject({ code: '57014' });
    expect(storeErrorKind(viaPg)).toBe('statement_timeout');
    const viaPrisma = await failure(prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL statement_timeout = 50`;
      await tx.$queryRaw`SELECT pg_sleep(1)`;
    }));
    expect(viaPrisma).toMatchObject({ code: 'P2010' });
    expect(storeErrorKind(viaPrisma)).toBe('statement_timeout');
  });
});
