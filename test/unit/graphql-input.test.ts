// The edge's pure parts: the text check every argument passes, page cursors, and the scalars'
// ranges (what PostgreSQL's bigint and our drivers' timestamps hold).
import { GraphQLError, graphql, parseValue } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SpindleError } from '../../src/domain/index.js';
import { textProblem } from '../../src/graphql/args.guard.js';
import { decodeCursor, encodeCursor } from '../../src/graphql/cursor.js';
import { BigIntScalar, DateTimeScalar } from '../../src/graphql/scalars.js';
import { makeSchema } from '../../src/graphql/schema.js';
import type { TaskOrder, TaskRow } from '../../src/services/types.js';

describe('textProblem', () => {
  it('accepts any well-formed Unicode', () => {
    for (const s of ['', 'plain', '😀𝄞', 'e\u0301', '\u{10ffff}', '\ud83d\ude00', '\uffff', '\ufeff']) expect(textProblem(s)).toBeNull();
  });

  it('refuses NUL (unless the text becomes bytes) and says where', () => {
    expect(textProblem('ab\u0000')).toBe('must not contain NUL (U+0000, at index 2)');
    expect(textProblem('ab\u0000', true)).toBeNull();
  });

  it('refuses a lone surrogate anywhere, bytes or not', () => {
    expect(textProblem('\ud800')).toMatch(/lone surrogate \(U\+D800, at index 0\)/);
    expect(textProblem('a\udc00', true)).toMatch(/lone surrogate \(U\+DC00, at index 1\)/);
    expect(textProblem('\udc00\ud800')).toMatch(/U\+DC00, at index 0/); // reversed pair
    expect(textProblem('\ud83d\ude00\ude00')).toMatch(/U\+DE00, at index 2/);
    expect(textProblem('x'.repeat(1_000_000) + '\ud800')).toMatch(/at index 1000000/);
  });
});

describe('the argument guard', () => {
  it('sits in front of every field with a text argument, and names the path', async () => {
    const schema = await makeSchema();
    // No store behind this schema: only a refusal before the resolver can answer without throwing a TypeError.
    const r = await graphql({
      schema,
      source: `mutation ($i: [SubmitTaskInput!]!) { submitTasks(inputs: $i) { id } }`,
      variableValues: { i: [{ agent: 'a' }, { agent: 'a', env: { OK: 'x', 'B-C': { deep: ['\u0000'] } } }] },
      contextValue: {},
    });
    expect(r.errors?.[0]?.originalError).toBeInstanceOf(SpindleError);
    expect(r.errors?.[0]?.message).toBe('inputs[1].env["B-C"].deep[0]: must not contain NUL (U+0000, at index 0)');
  });

  it('reports the first bad string in document order, keys included', async () => {
    const schema = await makeSchema();
    const first = async (i: unknown) =>
      (await graphql({ schema, source: `mutation ($i: [SubmitTaskInput!]!) { submitTasks(inputs: $i) { id } }`, variableValues: { i }, contextValue: {} })).errors?.[0]?.message;
    expect(await first([{ agent: 'a\u0000', args: ['\ud800'] }, { agent: '\u0000' }])).toMatch(/^inputs\[0\]\.agent: /);
    expect(await first([{ agent: 'a', env: { A: 'x\u0000', '\ud800': null } }])).toMatch(/^inputs\[0\]\.env\.A: /);
    expect(await first([{ agent: 'a', env: { '\ud800': null, A: 'x\u0000' } }])).toMatch(/^inputs\[0\]\.env\["\\ud800"\]: key must be well-formed/);
  });
});

