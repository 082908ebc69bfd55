// Per-tenant quotas against a real server: queued and active tasks, submit rate and burst, module
// size and stored bytes. Every refusal is LIMIT_EXCEEDED naming the quota and its value, and one
// tenant at its quota does not stop another. Per-tenant overrides: set, cleared, validated against
// their options' ranges, named in refusals, and only for system admins to set. Also:
// SPINDLE_ADMIN_KEY is honoured at start-up. (QUOTA_RUNNING_TASKS: api-running-cap.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionRange, QUOTA_OPTIONS } from '../../src/config/index.js';
import { TENANT_QUOTAS } from '../../src/domain/index.js';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { loadWat, watToWasm } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type GqlResult, type TestClient, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const ADMIN_KEY = `spd_${'q'.repeat(20)}${Date.now()}${'Q'.repeat(10)}`;
const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id name } }`;
const SUBMIT_MANY = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id status } }`;
const LATER = () => new Date(Date.now() + 3_600_000).toISOString();

let s: TestServer;
let sizes: { demo: number; hello: number; echo: number };
const tenants: Record<string, TestClient> = {};
const keys: Record<string, string> = {};

function expectLimit(r: GqlResult, quota: string, limit: string) {
  expect(r.errors?.[0]?.extensions, JSON.stringify(r)).toMatchObject({ code: 'LIMIT_EXCEEDED', quota, limit });
  expect(r.errors![0]!.message).toContain(quota);
  expect(r.errors![0]!.message).toContain(limit);
}

const later = (n: number) => Array.from({ length: n }, () => ({ agent: 'hello', runAt: LATER() }));
const settle = () => sleep(1200); // counts are cached for up to 1 s: time must pass

