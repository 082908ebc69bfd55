// The retention sweeper and blob GC against a real store, setTenantRetention over the API, and the
// QUOTA_TASK_BYTES ledger. The fixed sleeps let time pass (a task must be older than a 1 or 2 s retention,
// a blob older than a 25 ms or 1 s grace: 1 s where something younger must survive a sweep that a
// loaded machine may start late); they wait for nothing to happen. Other tests of this file may
// leave expired rows behind (files run shuffled), so counts are at least what a test made and
// each test checks its own rows.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSweeper, type Retention } from '../../src/executor/sweeper.js';
import { DEFAULT_TENANT_ID, uuidv7, type AttemptResult, type NewTask, type Store } from '../../src/store/index.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import { newTask as newTaskOf } from '../helpers/executor.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';
import { makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';

let ts: TestStore;
let store: Store;
let agent: { agentId: string; agentVersionId: string; moduleDigest: string };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  ts = await makeTestStore();
  store = ts.store;
  agent = await registerStubAgent(store, 'swept', 'e');
});
afterAll(async () => ts?.cleanup());

type End = 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** A task of the stub agent in the default tenant, one attempt, no retry. */
const newTask = (over: Partial<NewTask>): NewTask => newTaskOf(agent, over);

/** Tasks born ended (one statement each batch, as a node that ran them at submit writes them), with their attempt. */
async function ended(status: End, n: number, files: { input?: string | null; output?: string | null } = {}, tenantId = DEFAULT_TENANT_ID): Promise<string[]> {
  const ids = Array.from({ length: n }, () => uuidv7());
  const now = new Date();
  const tasks = ids.map((id) => newTask({ id, tenantId, filesDigest: files.input ?? null, runAt: now }));
  const result = (taskId: string): AttemptResult =>
    makeAttemptResult({
      taskId,
      n: 1,
      node: 'n1',
      outcome: status === 'CANCELLED' ? 'cancelled' : 'exited',
      exitCode: status === 'SUCCEEDED' ? 0 : 1,
      stdout: new TextEncoder().encode('out'),
      compileMs: 1,
      files: files.output ? [{ path: '/out', size: 3 }] : [],
      filesDigest: files.output ?? null,
      startedAt: now,
      finishedAt: now,
      next: { status },
    });
  await store.tasks.insertMany(tasks, { node: 'n1', leaseMs: 30_000, settled: new Map(ids.map((id) => [id, result(id)])) });
  return ids;
}

const exists = async (id: string, tenantId = DEFAULT_TENANT_ID) => (await store.tasks.get(tenantId, id)) !== null;
const DAY = 86_400_000;
const sweeper = (retention: Retention, batch = 500, blobGraceMs = DAY) => makeSweeper({ store, retention, intervalMs: 60_000, batch, blobGraceMs, logger: quiet });

describe('the retention sweeper', () => {
  it('deletes ended tasks past their status retention with their attempts, in batches, and keeps the rest', async () => {
    const old = { succeeded: await ended('SUCCEEDED', 5), failed: await ended('FAILED', 2), cancelled: await ended('CANCELLED', 2) };
    await sleep(2100);
    const fresh = await ended('SUCCEEDED', 2);
    const waiting = await store.tasks.insertMany([newTask({ id: uuidv7() })]);

    // SUCCEEDED kept 2 s, FAILED kept forever, CANCELLED kept an hour; batches of 2 rows.
    const counts = await sweeper({ SUCCEEDED: 2000, CANCELLED: 3_600_000 }, 2).sweep();
    expect(counts.tasks).toBeGreaterThanOrEqual(5);
    expect(counts.attempts).toBe(counts.tasks);
    for (const id of old.succeeded) expect(await exists(id)).toBe(false);
    for (const id of [...old.failed, ...old.cancelled, ...fresh, waiting[0]!.task.id]) expect(await exists(id)).toBe(true);
    expect(await store.tasks.attempts(old.succeeded[0]!)).toEqual([]);
    expect(await store.tasks.attempts(fresh[0]!)).toHaveLength(1);
  });

  it('deletes a file bundle once nothing names it, and keeps one another task still names', async () => {
    const shared = await store.blobs.put(new TextEncoder().encode('shared bundle'));
    const alone = await store.blobs.put(new TextEncoder().encode('only the expired task'));
    const output = await store.blobs.put(new TextEncoder().encode('its output'));
    const [doomed] = await ended('FAILED', 1, { input: alone, output });
    const [alsoDoomed] = await ended('FAILED', 1, { input: shared });
    await sleep(2100);
    const [keeper] = await ended('FAILED', 1, { input: shared });

    const counts = await sweeper({ FAILED: 2000 }).sweep();
    expect(counts.blobs).toBeGreaterThanOrEqual(2);
    expect(await exists(doomed!)).toBe(false);
    expect(await exists(alsoDoomed!)).toBe(false);
    expect(await exists(keeper!)).toBe(true);
    expect(await store.blobs.has(alone)).toBe(false);
    expect(await store.blobs.has(output)).toBe(false);
    expect(await store.blobs.has(shared)).toBe(true);
  });

  it('on two nodes at once deletes every expired task exactly once', async () => {
    await sweeper({ CANCELLED: 1000 }).sweep(); // what earlier tests left
    const ids = await ended('CANCELLED', 40);
    await sleep(1100);
    const [a, b] = await Promise.all([sweeper({ CANCELLED: 1000 }, 3).sweep(), sweeper({ CANCELLED: 1000 }, 3).sweep()]);
    expect(a.tasks + b.tasks).toBe(40);
    expect(a.attempts + b.attempts).toBe(40);
    for (const id of ids) expect(await exists(id)).toBe(false);
  });

  it("follows a tenant's own retention over the server's: shorter, or forever (0)", async () => {
    const shortLived = (await store.tenants.create('short-lived')).id;
    const keeper = (await store.tenants.create('keeps-forever')).id;
    expect((await store.tenants.setRetention(shortLived, { failedMs: 1000 }))?.retention).toEqual({ succeededMs: null, failedMs: 1000, cancelledMs: null });
    await store.tenants.setRetention(keeper, { succeededMs: 0 });
    const [short] = await ended('FAILED', 1, {}, shortLived);
    const [shortOk] = await ended('SUCCEEDED', 1, {}, shortLived);
    const [kept] = await ended('SUCCEEDED', 1, {}, keeper);
    const [byDefault] = await ended('FAILED', 1);
    await sleep(1100);

    // The server keeps FAILED forever and SUCCEEDED 1 s.
    await sweeper({ SUCCEEDED: 1000 }).sweep();
    expect(await exists(short!, shortLived)).toBe(false);
    expect(await exists(shortOk!, shortLived)).toBe(false);
    expect(await exists(kept!, keeper)).toBe(true);
    expect(await exists(byDefault!)).toBe(true);
  });

  it('deletes nothing when every status is kept forever and nothing is past the blob grace', async () => {
    const s = sweeper({});
    s.start();
    expect(await s.sweep()).toEqual({ tasks: 0, attempts: 0, blobs: 0, agents: 0, modules: 0 });
    await s.stop();
  });
});

