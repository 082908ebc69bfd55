// Tenants, API keys and roles against a real server with AUTH=on: keys are required on HTTP,
// WebSocket and POST /modules, roles gate mutations, and every read, write and subscription is
// scoped to the caller's tenant (another tenant's ids answer NOT_FOUND). Secrets never reach the log.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hashApiKey } from '../../src/services/auth.service.js';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { makeLogger } from '../../src/server/logger.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type GqlResult, type TestClient, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

let s: TestServer;
let admin: TestClient;
const logLines: string[] = [];
const secrets: string[] = [];
let refused = 0;

/** Asserts the first error's code, and counts one hostile request refused. */
function expectCode(r: GqlResult, code: string) {
  expect(r.errors?.[0]?.extensions?.code, JSON.stringify(r)).toBe(code);
  refused++;
}

const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id name } }`;
const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id status } }`;
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret key { id name prefix role tenantId revokedAt } } }`;

async function createKey(by: TestClient, input: { name: string; role: string; tenantId?: string }) {
  const { createApiKey } = await by.gqlOk(CREATE_KEY, { input });
  secrets.push(createApiKey.secret);
  return createApiKey as { secret: string; key: { id: string; prefix: string; role: string; tenantId: string } };
}

/** A raw graphql-transport-ws socket, for close codes. */
function rawWs(url: string) {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const messages: any[] = [];
  socket.on('message', (d) => messages.push(JSON.parse(String(d))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, messages, closed, opened, send: (m: unknown) => socket.send(JSON.stringify(m)) };
}

async function wsConnect(key: string | null) {
  const c = rawWs(s.wsUrl);
  await c.opened;
  c.send({ type: 'connection_init', payload: key ? { authorization: `Bearer ${key}` } : {} });
  return c;
}

// Tenant A ("acme") and tenant B ("globex"), each with an admin, a submitter and a viewer.
const acme = {} as Record<'admin' | 'submitter' | 'viewer', TestClient> & { id: string; secrets: Record<string, string> };
const globex = {} as Record<'admin' | 'submitter' | 'viewer', TestClient> & { id: string };
let acmeTask: string;
let acmeAgent: string;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  s = await startTestServer({ AUTH: 'on' }, { logger: makeLogger({ logLevel: 'debug', nodeId: 'security-auth' }, sink) });
  expect(s.adminKey).toMatch(/^spd_[A-Za-z0-9_-]{43}$/);
  secrets.push(s.adminKey!);
  admin = s.as(s.adminKey);

  const a = await admin.gqlOk(`mutation { createTenant(name: "acme") { id name } }`);
  const b = await admin.gqlOk(`mutation { createTenant(name: "globex") { id name } }`);
  acme.id = a.createTenant.id;
  globex.id = b.createTenant.id;
  const acmeAdmin = await createKey(admin, { name: 'acme admin', role: 'admin', tenantId: acme.id });
  const globexAdmin = await createKey(admin, { name: 'globex admin', role: 'admin', tenantId: globex.id });
  acme.admin = s.as(acmeAdmin.secret);
  globex.admin = s.as(globexAdmin.secret);
  acme.secrets = { admin: acmeAdmin.secret };
  for (const role of ['submitter', 'viewer'] as const) {
    const ka = await createKey(acme.admin, { name: `acme ${role}`, role });
    const kb = await createKey(globex.admin, { name: `globex ${role}`, role });
    acme[role] = s.as(ka.secret);
    acme.secrets[role] = ka.secret;
    globex[role] = s.as(kb.secret);
  }
  acmeAgent = (await acme.submitter.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } })).registerAgent.id;
  acmeTask = (await acme.submitter.gqlOk(SUBMIT, { input: { agent: 'hello', runAt: new Date(Date.now() + 3_600_000).toISOString() } })).submitTask.id;
});

afterAll(async () => {
  console.log(`security-auth: ${refused} hostile or unauthorised requests refused`);
  await s?.close();
});

describe('authentication', () => {
  it('refuses HTTP without a key, with a malformed key and with an unknown key (401)', async () => {
    for (const authorization of [undefined, 'Bearer', 'Bearer not-a-key', `Bearer spd_${'x'.repeat(43)}`, 'Basic dXNlcjpwYXNz']) {
      const res = await fetch(s.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query: '{ agents { id } }' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as GqlResult;
      expectCode(body, 'UNAUTHENTICATED');
      if (authorization) expect(JSON.stringify(body)).not.toContain(authorization.replace(/^\w+ ?/, '') || '\u0000');
    }
  });

  it('printed a system admin key once, stored only as its sha256', async () => {
    const me = await admin.gqlOk(`{ me { role systemAdmin authEnabled keyId tenant { name } } }`);
    expect(me.me).toMatchObject({ role: 'admin', systemAdmin: true, authEnabled: true, tenant: { name: 'default' } });
    const row = await s.spindle.store.apiKeys.findByHash(hashApiKey(s.adminKey!));
    expect(row).toMatchObject({ id: me.me.keyId, role: 'admin', prefix: s.adminKey!.slice(0, 10) });
    expect(JSON.stringify(row)).not.toContain(s.adminKey!);
    const { apiKeys } = await admin.gqlOk(`{ apiKeys { id prefix name role } }`);
    expect(JSON.stringify(apiKeys)).not.toContain(s.adminKey!.slice(10));
  });

  it('creates keys shown once; lists them without secrets; tenant admins stay in their tenant', async () => {
    const { apiKeys } = await acme.admin.gqlOk(`{ apiKeys { name role tenantId revokedAt } }`);
    const live = apiKeys.filter((k: { revokedAt: string | null }) => k.revokedAt === null); // another test revokes one of its own
    expect(live.map((k: { name: string }) => k.name).sort()).toEqual(['acme admin', 'acme submitter', 'acme viewer']);
    expect(apiKeys.every((k: { tenantId: string }) => k.tenantId === acme.id)).toBe(true);
    expectCode(await acme.admin.gql(`mutation { createTenant(name: "evil") { id } }`), 'FORBIDDEN');
    expectCode(await acme.admin.gql(`{ tenants { id } }`), 'FORBIDDEN');
    expectCode(await acme.admin.gql(CREATE_KEY, { input: { name: 'x', role: 'admin', tenantId: globex.id } }), 'NOT_FOUND');
    expectCode(await acme.admin.gql(`query ($t: ID) { apiKeys(tenantId: $t) { id } }`, { t: globex.id }), 'NOT_FOUND');
    const { apiKeys: theirs } = await globex.admin.gqlOk(`{ apiKeys { id } }`);
    expectCode(await acme.admin.gql(`mutation ($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: theirs[0].id }), 'NOT_FOUND');
    // The system admin reaches every tenant.
    const all = await admin.gqlOk(`{ tenants { name } }`);
    expect(all.tenants.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['default', 'acme', 'globex']));
    expectCode(await admin.gql(`mutation { createTenant(name: "acme") { id } }`), 'CONFLICT');
    expectCode(await admin.gql(`mutation { createTenant(name: "../../etc") { id } }`), 'BAD_USER_INPUT');
  });

  it('gates mutations by role: viewer reads, submitter submits, admin manages keys', async () => {
    expect((await acme.viewer.gqlOk(`{ agents { name } }`)).agents.map((a: { name: string }) => a.name)).toContain('hello');
    expectCode(await acme.viewer.gql(SUBMIT, { input: { agent: 'hello' } }), 'FORBIDDEN');
    expectCode(await acme.viewer.gql(REGISTER, { input: { name: 'x', wat: DEMO_AGENT_WAT } }), 'FORBIDDEN');
    expectCode(await acme.viewer.gql(`mutation ($id: ID!) { cancelTask(id: $id) { id } }`, { id: acmeTask }), 'FORBIDDEN');
    expectCode(await acme.viewer.gql(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id: acmeTask }), 'FORBIDDEN');
    expectCode(await acme.viewer.gql(`mutation ($id: ID!) { deleteAgent(id: $id) }`, { id: acmeAgent }), 'FORBIDDEN');
    expectCode(await acme.viewer.gql(`{ apiKeys { id } }`), 'FORBIDDEN');
    expectCode(await acme.submitter.gql(CREATE_KEY, { input: { name: 'x', role: 'admin' } }), 'FORBIDDEN');
    expectCode(await acme.submitter.gql(`{ apiKeys { id } }`), 'FORBIDDEN');
    const me = await acme.submitter.gqlOk(`{ me { role systemAdmin tenant { id } } }`);
    expect(me.me).toEqual({ role: 'submitter', systemAdmin: false, tenant: { id: acme.id } });
  });
});

