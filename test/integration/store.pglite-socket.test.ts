/**
 * node-postgres over PGlite through PgliteSocket (src/store/pglite-socket.ts): what the store's
 * executor lane runs on the embedded database. Prepared statements, the types the queue reads,
 * errors that leave the connection usable, transactions, and an end that does not hang.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteClientConfig } from '../../src/store/pglite-socket.js';

let db: PGlite;
let client: pg.Client;

const connect = (on = db) => new pg.Client(pgliteClientConfig(on));

beforeAll(async () => {
  db = await PGlite.create();
  client = connect();
  await client.connect();
});

/** A table of the test's own: CI shuffles the tests of a file, so none may lean on another's rows. */
const table = async (name: string) => {
  await client.query(`CREATE TABLE ${name} (id int PRIMARY KEY, b bytea, at timestamptz, n bigint, j jsonb, s text)`);
  return name;
};
afterAll(async () => {
  await client?.end();
  await db?.close();
});

describe('PgliteSocket', () => {
  it('runs named statements with parameters and returns the rows as a server would', async () => {
    const t = await table('rows');
    const insert = { name: 'ins', text: `INSERT INTO ${t} VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, b, n, j, s` };
    const at = new Date('2026-12-07T06:00:00.123Z');
    for (let i = 1; i <= 3; i++) {
      const { rows } = await client.query({ ...insert, values: [i, Buffer.from([0, 255, i]), at, String(2n ** 62n + BigInt(i)), JSON.stringify({ i, ü: 'ö' }), `row ${i} ✓`] });
      expect(rows).toEqual([{ id: i, b: Buffer.from([0, 255, i]), n: String(2n ** 62n + BigInt(i)), j: { i, ü: 'ö' }, s: `row ${i} ✓` }]);
    }
    const { rows } = await client.query({ name: 'sel', text: `SELECT at FROM ${t} WHERE id = $1`, values: [2] });
    expect((rows[0] as { at: Date }).at.toISOString()).toBe(at.toISOString());
  });

  it("carries a large answer whole (many rows, past PGlite's default buffers)", async () => {
    const { rows } = await client.query("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 3000) g");
    expect(rows).toHaveLength(3000);
    expect(rows.at(-1)).toEqual({ g: 3000, pad: 'x'.repeat(1000) });
  });

  it('turns a database error into a rejected query and stays usable', async () => {
    const t = await table('errs');
    await client.query(`INSERT INTO ${t} (id) VALUES (1), (2), (3)`);
    await expect(client.query(`INSERT INTO ${t} (id) VALUES (1)`)).rejects.toMatchObject({ code: '23505', constraint: `${t}_pkey` });
    await expect(client.query({ name: 'bad', text: `SELECT nope FROM ${t}` })).rejects.toMatchObject({ code: '42703' });
    expect((await client.query(`SELECT count(*)::int AS c FROM ${t}`)).rows).toEqual([{ c: 3 }]);
  });

  it('keeps a transaction on its connection: rolled back, nothing stays', async () => {
    const t = await table('tx');
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${t} (id) VALUES (100)`);
    expect((await client.query(`SELECT count(*)::int AS c FROM ${t}`)).rows).toEqual([{ c: 1 }]);
    await client.query('ROLLBACK');
    expect((await client.query(`SELECT count(*)::int AS c FROM ${t}`)).rows).toEqual([{ c: 0 }]);
  });

  it('ends cleanly, and a query on an ended client fails instead of hanging', async () => {
    const other = connect();
    await other.connect();
    expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await other.end();
    await expect(other.query('SELECT 1')).rejects.toThrow();
  });

  it('fails the query under way when PGlite goes away, rather than leave it hanging', async () => {
    const gone = await PGlite.create();
    const c = connect(gone);
    c.on('error', () => {}); // the client reports the lost socket as well
    await c.connect();
    await gone.close();
    await expect(c.query('SELECT 1')).rejects.toThrow();
  });
});