describe('setTenantRetention, Tenant.retention and QUOTA_TASK_BYTES over the API', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ RETAIN_FAILED: '7d', QUOTA_TASK_BYTES: '1KiB' });
  });
  afterAll(async () => s?.close());

  it('shows the server defaults, sets and clears overrides, and refuses values out of range naming the option', async () => {
    const view = `{ me { tenant { retention { succeededMs failedMs cancelledMs overridden } } } }`;
    expect((await s.gqlOk(view)).me.tenant.retention).toEqual({ succeededMs: null, failedMs: 7 * DAY, cancelledMs: null, overridden: [] });
    const set = `mutation ($id: ID!, $in: TenantRetentionInput!) { setTenantRetention(tenantId: $id, input: $in) { retention { succeededMs failedMs cancelledMs overridden } } }`;
    const after = await s.gqlOk(set, { id: DEFAULT_TENANT_ID, in: { succeededMs: 3_600_000, failedMs: 0 } });
    expect(after.setTenantRetention.retention).toEqual({ succeededMs: 3_600_000, failedMs: null, cancelledMs: null, overridden: ['succeededMs', 'failedMs'] });
    const cleared = await s.gqlOk(set, { id: DEFAULT_TENANT_ID, in: { failedMs: null } });
    expect(cleared.setTenantRetention.retention).toMatchObject({ succeededMs: 3_600_000, failedMs: 7 * DAY, overridden: ['succeededMs'] });
    for (const bad of [999, 3650 * DAY + 1, 1.5e3 + 0.5, -1]) {
      const r = await s.gql(set, { id: DEFAULT_TENANT_ID, in: { cancelledMs: bad } });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cancelledMs', option: 'RETAIN_CANCELLED' });
      expect(r.errors?.[0]?.message).toMatch(/must be 0 \(keep forever\), an integer number of ms between 1000 and 315360000000 \(the range of RETAIN_CANCELLED\)/);
    }
  });

  it('refuses a submit once the tenant\'s attempts store QUOTA_TASK_BYTES, naming the quota and limit', async () => {
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "echo", wasmBase64: $w}) { id } }`, { w: toBase64(await loadWat('echo_stdin')) });
    const submit = `mutation ($stdin: String!) { submitTask(input: {agent: "echo", stdin: $stdin}) { id } }`;
    const { submitTask } = await s.gqlOk(submit, { stdin: 'x'.repeat(1500) });
    const sub = s.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: submitTask.id });
    await sub.until((e) => e.taskUpdated.status === 'SUCCEEDED', 20_000);
    sub.close();
    await sleep(1100); // the figure is cached for up to 1 s
    const r = await s.gql(submit, { stdin: 'y' });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', quota: 'QUOTA_TASK_BYTES', limit: '1024' });
    expect(r.errors?.[0]?.message).toMatch(/QUOTA_TASK_BYTES/);
    expect(r.errors?.[0]?.message).toMatch(/1024/);
  });
});

describe('stored task bytes (QUOTA_TASK_BYTES)', () => {
  it('count stdout, stderr and output file sizes as attempts are written and swept, and survive folding', async () => {
    const tenant = (await store.tenants.create('bytes')).id;
    expect(await store.retention.taskBytes(tenant)).toBe(0);
    await ended('SUCCEEDED', 3, { output: 'f'.repeat(64) }, tenant); // 'out' (3 bytes) + a file of 3 bytes each
    await ended('FAILED', 2, {}, tenant);
    expect(await store.retention.taskBytes(tenant)).toBe(3 * 6 + 2 * 3);
    await store.retention.foldTaskBytes();
    expect(await store.retention.taskBytes(tenant)).toBe(24);
    await sleep(1100);
    await store.tenants.setRetention(tenant, { failedMs: 1000 });
    await sweeper({}).sweep();
    expect(await store.retention.taskBytes(tenant)).toBe(18);
  });
});

describe('blob garbage collection', () => {
  const text = (s: string) => new TextEncoder().encode(s);
  /** A module stored by the default tenant (as POST /modules does), with its blob. */
  const upload = async (s: string) => {
    const digest = await store.blobs.put(text(s));
    await store.modules.record(DEFAULT_TENANT_ID, digest, s.length);
    return digest;
  };
  const agentOn = async (name: string, digest: string) =>
    store.agents.registerVersion({ tenantId: DEFAULT_TENANT_ID, name, moduleDigest: digest, moduleSize: 8, imports: [], exports: [], memoryInitialPages: 1, memoryMaximumPages: null, defaultLimits: {} });

  it('deletes modules never registered once past the grace, with their blobs, and keeps younger and used ones', async () => {
    const unused = await upload('uploaded, never registered');
    const used = await upload('registered');
    await agentOn('uses-it', used);
    await sleep(1100);
    const young = await upload('uploaded just now');

    const counts = await sweeper({}, 500, 1000).sweep();
    expect(counts.modules).toBeGreaterThanOrEqual(1);
    expect(counts.blobs).toBeGreaterThanOrEqual(1);
    expect(await store.blobs.has(unused)).toBe(false);
    expect(await store.modules.get(DEFAULT_TENANT_ID, unused)).toBeNull();
    for (const d of [used, young]) {
      expect(await store.blobs.has(d)).toBe(true);
      expect(await store.modules.get(DEFAULT_TENANT_ID, d)).not.toBeNull();
    }
    // The tenant's stored bytes no longer count the deleted module.
    expect(await store.modules.storedBytes(DEFAULT_TENANT_ID)).toBe((await store.modules.list(DEFAULT_TENANT_ID)).reduce((n, m) => n + m.size, 0));
  });

  it('deletes blobs no row names once past the grace, and keeps named and younger ones', async () => {
    const orphan = await store.blobs.put(text('stored for a submit that was then refused'));
    const named = await store.blobs.put(text('the input of a task that stays'));
    await ended('SUCCEEDED', 1, { input: named });
    await sleep(1100);
    const young = await store.blobs.put(text('stored a moment ago'));

    const counts = await sweeper({}, 2, 1000).sweep(); // pages of 2: the listing goes on across pages
    expect(counts.blobs).toBeGreaterThanOrEqual(1);
    expect(await store.blobs.has(orphan)).toBe(false);
    expect(await store.blobs.has(named)).toBe(true);
    expect(await store.blobs.has(young)).toBe(true);
  });

  it('keeps a deleted agent while it has tasks; once they are swept, its versions and module go too', async () => {
    const digest = await upload('a deleted agent\'s module');
    const { agent: doomedAgent, version } = await agentOn('deleted-later', digest);
    // A task of this agent (cancelled before it ran), so the agent must stay until the task is gone.
    const [{ task }] = await store.tasks.insertMany([newTask({ id: uuidv7(), agentId: doomedAgent.id, agentVersionId: version.id, moduleDigest: digest })]);
    expect((await store.tasks.cancel(DEFAULT_TENANT_ID, task.id))?.status).toBe('CANCELLED');
    expect(await store.agents.delete(DEFAULT_TENANT_ID, doomedAgent.id)).toBe(true);
    await sleep(50);

    await sweeper({}, 500, 25).sweep();
    expect(await store.agents.get(DEFAULT_TENANT_ID, doomedAgent.id)).not.toBeNull();
    expect(await store.blobs.has(digest)).toBe(true);

    await sleep(1000);
    const counts = await sweeper({ CANCELLED: 1000 }, 500, 25).sweep();
    expect(counts.agents).toBeGreaterThanOrEqual(1);
    expect(counts.modules).toBeGreaterThanOrEqual(1);
    expect(await store.agents.get(DEFAULT_TENANT_ID, doomedAgent.id)).toBeNull();
    expect(await store.agents.getVersion(version.id)).toBeNull();
    expect(await store.blobs.has(digest)).toBe(false);
  });
});
