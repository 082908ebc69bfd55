// The outage contract at the API edge: while the database is unreachable (a TCP proxy between the
// node and PostgreSQL is cut), every way in says UNAVAILABLE and invites a retry — HTTP 503 with
// Retry-After for GraphQL and POST /modules, the same code in WebSocket operation errors, close
// 1013 for a WebSocket whose key cannot be looked up — and never 401, 500 or
// INTERNAL_SERVER_ERROR. Once the link is back, the same requests succeed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { taskEvent } from '../../src/executor/results.js';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import type { TaskRow } from '../../src/store/types.js';
import { chaosSchema, describeOnPostgres, type ChaosSchema } from '../helpers/chaos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const UNAVAILABLE = { code: 'UNAVAILABLE', retryAfterSeconds: 5 };

async function post(s: TestServer, key: string | null, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(s.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { data?: any; errors?: { message: string; extensions: Record<string, unknown> }[] } };
}

/** Connects a graphql-ws client with `key` and resolves with how the server closed it (or 'connected'). */
function connectWs(s: TestServer, key: string): Promise<{ code: number; reason: string } | 'connected'> {
  return new Promise((resolve) => {
    const client = createClient({
      url: s.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      connectionParams: { authorization: `Bearer ${key}` },
      on: {
        connected: () => {
          resolve('connected');
          void client.dispose();
        },
        closed: (e) => resolve({ code: (e as { code: number }).code, reason: (e as { reason: string }).reason }),
      },
      onNonLazyError: () => {},
    });
  });
}

