// The store while its PostgreSQL connection breaks (a TCP proxy in between is cut): a transaction in
// flight fails with an error the edge calls 'unavailable', the process does not die of pg's
// unheard 'error' event on the checked-out client, and once the link is back the next transaction
// works on a fresh connection.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/db.js';
import { storeErrorKind } from '../../src/store/errors.js';
import { chaosSchema, describeOnPostgres, type ChaosSchema } from '../helpers/chaos.js';
import { sleep } from '../helpers/wait.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

describeOnPostgres('store: the connection breaks mid-transaction', () => {
  let schema: ChaosSchema;
  let proxy: TcpProxy;
  let db: Database;
  let dataDir: string;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    schema = await chaosSchema();
    proxy = await startTcpProxy({ host: new URL(process.env.DATABASE_URL!).hostname, port: Number(new URL(process.env.DATABASE_URL!).port || 5432) });
    dataDir = await mkdtemp(join(tmpdir(), 'spindle-store-outage-'));
    db = await openDatabase({ databaseUrl: schema.nodeUrl({ port: proxy.port }), dataDir, onError: () => {} });
    process.on('uncaughtException', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    proxy?.restore();
    await db?.close();
    await proxy?.close();
    await schema?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('fails a transaction whose statement is running, without an uncaught error', async () => {
    const tx = db.sql.transaction(async (q) => q('SELECT pg_sleep(2)')).catch((err: unknown) => err);
    await sleep(300); // well into the 2 s statement
    proxy.cut();
    const err = await tx;
    expect(storeErrorKind(err)).toBe('unavailable');
    proxy.restore();
    await sleep(100); // no uncaught error surfaces a moment later either
    expect(uncaught).toEqual([]);
  });

  it('fails a transaction whose connection broke between statements, without an uncaught error', async () => {
    const tx = db.sql
      .transaction(async (q) => {
        await q('SELECT 1');
        proxy.cut();
        await sleep(200); // the reset arrives while no statement is running
        return q('SELECT 2');
      })
      .catch((err: unknown) => err);
    expect(storeErrorKind(await tx)).toBe('unavailable');
    proxy.restore();
    await sleep(100); // no uncaught error surfaces a moment later either
    expect(uncaught).toEqual([]);
  });

  it('works again once the link is back', async () => {
    expect(await db.sql.transaction((q) => q<{ n: number }>('SELECT 1 AS n'))).toEqual([{ n: 1 }]);
  });
});