describe('tenant isolation', () => {
  it("answers another tenant's ids exactly like ids that do not exist", async () => {
    const missing = '00000000-0000-7000-8000-000000000000';
    for (const id of [acmeTask, missing]) {
      expect((await globex.admin.gqlOk(`query ($id: ID!) { task(id: $id) { id } }`, { id })).task).toBeNull();
      expectCode(await globex.admin.gql(`mutation ($id: ID!) { cancelTask(id: $id) { id } }`, { id }), 'NOT_FOUND');
      expectCode(await globex.admin.gql(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id }), 'NOT_FOUND');
    }
    expect((await globex.admin.gqlOk(`query ($id: ID!) { agent(id: $id) { id } }`, { id: acmeAgent })).agent).toBeNull();
    expect((await globex.admin.gqlOk(`{ agent(name: "hello") { id } }`)).agent?.id).not.toBe(acmeAgent); // globex may have a "hello" of its own
    expect((await globex.admin.gqlOk(`query ($id: ID!) { deleteAgent(id: $id) }`.replace('query', 'mutation'), { id: acmeAgent })).deleteAgent).toBe(false);
    refused += 4;
    expectCode(await globex.submitter.gql(SUBMIT, { input: { agent: acmeAgent } }), 'NOT_FOUND');
    expectCode(await globex.submitter.gql(`query ($a: String) { tasks(filter: { agent: $a }) { totalCount } }`, { a: acmeAgent }), 'NOT_FOUND');
    // globex may have tasks and agents of its own (another test registers and runs one): none of acme's.
    const list = await globex.viewer.gqlOk(`{ tasks(first: 100) { edges { node { id } } } agents { id } }`);
    expect(list.tasks.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(acmeTask);
    expect(list.agents.map((a: { id: string }) => a.id)).not.toContain(acmeAgent);
    // The acme task is still there, untouched.
    expect((await acme.viewer.gqlOk(`query ($id: ID!) { task(id: $id) { status } }`, { id: acmeTask })).task.status).toBe('QUEUED');
  });

  it("cannot register another tenant's uploaded module by its digest", async () => {
    const bytes = await loadWat('echo_stdin');
    const res = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm', authorization: `Bearer ${acme.secrets.submitter}` }, body: bytes });
    expect(res.status).toBe(201);
    const { digest } = (await res.json()) as { digest: string };
    expectCode(await globex.submitter.gql(REGISTER, { input: { name: 'stolen', moduleDigest: digest } }), 'NOT_FOUND');
    expect((await acme.submitter.gqlOk(REGISTER, { input: { name: 'echo', moduleDigest: digest } })).registerAgent.name).toBe('echo');
  });

  it('scopes subscriptions: no events, output or state of another tenant', async () => {
    const seen = globex.viewer.subscribe(`subscription { taskEvents { taskId } }`);
    for (const q of [`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, `subscription ($id: ID!) { taskOutput(id: $id) { data } }`]) {
      const sub = globex.viewer.subscribe(q, { id: acmeTask });
      await expect(sub.next()).rejects.toThrow(/"code":"NOT_FOUND"/);
      refused++;
    }
    // Both tenants run tasks until both subscriptions provably receive events; globex's must
    // carry only globex's tasks.
    await globex.submitter.gqlOk(REGISTER, { input: { name: 'hi', wat: DEMO_AGENT_WAT } });
    const mine = acme.viewer.subscribe(`subscription { taskEvents { taskId status } }`);
    const acmeIds = new Set<string>();
    const globexIds = new Set<string>();
    await waitFor(
      'both subscriptions to receive events',
      async () => {
        acmeIds.add((await acme.submitter.gqlOk(SUBMIT, { input: { agent: 'hello' } })).submitTask.id);
        globexIds.add((await globex.submitter.gqlOk(SUBMIT, { input: { agent: 'hi' } })).submitTask.id);
        await sleep(500); // submit at a pace until both subscriptions deliver
        return mine.results.length > 0 && seen.results.length > 0;
      },
      { timeoutMs: 60_000, everyMs: 100 },
    );
    const t = (await acme.submitter.gqlOk(SUBMIT, { input: { agent: 'hello' } })).submitTask.id;
    await mine.until((e) => e.taskEvents.taskId === t && e.taskEvents.status === 'SUCCEEDED');
    const theirs = seen.results.map((r: GqlResult) => r.data.taskEvents.taskId as string);
    expect(theirs.length).toBeGreaterThan(0);
    expect(theirs.every((id) => globexIds.has(id))).toBe(true);
    expect(theirs.some((id) => acmeIds.has(id) || id === t)).toBe(false);
    mine.close();
    seen.close();
  });
});

describe('WebSocket and POST /modules use the same keys', () => {
  it('refuses connection_init without a valid key with 4403 Forbidden', async () => {
    for (const key of [null, 'spd_wrong', `spd_${'A'.repeat(43)}`]) {
      const c = await wsConnect(key);
      expect((await c.closed).code).toBe(4403);
      refused++;
    }
    const ok = await wsConnect(acme.secrets.viewer);
    await expect.poll(() => ok.messages.map((m) => m.type)).toContain('connection_ack');
    ok.socket.close();
  });

  it('refuses POST /modules without a key (401) and for a viewer (403)', async () => {
    const bytes = await loadWat('hello');
    const none = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: bytes });
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).error.code).toBe('UNAUTHENTICATED');
    const viewer = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm', authorization: `Bearer ${acme.secrets.viewer}` }, body: bytes });
    expect(viewer.status).toBe(403);
    refused += 2;
  });

  it('a revoked key stops working on HTTP, on new and on open WebSockets', async () => {
    const k = await createKey(acme.admin, { name: 'short-lived', role: 'viewer' });
    const client = s.as(k.secret);
    expect((await client.gqlOk(`{ me { role } }`)).me.role).toBe('viewer');
    const open = await wsConnect(k.secret);
    await expect.poll(() => open.messages.map((m) => m.type)).toContain('connection_ack');
    const revoked = await acme.admin.gqlOk(`mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`, { id: k.key.id });
    expect(revoked.revokeApiKey.revokedAt).toBeTruthy();
    expectCode(await client.gql(`{ me { role } }`), 'UNAUTHENTICATED');
    expect((await (await wsConnect(k.secret)).closed).code).toBe(4403);
    open.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    expect((await open.closed).code).toBe(4403);
    refused += 2;
    await client.close();
  });
});

describe('secrets', () => {
  it('never appear in the log, though key creation and use are logged', async () => {
    // A key created and revoked here, so both are logged whatever ran before.
    const k = await createKey(acme.admin, { name: 'logged', role: 'viewer' });
    await acme.admin.gqlOk(`mutation ($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: k.key.id });
    // Provoke more logging with keys in play: an unexpected error path and a failed auth.
    await fetch(s.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.secrets.admin}` }, body: '{"query": ' });
    const log = logLines.join('');
    expect(log).toContain('API key created');
    expect(log).toContain('API key revoked');
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(secret.slice(10)); // nor the secret part alone
    }
  });

  it('the pino redaction hides keys in headers and connection params', () => {
    const lines: string[] = [];
    const logger = makeLogger({ logLevel: 'info', nodeId: 'redact' }, new Writable({ write: (c, _e, d) => (lines.push(String(c)), d()) }));
    const secret = `spd_${'S'.repeat(43)}`;
    logger.info({ req: { headers: { authorization: `Bearer ${secret}` } }, connectionParams: { authorization: secret }, secret, authorization: secret }, 'x');
    expect(lines.join('')).not.toContain(secret);
    expect(lines.join('')).toContain('[redacted]');
  });
});

describe('registering with keys end to end', () => {
  it('a submitter of a second tenant registers the same name independently and runs it', async () => {
    const bytes = await loadWat('hello');
    const agent = (await globex.submitter.gqlOk(REGISTER, { input: { name: 'hello', wasmBase64: toBase64(bytes) } })).registerAgent;
    expect(agent.id).not.toBe(acmeAgent);
    const t = (await globex.submitter.gqlOk(SUBMIT, { input: { agent: 'hello' } })).submitTask.id;
    await waitFor('the task to succeed', async () => (await globex.viewer.gqlOk(`query ($id: ID!) { task(id: $id) { status } }`, { id: t })).task.status === 'SUCCEEDED', { timeoutMs: 30_000, everyMs: 100 });
    expect((await globex.viewer.gqlOk(`query ($id: ID!) { task(id: $id) { stdout } }`, { id: t })).task.stdout).toBe('hello, world\n');
  });
});
