import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CENSOR, makeLogger, redactSecrets } from '../../src/server/logger.js';

const SECRET = `spd_${'S'.repeat(43)}`;

/** One line through a real logger, parsed back. */
function logged(fields: object): Record<string, unknown> {
  const lines: string[] = [];
  const logger = makeLogger({ logLevel: 'info', nodeId: 'redact' }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  logger.info(fields, 'line');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('log redaction', () => {
  it('censors every place the old path list named: the line itself and two levels down', () => {
    const cases: [object, (line: any) => unknown][] = [
      [{ authorization: SECRET }, (l) => l.authorization],
      [{ Authorization: SECRET }, (l) => l.Authorization],
      [{ secret: SECRET }, (l) => l.secret],
      [{ adminKey: SECRET }, (l) => l.adminKey],
      [{ connectionParams: { authorization: SECRET } }, (l) => l.connectionParams],
      [{ ws: { authorization: SECRET } }, (l) => l.ws.authorization],
      [{ ws: { Authorization: SECRET } }, (l) => l.ws.Authorization],
      [{ key: { secret: SECRET } }, (l) => l.key.secret],
      [{ config: { adminKey: SECRET } }, (l) => l.config.adminKey],
      [{ ctx: { connectionParams: { token: SECRET } } }, (l) => l.ctx.connectionParams],
      [{ req: { headers: { authorization: `Bearer ${SECRET}` } } }, (l) => l.req.headers.authorization],
      [{ request: { headers: { authorization: `Bearer ${SECRET}` } } }, (l) => l.request.headers.authorization],
      [{ a: { b: { authorization: SECRET } } }, (l) => l.a.b.authorization],
      [{ a: { b: { secret: SECRET } } }, (l) => l.a.b.secret],
      [{ config: { auth: { adminKey: SECRET } } }, (l) => l.config.auth.adminKey],
    ];
    for (const [fields, at] of cases) {
      const line = logged(fields);
      expect(at(line), JSON.stringify(fields)).toBe(CENSOR);
      expect(JSON.stringify(line)).not.toContain(SECRET);
    }
  });

  it('walks arrays and null-prototype objects (as Node builds request headers)', () => {
    const headers = Object.assign(Object.create(null) as Record<string, string>, { host: 'x', authorization: SECRET });
    const line = logged({ req: { headers }, keys: [{ secret: SECRET }, { id: 1 }] }) as any;
    expect(line.req.headers).toEqual({ host: 'x', authorization: CENSOR });
    expect(line.keys).toEqual([{ secret: CENSOR }, { id: 1 }]);
  });

  it('never changes the caller objects, and hands back the same object when there is nothing to censor', () => {
    const inner = { authorization: SECRET, keep: 1 };
    const fields = { req: { headers: inner }, other: { n: 2 } };
    const out = redactSecrets(fields);
    expect(out).not.toBe(fields);
    expect(out.req.headers).toEqual({ authorization: CENSOR, keep: 1 });
    expect(inner.authorization).toBe(SECRET);
    expect(out.other).toBe(fields.other); // untouched branches are shared, not copied
    const clean = { method: 'POST', path: '/graphql', status: 200, nested: { a: [1, 2, { b: 3 }] } };
    expect(redactSecrets(clean)).toBe(clean);
  });

  it('stops three levels down, and leaves errors and class instances to their serializers', () => {
    const deep = { a: { b: { c: { secret: 'fourth level' } } } };
    expect(redactSecrets(deep)).toBe(deep);
    const err = Object.assign(new Error('boom'), { code: 'X' });
    const line = logged({ err, when: new Date(0) }) as any;
    expect(line.err).toMatchObject({ type: 'Error', message: 'boom', code: 'X' });
    expect(line.when).toBe('1970-01-01T00:00:00.000Z');
  });
});
