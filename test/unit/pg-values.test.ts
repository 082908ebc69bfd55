import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayLiteral, encodeParams, parseTimestamptz } from '../../src/store/pg-values.js';

/** pg's own parser (postgres-date): the reference. */
const parseDate = pg.types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** An instant written the way PostgreSQL writes a timestamptz in a session at `offsetMin`. */
function pgText(ms: number, offsetMin: number, fractionDigits: number, offsetStyle: 'h' | 'hm' | 'hms'): string {
  const local = new Date(ms + offsetMin * 60_000);
  const micro = String(local.getUTCMilliseconds() * 1000 + 437).padStart(6, '0').slice(0, fractionDigits);
  const sign = offsetMin < 0 ? '-' : '+';
  const off = Math.abs(offsetMin);
  const zone = offsetStyle === 'h' ? `${sign}${pad(Math.floor(off / 60))}` : offsetStyle === 'hm' ? `${sign}${pad(Math.floor(off / 60))}:${pad(off % 60)}` : `${sign}${pad(Math.floor(off / 60))}:${pad(off % 60)}:00`;
  return `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fractionDigits ? `.${micro}` : ''}${zone}`;
}

describe('parseTimestamptz', () => {
  it('reads what postgres-date reads, for every shape PostgreSQL writes', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5_000; i++) {
      const ms = Math.floor(Date.UTC(1000, 0, 1) + next() * (Date.UTC(9999, 0, 1) - Date.UTC(1000, 0, 1)));
      const offsetMin = [0, 60, -300, 330, -570, 765][i % 6]!;
      const text = pgText(ms, offsetMin, i % 7, (['h', 'hm', 'hms'] as const)[i % 3]!);
      const ours = parseTimestamptz(text) as Date;
      expect(ours.getTime(), text).toBe((parseDate(text) as Date).getTime());
    }
  });

  it('hands every other shape to postgres-date', () => {
    for (const text of ['infinity', '-infinity', '0044-03-15 12:00:00+00 BC', '0999-12-31 23:59:59.5+00', '12026-01-01 00:00:00+00', '2026-12-06 01:47:12+05:30:15', '2026-12-06 01:47:12Z']) {
      const expected = parseDate(text);
      const ours = parseTimestamptz(text);
      expect(ours instanceof Date ? ours.getTime() : ours, text).toEqual(expected instanceof Date ? expected.getTime() : expected);
    }
  });
});

describe('encodeParams', () => {
  let db: PGlite;
  let client: pg.Client;
  beforeAll(async () => {
    db = await PGlite.create();
    client = new pg.Client(createPgConfig(db));
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.close();
  });

  it('sends what pg sends: PostgreSQL reads the same arrays and instants from either', async () => {
    const texts = ['plain', '', 'quote " inside', 'back\\slash', '{braces}, commas', 'NULL', ' spaced ', 'ünïcödé ✓', '"\\"', null];
    const ints = [0, -1, 2_147_483_647, null];
    const floats = [1.5, -0, 1e21, null];
    const bigs = ['9007199254740993', null];
    const bools = [true, false, null];
    const dates = [new Date('2026-12-06T01:47:12.123Z'), new Date('1000-01-01T00:00:00.000Z'), new Date('0500-06-01T00:00:00Z'), new Date(Date.UTC(20_000, 0, 1)), null];
    const one = new Date('2026-01-02T03:04:05.678Z');
    const sql = `SELECT $1::text[] AS t, $2::int[] AS i, $3::float8[] AS f, $4::int8[] AS b, $5::bool[] AS o,
                        $6::timestamptz[]::text[] AS d, $7::timestamptz::text AS one, $8::bytea AS raw, $9::int[] AS nested`;
    const params = [texts, ints, floats, bigs, bools, dates, one, Buffer.from([0, 255]), [[1, 2], [3, 4]]];
    await client.query('SET TimeZone = UTC');
    const byPg = (await client.query(sql, params)).rows[0];
    const ours = (await client.query(sql, encodeParams(params))).rows[0];
    expect(ours).toEqual(byPg);
    expect(ours.t).toEqual(texts);
  });

  it('leaves what it does not know to pg', () => {
    const nested = [[1], [2]];
    const buffers = [Buffer.from('x')];
    expect(arrayLiteral(nested)).toBe(nested);
    expect(arrayLiteral(buffers)).toBe(buffers);
    expect(arrayLiteral([new Date(Number.NaN)])).toHaveLength(1);
    const params = ['a', 1, null];
    expect(encodeParams(params)).toBe(params); // nothing to encode: no copy
    expect(encodeParams([['a"b', null]])).toEqual(['{"a\\"b",NULL}']);
  });
});