beforeAll(async () => {
  sizes = { demo: (await watToWasm(DEMO_AGENT_WAT)).length, hello: (await loadWat('hello')).length, echo: (await loadWat('echo_stdin')).length };
  s = await startTestServer({
    AUTH: 'on',
    SPINDLE_ADMIN_KEY: ADMIN_KEY,
    QUOTA_QUEUED_TASKS: '6',
    QUOTA_ACTIVE_TASKS: '6',
    QUOTA_SUBMIT_BURST: '5',
    QUOTA_SUBMIT_RATE: '1',
    // The demo agent plus hello fit; echo_stdin on top does not.
    QUOTA_STORED_BYTES: String(sizes.demo + sizes.hello + sizes.echo - 1),
    MAX_MODULE_BYTES: '64KiB',
  });
  const admin = s.as(ADMIN_KEY);
  for (const name of ['a', 'b', 'c', 'd']) {
    const { createTenant } = await admin.gqlOk(`mutation ($n: String!) { createTenant(name: $n) { id } }`, { n: `quota-${name}` });
    const { createApiKey } = await admin.gqlOk(`mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, {
      i: { name: 'submitter', role: 'submitter', tenantId: createTenant.id },
    });
    tenants[name] = s.as(createApiKey.secret);
    keys[name] = createApiKey.secret;
    await tenants[name]!.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
  }
});

afterAll(async () => {
  await s?.close();
});

describe('start-up', () => {
  it('takes SPINDLE_ADMIN_KEY as the system admin key and prints none', async () => {
    expect(s.adminKey).toBeNull();
    expect((await s.as(ADMIN_KEY).gqlOk(`{ me { systemAdmin role } }`)).me).toEqual({ systemAdmin: true, role: 'admin' });
  });
});

describe('task quotas', () => {
  it('refuses a batch past QUOTA_QUEUED_TASKS, then single submits once the queue is full', async () => {
    const a = tenants.a!;
    expectLimit(await a.gql(SUBMIT_MANY, { inputs: later(7) }), 'QUOTA_QUEUED_TASKS', '6');
    expect((await a.gqlOk(SUBMIT_MANY, { inputs: later(5) })).submitTasks).toHaveLength(5);
    await settle();
    expectLimit(await a.gql(SUBMIT_MANY, { inputs: later(2) }), 'QUOTA_QUEUED_TASKS', '6');
    expect((await a.gqlOk(SUBMIT_MANY, { inputs: later(1) })).submitTasks).toHaveLength(1);
    await settle();
    expectLimit(await a.gql(SUBMIT_MANY, { inputs: later(1) }), 'QUOTA_QUEUED_TASKS', '6');
    // Another tenant is not affected.
    expect((await tenants.c!.gqlOk(SUBMIT_MANY, { inputs: later(1) })).submitTasks).toHaveLength(1);
  });

  it('counts running tasks against QUOTA_ACTIVE_TASKS', async () => {
    const d = tenants.d!;
    await d.gqlOk(REGISTER, { input: { name: 'spin', wat: await import('node:fs/promises').then((fs) => fs.readFile(new URL('../fixtures/wat/infinite_loop.wat', import.meta.url), 'utf8')) } });
    const spins = (await d.gqlOk(SUBMIT_MANY, { inputs: [0, 1].map(() => ({ agent: 'spin', limits: { timeoutMs: 120_000 }, retryPolicy: { maxAttempts: 1 } })) })).submitTasks;
    await waitFor('two running tasks', async () => (await d.gqlOk(`{ stats { running } }`)).stats.running === 2, { timeoutMs: 60_000, everyMs: 100 });
    await settle();
    expectLimit(await d.gql(SUBMIT_MANY, { inputs: later(5) }), 'QUOTA_ACTIVE_TASKS', '6');
    expect((await d.gqlOk(SUBMIT_MANY, { inputs: later(4) })).submitTasks).toHaveLength(4);
    for (const t of spins) await d.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { id } }`, { id: t.id });
  });

  it('refuses a batch larger than QUOTA_SUBMIT_BURST and paces QUOTA_SUBMIT_RATE', async () => {
    const b = tenants.b!;
    expectLimit(await b.gql(SUBMIT_MANY, { inputs: later(6) }), 'QUOTA_SUBMIT_BURST', '5');
    expect((await b.gqlOk(SUBMIT_MANY, { inputs: later(5) })).submitTasks).toHaveLength(5);
    const r = await b.gql(SUBMIT_MANY, { inputs: later(1) });
    expectLimit(r, 'QUOTA_SUBMIT_RATE', '1');
    expect(r.errors![0]!.extensions!.retryAfterMs).toBeGreaterThan(0);
    await sleep(Number(r.errors![0]!.extensions!.retryAfterMs) + 50); // as the answer says
    expect((await b.gqlOk(SUBMIT_MANY, { inputs: later(1) })).submitTasks).toHaveLength(1);
  });
});

describe('module quotas', () => {
  it('refuses a module over MAX_MODULE_BYTES with the quota named', async () => {
    const r = await tenants.c!.gql(REGISTER, { input: { name: 'big', wasmBase64: toBase64(new Uint8Array(70 * 1024)) } });
    expectLimit(r, 'MAX_MODULE_BYTES', String(64 * 1024));
  });

  it('refuses modules past QUOTA_STORED_BYTES over GraphQL and POST /modules; stored ones stay usable', async () => {
    const c = tenants.c!;
    const quota = String(sizes.demo + sizes.hello + sizes.echo - 1);
    await c.gqlOk(REGISTER, { input: { name: 'hello2', wasmBase64: toBase64(await loadWat('hello')) } });
    expectLimit(await c.gql(REGISTER, { input: { name: 'echo', wasmBase64: toBase64(await loadWat('echo_stdin')) } }), 'QUOTA_STORED_BYTES', quota);
    // Registering bytes it already stored costs nothing more.
    await c.gqlOk(REGISTER, { input: { name: 'hello3', wasmBase64: toBase64(await loadWat('hello')) } });
    const res = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm', authorization: `Bearer ${keys.c}` }, body: await loadWat('echo_stdin') });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'LIMIT_EXCEEDED', quota: 'QUOTA_STORED_BYTES', limit: quota });
    // Streamed without a Content-Length, an upload counts as MAX_MODULE_BYTES until it is read:
    // nothing is stored for a tenant without that much room.
    const hello = await loadWat('hello');
    const streamed = await fetch(`${s.url}/modules`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm', authorization: `Bearer ${keys.c}` },
      body: new ReadableStream({ start: (ctl) => (ctl.enqueue(hello), ctl.close()) }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as any).error).toMatchObject({ quota: 'QUOTA_STORED_BYTES' });
    // Tenant b has stored only the demo agent: the same upload fits there.
    const other = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm', authorization: `Bearer ${keys.b}` }, body: await loadWat('echo_stdin') });
    expect(other.status).toBe(201);
  });
});

