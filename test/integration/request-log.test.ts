// Request ids and the request log: an id per HTTP request and per WebSocket connection (the
// client's x-request-id when it is a plain token, else a UUID), echoed in the response and on
// every line the request causes, and one line per request at a level that fits the route.
import { Writable } from 'node:stream';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeLogger } from '../../src/server/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREATE_KEY = `mutation ($name: String!) { createApiKey(input: { name: $name, role: viewer }) { key { id } } }`;

let s: TestServer;
let agentsBroken = false;
const lines: Record<string, any>[] = [];
const linesOf = (requestId: string) => lines.filter((l) => l.requestId === requestId);

async function post(body: unknown, requestId?: string) {
  return fetch(s.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(requestId === undefined ? {} : { 'x-request-id': requestId }) },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push({ ...JSON.parse(String(chunk)), raw: String(chunk) });
      done();
    },
  });
  s = await startTestServer(
    {},
    {
      logger: makeLogger({ logLevel: 'debug', nodeId: 'request-log' }, sink),
      // A store whose agent list can be made to throw what no layer expects (a bug's error).
      wrapStore: (store) => ({
        ...store,
        agents: { ...store.agents, list: (...args) => (agentsBroken ? Promise.reject(new Error('agents list broke')) : store.agents.list(...args)) },
      }),
    },
  );
});
afterAll(() => s?.close());

describe('request ids over HTTP', () => {
  it("keeps the client's id, echoes it and puts it on every line the request causes", async () => {
    const res = await post({ query: CREATE_KEY, variables: { name: 'traced' } }, 'req-42.a:b/c');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-42.a:b/c');
    const mine = await waitFor('the request lines', async () => linesOf('req-42.a:b/c').length >= 2 && linesOf('req-42.a:b/c'), { timeoutMs: 5_000 });
    // The service's own line, written two layers below the transport, carries the id too.
    expect(mine.find((l) => l.msg === 'API key created')).toMatchObject({ level: 30, node: 'request-log' });
    expect(mine.find((l) => l.msg === 'request')).toMatchObject({ level: 30, method: 'POST', path: '/graphql', status: 200, ms: expect.any(Number) });
    // A line's fields stay on that line: the request line does not inherit the service line's keyId.
    expect(mine.find((l) => l.msg === 'request')).not.toHaveProperty('keyId');
    // One requestId key per line (the scope and the line do not both write it).
    expect(mine.map((l) => l.raw.split('"requestId"').length - 1)).toEqual(mine.map(() => 1));
  });

  it('makes a new id when none is sent, or when the one sent is not a plain token of at most 128 characters', async () => {
    const at = 'x'.repeat(128);
    expect((await post({ query: '{ agents { name } }' }, at)).headers.get('x-request-id')).toBe(at);
    for (const sent of [undefined, 'x'.repeat(129), 'has space', 'new\\nline', '{"json":1}', '']) {
      const res = await post({ query: '{ agents { name } }' }, sent);
      const id = res.headers.get('x-request-id')!;
      expect(id, String(sent)).toMatch(UUID);
      expect(lines.some((l) => l.requestId === sent && sent)).toBe(false);
    }
  });

  it('logs /healthz and /metrics at debug, API requests at info, and distinct requests with distinct ids', async () => {
    const health = await fetch(`${s.url}/healthz`);
    const id = health.headers.get('x-request-id')!;
    const line = await waitFor('the /healthz line', async () => linesOf(id).find((l) => l.msg === 'request'), { timeoutMs: 5_000 });
    expect(line).toMatchObject({ level: 20, path: '/healthz', status: 200 });
    const [a, b] = await Promise.all([post({ query: '{ agents { name } }' }), post({ query: '{ agents { name } }' })]);
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });
});

/** A graphql-ws client whose upgrade request sends `x-request-id: requestId`. */
function clientWithId(requestId: string) {
  class Traced extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: { 'x-request-id': requestId } });
    }
  }
  return createClient({ url: s.wsUrl, webSocketImpl: Traced, lazy: false, retryAttempts: 0 });
}

describe('request ids over WebSocket', () => {
  it("tags the lines of a connection's operations with the upgrade request's id", async () => {
    const client = clientWithId('ws-conn-7');
    try {
      const result = await new Promise<any>((resolve, reject) => {
        client.subscribe({ query: CREATE_KEY, variables: { name: 'over-ws' } }, { next: resolve, error: reject, complete: () => {} });
      });
      expect(result.data.createApiKey.key.id).toMatch(UUID);
      const mine = await waitFor('the operation line', async () => linesOf('ws-conn-7').some((l) => l.msg === 'API key created') && linesOf('ws-conn-7'), { timeoutMs: 5_000 });
      expect(mine.map((l) => l.msg)).toContain('websocket connected');
    } finally {
      await client.dispose();
    }
    await waitFor('the close line', async () => linesOf('ws-conn-7').some((l) => l.msg === 'websocket closed'), { timeoutMs: 5_000 });
  });
});

describe('request ids on error lines', () => {
  it("an operation's unexpected error is logged with its request's id, over HTTP and over a WebSocket", async () => {
    agentsBroken = true;
    try {
      const res = await post({ query: '{ agents { name } }' }, 'err-http-1');
      expect(((await res.json()) as { errors: unknown[] }).errors[0]).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      const line = await waitFor('the error line', async () => linesOf('err-http-1').find((l) => l.msg === 'unexpected error in a GraphQL operation'), { timeoutMs: 5_000 });
      expect(line).toMatchObject({ level: 50, path: ['agents'], err: { message: 'agents list broke' } });

      const client = clientWithId('err-ws-2');
      try {
        const result = await new Promise<any>((resolve, reject) => {
          client.subscribe({ query: '{ agents { name } }' }, { next: resolve, error: reject, complete: () => {} });
        });
        expect(result.errors[0].message).toBe('Internal server error');
      } finally {
        await client.dispose();
      }
      expect(await waitFor('the WebSocket error line', async () => linesOf('err-ws-2').find((l) => l.msg === 'unexpected error in a GraphQL operation'), { timeoutMs: 5_000 })).toMatchObject({ level: 50 });
      // Each line once: the error is not logged again without its id.
      expect(lines.filter((l) => l.msg === 'unexpected error in a GraphQL operation')).toHaveLength(2);
    } finally {
      agentsBroken = false;
    }
  });
});