describe('cursors', () => {
  const row = { createdAt: new Date('2026-01-02T03:04:05.678Z'), finishedAt: null, priority: -3, id: '01a2430b-9c18-7000-a84a-3b9ebbbd5820' } as unknown as TaskRow;
  const finished = { ...row, finishedAt: new Date('2026-01-02T03:04:07.000Z') } as TaskRow;
  const NEWEST: TaskOrder = { field: 'createdAt', direction: 'desc' };

  it('round-trip: the default order, as cursors were before orderBy (old cursors still work)', () => {
    const cursor = encodeCursor(NEWEST, row);
    expect(Buffer.from(cursor, 'base64url').toString()).toBe(`${row.createdAt.getTime()}:${row.id}`);
    expect(decodeCursor('after', cursor, NEWEST)).toEqual({ value: row.createdAt.getTime(), id: row.id });
  });

  it.each([
    [{ field: 'createdAt', direction: 'asc' }, row, row.createdAt.getTime()],
    [{ field: 'finishedAt', direction: 'desc' }, finished, finished.finishedAt!.getTime()],
    [{ field: 'finishedAt', direction: 'asc' }, row, null],
    [{ field: 'duration', direction: 'asc' }, finished, 1322],
    [{ field: 'duration', direction: 'desc' }, row, null],
    [{ field: 'priority', direction: 'asc' }, row, -3],
  ] as [TaskOrder, TaskRow, number | null][])('round-trip: %o keeps the key of the row (%#)', (order, r, value) => {
    expect(decodeCursor('after', encodeCursor(order, r), order)).toEqual({ value, id: row.id });
  });

  it('refuses a cursor read with another orderBy, and says so', () => {
    const byPriority = encodeCursor({ field: 'priority', direction: 'desc' }, row);
    expect(() => decodeCursor('after', byPriority, { field: 'priority', direction: 'asc' })).toThrow(/^after: is a cursor of another orderBy/);
    expect(() => decodeCursor('after', byPriority, NEWEST)).toThrow(/^after: is a cursor of another orderBy/);
    expect(() => decodeCursor('after', encodeCursor(NEWEST, row), { field: 'duration', direction: 'desc' })).toThrow(/another orderBy/);
  });

  it.each([
    ['not base64url', 'abc$'],
    ['trailing garbage', `${encodeCursor(NEWEST, row)}A`],
    ['padding', `${encodeCursor(NEWEST, row)}=`],
    ['year 0', Buffer.from(`-62135596800001:${row.id}`).toString('base64url')],
    ['year 10000', Buffer.from(`253402300800000:${row.id}`).toString('base64url')],
    ['hex time', Buffer.from(`0x10:${row.id}`).toString('base64url')],
    ['fractional time', Buffer.from(`5.5:${row.id}`).toString('base64url')],
    ['no id', Buffer.from(`5:`).toString('base64url')],
    ['upper-case id', Buffer.from(`5:${row.id.toUpperCase()}`).toString('base64url')],
    ['no key in an order whose rows all have one', Buffer.from(`:${row.id}`).toString('base64url')],
    ['an unknown order', Buffer.from(`xd:5:${row.id}`).toString('base64url')],
    ['too long', 'A'.repeat(1000)],
  ])('refuses %s', (_what, cursor) => {
    expect(() => decodeCursor('after', cursor, NEWEST)).toThrow(/^after: is not a cursor from this API/);
  });

  it('refuses a priority past 32 bits', () => {
    const order: TaskOrder = { field: 'priority', direction: 'desc' };
    expect(() => decodeCursor('after', Buffer.from(`pd:4294967296:${row.id}`).toString('base64url'), order)).toThrow(/not a cursor/);
    expect(() => decodeCursor('after', Buffer.from(`pd::${row.id}`).toString('base64url'), order)).toThrow(/not a cursor/);
  });
});

describe('scalars', () => {
  const big = (v: unknown) => BigIntScalar.parseValue(v);

  it('BigInt: 64-bit signed, from a decimal string or a safe integer', () => {
    expect(big('9223372036854775807')).toBe(2n ** 63n - 1n);
    expect(big('-9223372036854775808')).toBe(-(2n ** 63n));
    expect(big(' 007 ')).toBe(7n);
    expect(big(42)).toBe(42n);
    for (const v of ['9223372036854775808', '-9223372036854775809', '18446744073709551616', '9'.repeat(1_000_000)]) {
      expect(() => big(v)).toThrow(/BigInt must be a 64-bit integer, between -9223372036854775808 and 9223372036854775807/);
    }
    for (const v of ['1e3', '0x10', '1.5', '', '٣', 2 ** 53, 1.5, true]) expect(() => big(v)).toThrow(GraphQLError);
  });

  it('DateTime: years 0001-9999 in UTC', () => {
    expect((DateTimeScalar.parseValue('0001-01-01T00:00:00Z') as Date).toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect((DateTimeScalar.parseValue('9999-12-31T23:59:59.999Z') as Date).toISOString()).toBe('9999-12-31T23:59:59.999Z');
    for (const v of ['0000-12-31T23:59:59.999Z', '0001-01-01T00:00:00+00:01', '9999-12-31T23:59:59.999-00:01']) {
      expect(() => DateTimeScalar.parseValue(v)).toThrow(/DateTime must be between 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z \(UTC\)/);
    }
    expect(() => DateTimeScalar.parseValue(new Date(-62135596800001))).toThrow(/DateTime must be between/);
  });

  it('DateTime: a malformed value gets an error naming ISO-8601, with an example and what was given', () => {
    const format = /^DateTime must be an ISO-8601 date and time with a time zone, e\.g\. 2026-01-01T12:00:00Z or 2026-01-01T13:00:00\+01:00 \(got (.*)\)$/;
    const got = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return format.exec((err as Error).message)?.[1] ?? `unexpected: ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(got(() => DateTimeScalar.parseValue('tomorrow'))).toBe('"tomorrow"');
    expect(got(() => DateTimeScalar.parseValue('2026-01-01T12:00:00'))).toBe('"2026-01-01T12:00:00"'); // no time zone
    expect(got(() => DateTimeScalar.parseValue(17))).toBe('17');
    expect(got(() => DateTimeScalar.parseLiteral(parseValue('"next week"'), {}))).toBe('"next week"');
    expect(got(() => DateTimeScalar.parseLiteral(parseValue('5'), {}))).toBe('5');
    expect(got(() => DateTimeScalar.parseValue(new Date(NaN)))).toBe('Invalid Date');
    expect(got(() => DateTimeScalar.parseValue('2026-01-01T12:00:00+01:00'))).toBe('accepted');
  });
});