describe('quota overrides (setTenantQuotas, createTenant, Tenant.quotas)', () => {
  const QUOTAS = `quotas { queuedTasks activeTasks runningTasks storedBytes submitRate submitBurst taskBytes overridden }`;
  const SET = `mutation ($t: ID!, $input: TenantQuotasInput!) { setTenantQuotas(tenantId: $t, input: $input) { id ${QUOTAS} } }`;
  const storedDefault = (z: typeof sizes) => z.demo + z.hello + z.echo - 1;
  let o: { id: string; admin: TestClient; submitter: TestClient; viewer: TestClient };

  beforeAll(async () => {
    const admin = s.as(ADMIN_KEY);
    const { createTenant } = await admin.gqlOk(`mutation ($n: String!, $q: TenantQuotasInput) { createTenant(name: $n, quotas: $q) { id ${QUOTAS} } }`, {
      n: 'quota-overrides',
      q: { queuedTasks: 3, submitBurst: 2, submitRate: 100 },
    });
    const key = async (role: string) =>
      s.as(
        (await admin.gqlOk(`mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, { i: { name: role, role, tenantId: createTenant.id } }))
          .createApiKey.secret,
      );
    o = { id: createTenant.id, admin: await key('admin'), submitter: await key('submitter'), viewer: await key('viewer') };
    await o.submitter.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
  });

  const set = (input: Record<string, unknown>, tenantId = o.id) => s.as(ADMIN_KEY).gql(SET, { t: tenantId, input });

  it('createTenant takes overrides; Tenant.quotas shows the values in force and which are overridden', async () => {
    const expected = { queuedTasks: 3, activeTasks: 6, runningTasks: 0, storedBytes: storedDefault(sizes), submitRate: 100, submitBurst: 2, taskBytes: 64 * 1024 ** 3, overridden: ['queuedTasks', 'submitRate', 'submitBurst'] };
    expect((await o.admin.gqlOk(`{ me { tenant { id ${QUOTAS} } } }`)).me.tenant).toEqual({ id: o.id, quotas: expected });
    const listed = (await s.as(ADMIN_KEY).gqlOk(`{ tenants { id ${QUOTAS} } }`)).tenants.find((t: { id: string }) => t.id === o.id);
    expect(listed.quotas).toEqual(expected);
  });

  it('setTenantQuotas sets, clears with null, and leaves absent fields as they are', async () => {
    let r = await set({ runningTasks: 4, storedBytes: 5000 });
    expect(r.data?.setTenantQuotas.quotas).toMatchObject({ queuedTasks: 3, runningTasks: 4, storedBytes: 5000, submitBurst: 2, overridden: ['queuedTasks', 'runningTasks', 'storedBytes', 'submitRate', 'submitBurst'] });
    r = await set({ runningTasks: null, storedBytes: null, queuedTasks: 4 });
    expect(r.data?.setTenantQuotas.quotas).toMatchObject({ queuedTasks: 4, runningTasks: 0, storedBytes: storedDefault(sizes), submitBurst: 2, overridden: ['queuedTasks', 'submitRate', 'submitBurst'] });
    r = await set({});
    expect(r.data?.setTenantQuotas.quotas.overridden, JSON.stringify(r)).toEqual(['queuedTasks', 'submitRate', 'submitBurst']);
    expect((await set({ queuedTasks: 3 })).data?.setTenantQuotas.quotas.queuedTasks).toBe(3);
    // Ids: unknown → NOT_FOUND, malformed → BAD_USER_INPUT.
    expect((await set({ queuedTasks: 1 }, '00000000-0000-4000-8000-000000000001')).errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'tenantId' });
    expect((await set({ queuedTasks: 1 }, 'nope')).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tenantId' });
  });

  it("validates every field against its QUOTA_* option's range: its max passes; max + 1, negative and fractional values are refused", async () => {
    for (const q of TENANT_QUOTAS) {
      const option = QUOTA_OPTIONS[q];
      const { min, max } = optionRange(option);
      const atMax = await set({ [q]: max });
      expect(atMax.errors, `${q} = ${max}`).toBeUndefined();
      expect(atMax.data!.setTenantQuotas.quotas[q]).toBe(max);
      for (const bad of [max + 1, -1, min - 1]) {
        const r = await set({ [q]: bad });
        expect(r.errors?.[0]?.extensions, `${q} = ${bad}`).toMatchObject({ code: 'BAD_USER_INPUT', field: `input.${q}`, min, max, quota: option });
        expect(r.errors![0]!.message).toContain(`input.${q}`);
        expect(r.errors![0]!.message).toContain(String(max));
      }
      // Not an integer: GraphQL's Int refuses it before the resolver, our check does for storedBytes (a Float).
      const fractional = await set({ [q]: 2.5 });
      expect(fractional.errors?.[0]?.extensions?.code, q).toBe('BAD_USER_INPUT');
      expect(fractional.errors![0]!.message).toContain(`input.${q}`);
      await set({ [q]: null });
    }
    const created = await s.as(ADMIN_KEY).gql(`mutation ($q: TenantQuotasInput) { createTenant(name: "quota-bad", quotas: $q) { id } }`, { q: { runningTasks: -1 } });
    expect(created.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'quotas.runningTasks' });
    expect((await s.as(ADMIN_KEY).gqlOk(`{ tenants { name } }`)).tenants.map((t: { name: string }) => t.name)).not.toContain('quota-bad');
    await set({ queuedTasks: 3, submitBurst: 2, submitRate: 100 });
  });

  it('refusals name the override in force and its value; a change applies at once on this node', async () => {
    const sub = o.submitter;
    const r = await sub.gql(SUBMIT_MANY, { inputs: later(4) });
    expectLimit(r, 'QUOTA_QUEUED_TASKS', '3');
    expect(r.errors![0]!.message).toContain('set for this tenant');
    expectLimit(await sub.gql(SUBMIT_MANY, { inputs: later(3) }), 'QUOTA_SUBMIT_BURST', '2');
    expect((await sub.gqlOk(SUBMIT_MANY, { inputs: later(2) })).submitTasks).toHaveLength(2);
    await settle();
    expectLimit(await sub.gql(SUBMIT_MANY, { inputs: later(2) }), 'QUOTA_QUEUED_TASKS', '3');
    await set({ queuedTasks: 10 }); // no cache delay on the node that set it
    expect((await sub.gqlOk(SUBMIT_MANY, { inputs: later(2) })).submitTasks).toHaveLength(2);
    await set({ storedBytes: 10 });
    expectLimit(await sub.gql(REGISTER, { input: { name: 'echo', wasmBase64: toBase64(await loadWat('echo_stdin')) } }), 'QUOTA_STORED_BYTES', '10');
    await set({ queuedTasks: 3, storedBytes: null });
  });

  it('only system admins set quotas; a tenant admin reads its own, viewers and submitters do not', async () => {
    for (const caller of [o.admin, o.submitter, o.viewer, tenants.a!]) {
      const r = await caller.gql(SET, { t: o.id, input: { runningTasks: 1000 } });
      expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(r.errors![0]!.message).toMatch(/setTenantQuotas needs an admin key of the default \(system\) tenant/);
    }
    expect((await o.admin.gql(`{ tenants { ${QUOTAS} } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    for (const caller of [o.viewer, o.submitter]) {
      const r = await caller.gql(`{ me { tenant { quotas { runningTasks } } } }`);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', required: 'admin' });
    }
    expect((await o.admin.gqlOk(`{ me { tenant { quotas { runningTasks overridden } } } }`)).me.tenant.quotas).toEqual({ runningTasks: 0, overridden: ['queuedTasks', 'submitRate', 'submitBurst'] });
  });
});
