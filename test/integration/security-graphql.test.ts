// GraphQL hardening against a real server with AUTH=on: the graphql-http conformance audits, depth
// and cost limits over HTTP and WebSocket, no HTTP batching, configurable introspection, masked
// unexpected errors over both transports, body limits, and hostile bodies (malformed GraphQL, huge
// variables, invalid UTF-8 and base64). The server stays healthy throughout.
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import type { Store } from '../../src/store/types.js';
import { startTestServer, type GqlResult, type TestClient, type TestServer } from '../helpers/server.js';

const ADMIN_KEY = `spd_${'g'.repeat(40)}`;
const BOOM = '00000000-0000-7000-8000-00000000b00f';
const INTERNAL = 'internal detail: /var/lib/spindle/db.sock password=hunter2';

let s: TestServer;
let c: TestClient;
let refused = 0;

/** Makes the store fail for one task id, to see what an unexpected error looks like to clients. */
const failing = (store: Store): Store => ({
  ...store,
  tasks: {
    ...store.tasks,
    get: async (tenantId, id) => {
      if (id === BOOM) throw new Error(INTERNAL);
      return store.tasks.get(tenantId, id);
    },
    getMany: async (ids) => {
      if (ids.includes(BOOM)) throw new Error(INTERNAL);
      return store.tasks.getMany(ids);
    },
  },
});

async function post(body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(s.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, ...headers },
    body,
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: checked by the caller
  }
  return { status: res.status, text, json };
}