// In order (CI shuffles tests): the link is cut in beforeAll for every test, and the last one restores it.
describeOnPostgres('API: the database is unreachable', () => {
  let schema: ChaosSchema;
  let proxy: TcpProxy;
  /** AUTH=off: callers need no key, so only the operations themselves touch the database. */
  let open: TestServer;
  /** AUTH=on, on the same data: every key is looked up (cached for 5 s). */
  let guarded: TestServer;
  let dataDir: string;
  let coldKey: string;
  let taskId: string;
  let taskRow: TaskRow;
  /** Opened before the cut: its events resolve `task` from the database. */
  let watching: ReturnType<TestServer['subscribe']>;

  beforeAll(async () => {
    schema = await chaosSchema();
    proxy = await startTcpProxy({ host: new URL(process.env.DATABASE_URL!).hostname, port: Number(new URL(process.env.DATABASE_URL!).port || 5432) });
    dataDir = await mkdtemp(join(tmpdir(), 'spindle-outage-'));
    const storeOptions = { dataDir, databaseUrl: schema.nodeUrl({ port: proxy.port }) };
    guarded = await startTestServer({ AUTH: 'on' }, { storeOptions });
    open = await startTestServer({ AUTH: 'off' }, { storeOptions });
    // A key that exists but that the AUTH=on node has never looked up: nothing about it is cached.
    const tenantId = (await open.gqlOk(`{ me { tenant { id } } }`)).me.tenant.id;
    coldKey = (await open.gqlOk(`mutation ($t: ID!) { createApiKey(input: {tenantId: $t, name: "cold", role: submitter}) { secret } }`, { t: tenantId })).createApiKey.secret;
    await open.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
    taskId = (await open.gqlOk(`mutation { submitTask(input: {agent: "hello"}) { id } }`)).submitTask.id;
    await open.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: taskId }).until((e) => e.taskUpdated.status === 'SUCCEEDED');
    taskRow = (await open.spindle.store.tasks.get(tenantId, taskId))!;
    watching = open.subscribe(`subscription { taskEvents { taskId task { status } } }`);
    await sleep(300); // let the subscription reach the node (nothing to observe it by)
    proxy.cut();
  });

  afterAll(async () => {
    proxy?.restore();
    await open?.close();
    await guarded?.close();
    await proxy?.close();
    await schema?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('answers a submit and a query with 503, UNAVAILABLE and Retry-After', async () => {
    const submit = await post(open, null, `mutation { submitTask(input: {agent: "hello", idempotencyKey: "k1"}) { id } }`);
    expect(submit.status).toBe(503);
    expect(submit.headers.get('retry-after')).toBe('5');
    expect(submit.body.errors).toHaveLength(1);
    expect(submit.body.errors![0]).toMatchObject({ path: ['submitTask'], extensions: UNAVAILABLE });
    expect(submit.body.errors![0]!.message).toMatch(/database is unavailable.*retry.*idempotencyKey/);

    const query = await post(open, null, `{ tasks(first: 5) { totalCount } }`);
    expect(query.status).toBe(503);
    expect(query.headers.get('retry-after')).toBe('5');
    expect(query.body.errors![0]).toMatchObject({ extensions: UNAVAILABLE });
  });

  it('makes the whole response a 503 when one field of several is UNAVAILABLE', async () => {
    const r = await post(open, null, `query ($id: ID!) { __typename task(id: $id) { status } }`, { id: taskId });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.body.data).toEqual({ __typename: 'Query', task: null });
    expect(r.body.errors!.map((e) => e.extensions.code)).toEqual(['UNAVAILABLE']);
  });

  it('fails a subscription that cannot start with UNAVAILABLE and keeps the connection', async () => {
    const sub = open.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: taskId });
    await sub.ended;
    expect(sub.results[0]?.errors?.[0]).toMatchObject({ extensions: UNAVAILABLE });
    // The same connection still serves: a subscription that needs no database to start stays open.
    const events = open.subscribe(`subscription { taskEvents { taskId status } }`);
    await sleep(300); // open, and no error within 300 ms
    expect(events.results).toEqual([]);
    events.close();
  });

  it('sends UNAVAILABLE in a subscription result it cannot complete, and keeps the subscription', async () => {
    // An event as the executor publishes it; resolving its `task` needs the database.
    open.spindle.bus.pubsub.publish('TASK_EVENTS', [taskEvent(taskRow)]);
    await waitFor('a taskEvents result', async () => watching.results.length > 0, { timeoutMs: 10_000, everyMs: 100 });
    expect(watching.results[0]!.errors?.[0]).toMatchObject({ path: ['taskEvents', 'task'], extensions: UNAVAILABLE });
    open.spindle.bus.pubsub.publish('TASK_EVENTS', [taskEvent(taskRow)]);
    await waitFor('a second taskEvents result', async () => watching.results.length > 1, { timeoutMs: 10_000, everyMs: 100 });
  });

  it('answers POST /modules with 503 UNAVAILABLE and Retry-After', async () => {
    const res = await fetch(`${open.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('with AUTH=on, answers a key it cannot look up with 503 UNAVAILABLE, not 401; a malformed key is still 401', async () => {
    const r = await post(guarded, coldKey, `{ me { role } }`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(r.body.errors![0]).toMatchObject({ extensions: UNAVAILABLE });
    expect((await post(guarded, 'spd_not-a-real-key', `{ me { role } }`)).status).toBe(401);
    expect((await post(guarded, null, `{ me { role } }`)).status).toBe(401);
  });

  it('with AUTH=on, closes a WebSocket whose key it cannot look up with 1013 (try again later), reason UNAVAILABLE', async () => {
    expect(await connectWs(guarded, coldKey)).toEqual({ code: 1013, reason: 'UNAVAILABLE' });
  });

  it('answers as usual once the database is back, the same idempotencyKey giving one task', async () => {
    proxy.restore();
    const submit = () => post(guarded, coldKey, `mutation { submitTask(input: {agent: "hello", idempotencyKey: "k1"}) { id } }`);
    const first = await submit();
    expect(first.status).toBe(200);
    expect((await submit()).body.data.submitTask.id).toBe(first.body.data.submitTask.id);
    expect(await connectWs(guarded, coldKey)).toBe('connected');
  });
}, { shuffle: false });
