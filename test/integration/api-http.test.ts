/**
 * POST /graphql has two ways in (src/server/graphql-http.ts): a JSON body of a declared length goes
 * straight to Apollo, anything else through Express. The same request sent both ways (with a
 * Content-Length, and as a chunked stream that only Express takes) gets the same answer: status,
 * the headers that matter and the body, for good and bad requests, with AUTH on.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLogger } from '../../src/server/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const MAX_REQUEST_BYTES = 4096;
let s: TestServer;
const lines: Record<string, any>[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  s = await startTestServer({ AUTH: 'on', MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) }, { logger: makeLogger({ logLevel: 'info', nodeId: 'http' }, sink) });
});
afterAll(() => s?.close());

type Way = 'length' | 'chunked';

async function post(way: Way, body: string, headers: Record<string, string> = {}) {
  const bytes = new TextEncoder().encode(body);
  const init: RequestInit & { duplex?: 'half' } =
    way === 'length'
      ? { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: bytes }
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: new ReadableStream({
            start(c) {
              c.enqueue(bytes);
              c.close();
            },
          }),
          duplex: 'half',
        };
  const res = await fetch(s.graphqlUrl, init);
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    requestId: res.headers.get('x-request-id'),
    wwwAuthenticate: res.headers.get('www-authenticate'),
    etag: res.headers.get('etag'),
    cacheControl: res.headers.get('cache-control'),
    body: text.startsWith('{') ? JSON.parse(text) : text,
  };
}

const bearer = () => ({ authorization: `Bearer ${s.adminKey}` });

describe('POST /graphql, with a Content-Length and chunked', () => {
  it('takes the two ways: Express tags what it sends with an ETag, the direct way does not', async () => {
    const body = JSON.stringify({ query: '{ agents { name } }' });
    expect((await post('length', body, bearer())).etag).toBeNull();
    expect((await post('chunked', body, bearer())).etag).toMatch(/^W\//);
  });

  const cases: [string, string, () => Record<string, string>][] = [
    ['a query', JSON.stringify({ query: '{ agents { name } }' }), bearer],
    ['a mutation with variables', JSON.stringify({ query: 'mutation ($n: String!) { createApiKey(input: { name: $n, role: viewer }) { key { name role } } }', variables: { n: 'k' } }), bearer],
    ['a query with a syntax error', JSON.stringify({ query: '{ agents { ' }), bearer],
    ['nesting past the limit', JSON.stringify({ query: `{ ${'agents { '.repeat(200)}name${' }'.repeat(200)} }` }), bearer],
    ['a body that is not JSON', '{"query": ', bearer],
    ['JSON that is not an object', '"{ agents { name } }"', bearer],
    ['no query', JSON.stringify({ variables: {} }), bearer],
    ['no key', JSON.stringify({ query: '{ agents { name } }' }), () => ({})],
    ['a wrong key', JSON.stringify({ query: '{ agents { name } }' }), () => ({ authorization: 'Bearer spd_nope' })],
  ];
  for (const [what, body, headers] of cases) {
    it(`${what}: the same answer both ways`, async () => {
      const fast = await post('length', body, headers());
      const slow = await post('chunked', body, headers());
      expect(fast.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(slow.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect({ ...fast, requestId: null, etag: null }).toEqual({ ...slow, requestId: null, etag: null });
    });
  }

  it('every answer Apollo gives, good or bad, is marked no-store for caches, both ways', async () => {
    const apolloAnswers = ['a query', 'a mutation with variables', 'a query with a syntax error', 'no query'];
    for (const [what, body, headers] of cases.filter(([name]) => apolloAnswers.includes(name))) {
      for (const way of ['length', 'chunked'] as const) expect((await post(way, body, headers())).cacheControl, `${what}, ${way}`).toBe('no-store');
    }
  });

  it('a body over MAX_REQUEST_BYTES is refused with 413 whichever way it comes', async () => {
    const body = JSON.stringify({ query: '{ agents { name } }', variables: { pad: 'x'.repeat(MAX_REQUEST_BYTES) } });
    for (const way of ['length', 'chunked'] as const) {
      const res = await post(way, body, bearer());
      expect(res.status, way).toBe(413);
      expect(res.body.errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
    }
    // At the limit: taken.
    const query = '{ agents { name } }';
    const fits = JSON.stringify({ query, variables: { pad: '' } });
    const exact = JSON.stringify({ query, variables: { pad: 'x'.repeat(MAX_REQUEST_BYTES - fits.length) } });
    expect(exact.length).toBe(MAX_REQUEST_BYTES);
    expect((await post('length', exact, bearer())).status).toBe(200);
  });

  it('both ways write the request line and count the request in /metrics', async () => {
    const before = lines.length;
    const res = await post('length', JSON.stringify({ query: '{ agents { name } }' }), bearer());
    const line = await waitFor('the request line', () => lines.slice(before).find((l) => l.msg === 'request' && l.requestId === res.requestId));
    expect(line).toMatchObject({ level: 30, method: 'POST', path: '/graphql', status: 200 });
    const metrics = await (await fetch(s.metricsUrl, { headers: bearer() })).text();
    expect(metrics).toMatch(/spindle_http_request_duration_seconds_count\{[^}]*route="\/graphql"[^}]*method="POST"[^}]*code="200"[^}]*\} [1-9]/);
  });
});