function expectRefused(r: { status: number; text: string; json: any }, code?: string) {
  expect(r.status, r.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(r.status, r.text.slice(0, 300)).toBeLessThan(500);
  if (code) expect(r.json?.errors?.[0]?.extensions?.code, r.text.slice(0, 300)).toBe(code);
  expect(r.text).not.toMatch(/\bat .*\.(ts|js):\d+|stacktrace/);
  refused++;
}

function expectCode(r: GqlResult, code: string, quota?: string) {
  expect(r.errors?.[0]?.extensions?.code, JSON.stringify(r).slice(0, 300)).toBe(code);
  if (quota) expect(r.errors![0]!.extensions!.quota).toBe(quota);
  refused++;
}

const nested = (levels: number) => `{ __schema { queryType { ${'fields { type { '.repeat(levels)} name ${'} } '.repeat(levels)} } } }`;

beforeAll(async () => {
  s = await startTestServer(
    { AUTH: 'on', SPINDLE_ADMIN_KEY: ADMIN_KEY, MAX_QUERY_DEPTH: '8', MAX_QUERY_COST: '3000', MAX_REQUEST_BYTES: '1MiB', MAX_STDIN_BYTES: '64KiB' },
    { wrapStore: failing },
  );
  c = s.as(ADMIN_KEY);
  await c.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
});

afterAll(async () => {
  console.log(`security-graphql: ${refused} hostile requests refused`);
  await s?.close();
});

describe('GraphQL over HTTP conformance (graphql-http serverAudits)', () => {
  it('passes every MUST audit; SHOULD/MAY results are reported', { timeout: 120_000 }, async () => {
    const withKey = (input: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${ADMIN_KEY}`);
      return fetch(input, { ...init, headers });
    };
    const results: { id: string; name: string; status: string; reason?: string }[] = [];
    for (const audit of serverAudits({ url: s.graphqlUrl, fetchFn: withKey })) {
      const r = await audit.fn();
      results.push({ id: audit.id, name: audit.name, status: r.status, ...(r.status !== 'ok' ? { reason: 'reason' in r ? r.reason : '' } : {}) });
    }
    const mustFailing = results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok');
    const notOk = results.filter((r) => r.status !== 'ok');
    console.log(
      `graphql-http audits: ${results.length} run, ${results.filter((r) => r.status === 'ok').length} ok; ` +
        (['MUST', 'SHOULD', 'MAY'] as const).map((k) => `${k} ${results.filter((r) => r.name.startsWith(k) && r.status === 'ok').length}/${results.filter((r) => r.name.startsWith(k)).length}`).join(', ') +
        '\n' +
        notOk.map((r) => `  ${r.status} ${r.id} ${r.name}: ${r.reason}`).join('\n'),
    );
    expect(mustFailing).toEqual([]);
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThan(10);
  });
});

describe('operation limits', () => {
  it('refuses operations nested deeper than MAX_QUERY_DEPTH over HTTP and WebSocket', async () => {
    expectCode(await c.gql(nested(5)), 'LIMIT_EXCEEDED', 'MAX_QUERY_DEPTH');
    expectRefused(await post(JSON.stringify({ query: nested(5) })), 'LIMIT_EXCEEDED');
    expect((await c.gql(nested(1))).errors).toBeUndefined();
    // Through fragments too (and a fragment cycle does not hang the check).
    expectCode(await c.gql(`query { __schema { ...A } } fragment A on __Schema { types { fields { type { fields { type { fields { type { name } } } } } } } }`), 'LIMIT_EXCEEDED', 'MAX_QUERY_DEPTH');
    const cyc = await c.gql(`query { __schema { ...A } } fragment A on __Schema { ...B } fragment B on __Schema { ...A }`);
    expect(cyc.errors?.[0]?.message).toMatch(/cannot spread fragment/i);
    const ok = c.subscribe(`subscription { stats { pool { workers } byStatus { status } } }`);
    await ok.next();
    ok.close();
    const deep = c.subscribe(nested(5));
    await expect(deep.next()).rejects.toThrow(/MAX_QUERY_DEPTH/);
    refused++;
  });

  it('refuses operations costing more than MAX_QUERY_COST (page sizes and aliases count)', async () => {
    const big = `{ tasks(first: 500) { edges { node { id status args stdout stderr attemptList { n stdout stderr } } } } }`;
    expectCode(await c.gql(big), 'LIMIT_EXCEEDED', 'MAX_QUERY_COST');
    expectRefused(await post(JSON.stringify({ query: big })), 'LIMIT_EXCEEDED'); // a 400, not a 500
    expect((await c.gql(`{ tasks(first: 10) { edges { node { id status } } } }`)).errors).toBeUndefined();
    const aliases = `{ ${Array.from({ length: 2000 }, (_, i) => `a${i}: me { role }`).join(' ')} }`;
    const r = await c.gql(aliases);
    expectCode(r, 'LIMIT_EXCEEDED', 'MAX_QUERY_COST');
    expect(r.errors![0]!.message).toMatch(/costs \d+, more than the maximum of 3000 \(MAX_QUERY_COST\)/);
    const flood = `mutation ($i: [SubmitTaskInput!]!) { submitTasks(inputs: $i) { id args stdout attemptList { n stdout } } }`;
    expectCode(await c.gql(flood, { i: Array.from({ length: 1000 }, () => ({ agent: 'hello' })) }), 'LIMIT_EXCEEDED', 'MAX_QUERY_COST');
    const costly = c.subscribe(big);
    await expect(costly.next()).rejects.toThrow(/MAX_QUERY_COST/);
    refused++;
    // More selections than the estimator walks (10,000): refused over both transports, never run uncosted.
    const wide = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expectRefused(await post(JSON.stringify({ query: wide })), 'LIMIT_EXCEEDED');
    await expect(c.subscribe(wide).next()).rejects.toThrow(/MAX_QUERY_COST/);
    refused++;
  });

  it('refuses HTTP batches (arrays of operations)', async () => {
    expectRefused(await post(JSON.stringify([{ query: '{ me { role } }' }, { query: '{ me { role } }' }])));
  });

  it('answers introspection (INTROSPECTION defaults to on)', async () => {
    expect((await c.gqlOk(`{ __schema { queryType { name } } }`)).__schema.queryType.name).toBe('Query');
  });
});

describe('unexpected errors are masked on both transports', () => {
  it('HTTP: "Internal server error" without the message or a stack', async () => {
    const r = await c.gql(`query ($id: ID!) { task(id: $id) { id } }`, { id: BOOM });
    expect(r.errors).toEqual([expect.objectContaining({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
    expect(JSON.stringify(r)).not.toMatch(/hunter2|spindle\/db|stack/);
  });

  it('WebSocket: the same masking in a subscription', async () => {
    const sub = c.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: BOOM });
    const err = await sub.next().then(
      () => null,
      (e: Error) => e.message,
    );
    expect(err).toContain('Internal server error');
    expect(err).not.toMatch(/hunter2|spindle\/db|stack/);
  });
});

describe('hostile bodies', () => {
  it('refuses malformed JSON, non-object bodies and wrong content types with 4xx', async () => {
    expectRefused(await post('{"query": '));
    expectRefused(await post('"just a string"'));
    expectRefused(await post('null'));
    expectRefused(await post('{"query": 42}'));
    expectRefused(await post('{"query": "{ me { role } }", "variables": "not an object"}'));
    expectRefused(await post('query=%7Bme%7Brole%7D%7D', { 'content-type': 'application/x-www-form-urlencoded' }));
  });

  it('refuses malformed GraphQL: syntax, unknown fields, bad variables, a token flood', async () => {
    for (const query of ['{', '}}}', 'query {', '{ me { role ', '{ nope }', 'mutation { submitTask }', 'subscription { stats { at } } subscription { stats { at } }', '\u0000{}']) {
      expectRefused(await post(JSON.stringify({ query })));
    }
    expectRefused(await post(JSON.stringify({ query: 'query ($id: ID!) { task(id: $id) { id } }', variables: { id: { nested: true } } })));
    // 20 000 levels deep: refused by a flat scan before the (recursive) parser could overflow its stack.
    const deep = `{ ${'a { '.repeat(20_000)}${'} '.repeat(20_000)} }`;
    expectRefused(await post(JSON.stringify({ query: deep })), 'LIMIT_EXCEEDED');
    const viaWs = c.subscribe(deep);
    await expect(viaWs.next()).rejects.toThrow(/MAX_QUERY_DEPTH/);
    // 100 000 flat tokens: refused by the parser's token limit.
    const r = await post(JSON.stringify({ query: `{ ${'me { role } '.repeat(25_000)} }` }));
    expectRefused(r);
    expect(r.text).toMatch(/token/i);
  });

  it('refuses invalid UTF-8 in the body', async () => {
    const body = Buffer.concat([Buffer.from('{"query": "{ me { role } }", "x": "'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]);
    const r = await post(body);
    // Either refused as a bad body or decoded with replacement characters and answered: never a 500.
    expect(r.status).toBeLessThan(500);
    refused++;
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const stdin = Buffer.concat([Buffer.from(`{"query": "mutation ($s: String) { submitTask(input: {agent: \\"hello\\", stdin: $s, runAt: \\"${later}\\"}) { stdin } }", "variables": {"s": "`), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"}}')]);
    const r2 = await post(stdin);
    expect(r2.status).toBeLessThan(500);
  });

  it('refuses invalid base64 wherever base64 is taken', async () => {
    for (const b64 of ['!!!!', 'AAA', 'AA=A', 'A'.repeat(5), '\u0000AAA', 'AAAA====']) {
      expectCode(await c.gql(`mutation ($b: String) { registerAgent(input: {name: "x", wasmBase64: $b}) { id } }`, { b: b64 }), 'BAD_USER_INPUT');
      expectCode(await c.gql(`mutation ($b: String) { submitTask(input: {agent: "hello", stdinBase64: $b}) { id } }`, { b: b64 }), 'BAD_USER_INPUT');
      expectCode(await c.gql(`mutation ($b: String) { submitTask(input: {agent: "hello", files: [{path: "a", base64: $b}]}) { id } }`, { b: b64 }), 'BAD_USER_INPUT');
    }
  });

  it('refuses huge variables: over the body limit (413), over input limits (LIMIT/BAD_USER_INPUT)', async () => {
    const huge = JSON.stringify({ query: 'mutation ($s: String) { submitTask(input: {agent: "hello", stdin: $s}) { id } }', variables: { s: 'x'.repeat(2 * 1024 * 1024) } });
    expectRefused(await post(huge), 'LIMIT_EXCEEDED');
    expectCode(await c.gql('mutation ($s: String) { submitTask(input: {agent: "hello", stdin: $s}) { id } }', { s: 'x'.repeat(100 * 1024) }), 'BAD_USER_INPUT');
    expectCode(await c.gql('mutation ($a: [String!]) { submitTask(input: {agent: "hello", args: $a}) { id } }', { a: Array.from({ length: 5000 }, () => 'a') }), 'BAD_USER_INPUT');
    expectCode(await c.gql('mutation ($n: String!) { registerAgent(input: {name: $n, wat: "(module)"}) { id } }', { n: 'n'.repeat(100_000) }), 'BAD_USER_INPUT');
    expectCode(await c.gql('mutation ($e: JSON) { submitTask(input: {agent: "hello", env: $e}) { id } }', { e: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`V${i}`, 'x'])) }), 'BAD_USER_INPUT');
    // A page of a million costs a million: refused before the resolver's own range check.
    expectCode(await c.gql('query ($f: Int) { tasks(first: $f) { totalCount } }', { f: 1_000_000 }), 'LIMIT_EXCEEDED', 'MAX_QUERY_COST');
    expectCode(await c.gql('query ($f: Int) { tasks(first: $f) { totalCount } }', { f: 501 }), 'BAD_USER_INPUT');
    expectCode(await c.gql('query ($id: ID!) { task(id: $id) { id } }', { id: 'x'.repeat(100_000) }), 'BAD_USER_INPUT');
  });

  it('is still healthy and answering', async () => {
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await c.gqlOk(`{ me { role } }`)).me.role).toBe('admin');
  });
});

describe('INTROSPECTION=false', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ INTROSPECTION: 'false' });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('refuses __schema and __type over HTTP and WebSocket; ordinary queries still work', async () => {
    const r = await off.gql(`{ __schema { queryType { name } } }`);
    expect(r.errors?.[0]?.message).toMatch(/introspection/i);
    expect((await off.gql(`{ __type(name: "Task") { name } }`)).errors?.[0]?.message).toMatch(/introspection/i);
    const sub = off.subscribe(`{ __schema { queryType { name } } }`);
    await expect(sub.next()).rejects.toThrow(/introspection/i);
    expect((await off.gqlOk(`{ me { role } }`)).me.role).toBe('admin');
    refused += 3;
  });
});
