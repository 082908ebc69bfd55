// cancelTasks, retryTasks, deleteTasks end to end: ids or a filter, the counts, the bounds (MAX 1000
// ids; BULK_MAX tasks per filter call, here 600 so a call spans two batches of 500), the selection
// read once at the start, running tasks pre-empted, delete of ended tasks only with their attempts,
// blobs and ledger bytes, and live subscriptions of a deleted task completing. With PostgreSQL and
// Redis also across nodes: a bulk cancel on one node pre-empts runs on another, a delete there
// completes the other node's subscriptions.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID } from '../../src/domain/index.js';
import { makeLogger } from '../../src/server/logger.js';
import type { Store } from '../../src/store/index.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestClient, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const BULK_MAX = 600;
const LATER = () => new Date(Date.now() + 3_600_000).toISOString();
const RESULT = 'matched done skipped remaining';

let s: TestServer;
/** The system admin: its tasks are the default tenant's. */
let api: TestClient;
/** What the node logged at info and above. */
const lines: Record<string, any>[] = [];
/** While set, the next bulk cancel batch says it was reached and waits until `held` resolves. */
let pause: { reached(): void; held: Promise<void> } | null = null;

/** The node's store, its bulk cancel batches able to wait (`pause`): a call caught between its selection and its first batch. */
const pausable = (store: Store): Store => ({
  ...store,
  tasks: {
    ...store.tasks,
    async cancelMany(tenantId, ids) {
      const p = pause;
      if (p) {
        p.reached();
        await p.held;
      }
      return store.tasks.cancelMany(tenantId, ids);
    },
  },
});

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  s = await startTestServer({ BULK_MAX: String(BULK_MAX), AUTH: 'on' }, { logger: makeLogger({ logLevel: 'info', nodeId: 'bulk' }, sink), wrapStore: pausable });
  api = s.as(s.adminKey);
});
afterAll(() => s?.close());

/** A fresh agent of its own per test, so each test's filter sees only its tasks. */
async function agent(fixture = 'hello'): Promise<string> {
  const name = `bulk-${fixture}-${randomUUID().slice(0, 8)}`;
  await api.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, {
    input: { name, wasmBase64: toBase64(await loadWat(fixture)) },
  });
  return name;
}

/** `n` tasks of the agent, oldest first; `delayed` ones wait an hour in QUEUED. */
async function submit(name: string, n: number, { delayed = true, extra = {} as Record<string, unknown> } = {}): Promise<string[]> {
  const inputs = Array.from({ length: n }, () => ({ agent: name, ...(delayed ? { runAt: LATER() } : {}), ...extra }));
  const ids: string[] = [];
  for (let i = 0; i < inputs.length; i += 500) {
    const data = await api.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, { inputs: inputs.slice(i, i + 500) });
    ids.push(...data.submitTasks.map((t: { id: string }) => t.id));
  }
  return ids;
}

type Action = 'cancelTasks' | 'retryTasks' | 'deleteTasks';
const act = (action: Action, selection: { ids?: string[]; filter?: Record<string, unknown> }) =>
  api.gql(`mutation ($ids: [ID!], $filter: TaskFilter) { ${action}(ids: $ids, filter: $filter) { ${RESULT} } }`, selection);
const actOk = async (action: Action, selection: { ids?: string[]; filter?: Record<string, unknown> }) => {
  const r = await act(action, selection);
  expect(r.errors).toBeUndefined();
  return r.data[action];
};

/** Statuses of the agent's tasks by id (a page of up to 500 per read). */
async function statuses(name: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: string | null = null;
  do {
    const data: any = await api.gqlOk(`query ($f: TaskFilter, $after: String) { tasks(filter: $f, first: 500, after: $after) { edges { node { id status } } pageInfo { hasNextPage endCursor } } }`, {
      f: { agent: name },
      after,
    });
    for (const e of data.tasks.edges) out.set(e.node.id, e.node.status);
    after = data.tasks.pageInfo.hasNextPage ? data.tasks.pageInfo.endCursor : null;
  } while (after);
  return out;
}
const countOf = (m: Map<string, string>, status: string) => [...m.values()].filter((v) => v === status).length;

describe('selection', () => {
  it('takes exactly one of ids and filter, names a malformed id, and at most 1000 ids', async () => {
    for (const selection of [{}, { ids: [randomUUID()], filter: {} }]) {
      const r = await act('cancelTasks', selection);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
    }
    expect((await act('deleteTasks', { ids: [randomUUID(), 'nope'] })).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids[1]' });

    const unknown = Array.from({ length: 1000 }, () => randomUUID());
    expect(await actOk('cancelTasks', { ids: unknown })).toEqual({ matched: 1000, done: 0, skipped: 1000, remaining: 0 });
    const over = await act('cancelTasks', { ids: [...unknown, randomUUID()] });
    expect(over.errors?.[0]?.message).toMatch(/at most 1000 ids; got 1001/);
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids', max: 1000 });
  });

  it('by ids: changes the tasks the action applies to and counts the rest (ended, unknown, repeated) as skipped', async () => {
    const name = await agent();
    const [queued1, queued2] = await submit(name, 2);
    const [ran] = await submit(name, 1, { delayed: false });
    await waitFor('the task to succeed', async () => (await statuses(name)).get(ran!) === 'SUCCEEDED');

    expect(await actOk('cancelTasks', { ids: [queued1!, queued2!, queued1!, ran!, randomUUID()] })).toEqual({ matched: 4, done: 2, skipped: 2, remaining: 0 });
    const after = await statuses(name);
    expect([after.get(queued1!), after.get(queued2!), after.get(ran!)]).toEqual(['CANCELLED', 'CANCELLED', 'SUCCEEDED']);

    // Retry takes FAILED and CANCELLED only; the retried tasks run (hello) and succeed.
    expect(await actOk('retryTasks', { ids: [queued1!, ran!] })).toEqual({ matched: 2, done: 1, skipped: 1, remaining: 0 });
    await waitFor('the retried task to succeed', async () => (await statuses(name)).get(queued1!) === 'SUCCEEDED');
  });
});

describe('by filter', () => {
  it(`acts on at most BULK_MAX (${BULK_MAX}) tasks the action applies to, reports the rest as remaining, and goes on from there when called again`, async () => {
    const name = await agent();
    await submit(name, BULK_MAX);
    // At the limit: everything, nothing left.
    expect(await actOk('cancelTasks', { filter: { agent: name } })).toEqual({ matched: BULK_MAX, done: BULK_MAX, skipped: 0, remaining: 0 });
    // Beyond it: the cancelled ones no longer match the action, so each call makes progress.
    await submit(name, BULK_MAX + 1);
    expect(await actOk('cancelTasks', { filter: { agent: name } })).toEqual({ matched: BULK_MAX, done: BULK_MAX, skipped: 0, remaining: 1 });
    expect(await actOk('cancelTasks', { filter: { agent: name } })).toEqual({ matched: 1, done: 1, skipped: 0, remaining: 0 });
    expect(countOf(await statuses(name), 'CANCELLED')).toBe(2 * BULK_MAX + 1);

    // A status outside the action's statuses selects nothing; deletes go on in the same way.
    expect(await actOk('deleteTasks', { filter: { agent: name, status: ['QUEUED', 'RUNNING'] } })).toEqual({ matched: 0, done: 0, skipped: 0, remaining: 0 });
    expect(await actOk('deleteTasks', { filter: { agent: name, status: ['CANCELLED'] } })).toEqual({ matched: BULK_MAX, done: BULK_MAX, skipped: 0, remaining: BULK_MAX + 1 });
    expect(await actOk('deleteTasks', { filter: { agent: name } })).toEqual({ matched: BULK_MAX, done: BULK_MAX, skipped: 0, remaining: 1 });
    expect(await actOk('deleteTasks', { filter: { agent: name } })).toEqual({ matched: 1, done: 1, skipped: 0, remaining: 0 });
    expect((await statuses(name)).size).toBe(0);
  });

  it('acts on the tasks matching when the call starts: one submitted meanwhile is not touched, one that changed state is skipped', async () => {
    const name = await agent();
    const before = await submit(name, 30);
    let reached!: () => void;
    const atFirstBatch = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    pause = { reached, held: new Promise<void>((resolve) => (release = resolve)) };
    const call = actOk('cancelTasks', { filter: { agent: name } });
    await atFirstBatch; // the selection is read; its first batch waits
    const during = await submit(name, 3);
    await api.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { id } }`, { id: before[0] });
    pause = null;
    release();
    expect(await call).toEqual({ matched: 30, done: 29, skipped: 1, remaining: 0 });
    const after = await statuses(name);
    expect(before.every((id) => after.get(id) === 'CANCELLED')).toBe(true);
    expect(during.map((id) => after.get(id))).toEqual(['QUEUED', 'QUEUED', 'QUEUED']);
  });

  it('retries FAILED and CANCELLED tasks with a fresh attempt budget', async () => {
    const name = await agent('exit_code');
    const ids = await submit(name, 3, { delayed: false, extra: { args: ['3'], retryPolicy: { maxAttempts: 1 } } });
    await waitFor('three failures', async () => countOf(await statuses(name), 'FAILED') === 3);
    expect(await actOk('retryTasks', { filter: { agent: name } })).toEqual({ matched: 3, done: 3, skipped: 0, remaining: 0 });
    await waitFor('three failures again', async () => countOf(await statuses(name), 'FAILED') === 3);
    const t = await api.gqlOk(`query ($id: ID!) { task(id: $id) { attempts attemptList { n } } }`, { id: ids[0] });
    expect(t.task.attemptList.map((a: { n: number }) => a.n)).toEqual([1, 2]);
  });
});

describe('cancelTasks', () => {
  it('pre-empts running tasks; their attempts are recorded as cancelled', async () => {
    const name = await agent('infinite_loop');
    const ids = await submit(name, 2, { delayed: false, extra: { limits: { timeoutMs: 60_000 } } });
    await waitFor('both running', async () => countOf(await statuses(name), 'RUNNING') === 2, { timeoutMs: 30_000 });
    expect(await actOk('cancelTasks', { ids })).toEqual({ matched: 2, done: 2, skipped: 0, remaining: 0 });
    for (const id of ids) {
      await waitFor('the cancelled attempt', async () => {
        const t = await api.gqlOk(`query ($id: ID!) { task(id: $id) { status attemptList { outcome } } }`, { id });
        return t.task.status === 'CANCELLED' && t.task.attemptList[0]?.outcome === 'cancelled';
      });
    }
    await waitFor('the workers free', () => s.spindle.executor.running() === 0);
  });
});

describe('deleteTasks', () => {
  it('deletes tasks cancelled a moment ago while their runs still stop: the late finish writes nothing and breaks nothing', async () => {
    const name = await agent('infinite_loop');
    const ids = await submit(name, 2, { delayed: false, extra: { limits: { timeoutMs: 60_000 } } });
    await waitFor('both running', async () => countOf(await statuses(name), 'RUNNING') === 2, { timeoutMs: 30_000 });
    const errorsBefore = lines.filter((l) => l.level >= 50).length;
    expect(await actOk('cancelTasks', { ids })).toMatchObject({ done: 2 });
    expect(await actOk('deleteTasks', { ids })).toMatchObject({ done: 2 });
    await waitFor('the workers free', () => s.spindle.executor.running() === 0);
    expect((await statuses(name)).size).toBe(0);
    for (const id of ids) expect(await s.spindle.store.tasks.attempts(id)).toEqual([]);
    expect(lines.filter((l) => l.level >= 50).slice(errorsBefore)).toEqual([]);
  });

  it('deletes ended tasks only, with attempts, ledger bytes and blobs nothing names; a taskUpdated that missed the end completes', async () => {
    const { store } = s.spindle;
    const name = await agent();
    const [queued] = await submit(name, 1);
    const unique = `input ${randomUUID()}`;
    const [ended] = await submit(name, 1, { delayed: false, extra: { files: [{ path: 'in.txt', text: unique }] } });
    await waitFor('the task to succeed', async () => (await statuses(name)).get(ended!) === 'SUCCEEDED');
    const digest = (await store.tasks.get(DEFAULT_TENANT_ID, ended!))!.filesDigest!;
    expect(await store.blobs.get(digest)).not.toBeNull();
    const bytes = await store.retention.taskBytes(DEFAULT_TENANT_ID);

    // An ended task's taskUpdated sends its state and completes. The deletion still ends one left
    // open (one that missed its task's terminal event): simulated on the queued task by publishing
    // its deletion as deleteTasks does.
    const sub = api.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: ended });
    expect((await sub.next()).taskUpdated.status).toBe('SUCCEEDED');
    await sub.ended;
    const missed = api.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: queued });
    expect((await missed.next()).taskUpdated.status).toBe('QUEUED');

    expect(await actOk('deleteTasks', { ids: [queued!, ended!] })).toEqual({ matched: 2, done: 1, skipped: 1, remaining: 0 });
    s.spindle.bus.pubsub.publish('TASK_DELETED', [queued!]);
    await missed.ended;
    expect(missed.results).toHaveLength(1);
    expect((await api.gqlOk(`query ($id: ID!) { task(id: $id) { id } }`, { id: ended })).task).toBeNull();
    expect((await statuses(name)).get(queued!)).toBe('QUEUED');
    expect(await store.tasks.attempts(ended!)).toEqual([]);
    // hello's one attempt stored "hello, world\n" (13 bytes), and nothing else.
    expect(await store.retention.taskBytes(DEFAULT_TENANT_ID)).toBe(bytes - 13);
    expect(await store.blobs.get(digest)).toBeNull();

    const again = api.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: ended });
    await again.ended;
    expect(again.results[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('the retention sweep', () => {
  it('deletes an ended task once its retention passed (its taskUpdated completed at the end)', async () => {
    const tenantId = (await api.gqlOk(`mutation { createTenant(name: "swept") { id } }`)).createTenant.id;
    await api.gqlOk(`mutation ($id: ID!) { setTenantRetention(tenantId: $id, input: { succeededMs: 1000 }) { id } }`, { id: tenantId });
    const key = (await api.gqlOk(`mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`, { input: { tenantId, name: 'ci', role: 'submitter' } })).createApiKey;
    const owner = s.as(key.secret);
    await owner.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name: 'hello', wasmBase64: toBase64(await loadWat('hello')) } });
    const { submitTask } = await owner.gqlOk(`mutation { submitTask(input: { agent: "hello" }) { id } }`);
    const sub = owner.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: submitTask.id });
    await sub.until((e) => e.taskUpdated.status === 'SUCCEEDED', 30_000);
    await sub.ended;
    // Kept 1 s after its end (the shortest retention), then swept.
    const gone = async () => (await s.spindle.sweeper.sweep(), !(await owner.gqlOk(`query ($id: ID!) { task(id: $id) { id } }`, { id: submitTask.id })).task);
    await waitFor('the sweep to delete it', gone, { everyMs: 250 });
  });
});

describe('tenants, roles and logs', () => {
  it("needs a submitter, never touches another tenant's tasks, and logs one line per call", async () => {
    const key = async (tenantId: string, role: string) =>
      (await api.gqlOk(`mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret key { id } } }`, { input: { tenantId, name: role, role } })).createApiKey;
    const tenant = async (name: string) => (await api.gqlOk(`mutation ($n: String!) { createTenant(name: $n) { id } }`, { n: name })).createTenant.id as string;
    const [acme, bolt] = [await tenant('acme'), await tenant('bolt')];
    const acmeKey = await key(acme, 'submitter');
    const [owner, viewer, other] = [s.as(acmeKey.secret), s.as((await key(acme, 'viewer')).secret), s.as((await key(bolt, 'submitter')).secret)];
    await owner.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name: 'hello', wasmBase64: toBase64(await loadWat('hello')) } });
    const { submitTask } = await owner.gqlOk(`mutation ($at: DateTime) { submitTask(input: { agent: "hello", runAt: $at }) { id } }`, { at: LATER() });

    const denied = await viewer.gql(`mutation ($ids: [ID!]) { cancelTasks(ids: $ids) { ${RESULT} } }`, { ids: [submitTask.id] });
    expect(denied.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await other.gqlOk(`mutation ($ids: [ID!]) { cancelTasks(ids: $ids) { ${RESULT} } }`, { ids: [submitTask.id] })).cancelTasks).toEqual({ matched: 1, done: 0, skipped: 1, remaining: 0 });
    expect((await other.gqlOk(`mutation { cancelTasks(filter: {}) { ${RESULT} } }`)).cancelTasks).toEqual({ matched: 0, done: 0, skipped: 0, remaining: 0 });
    expect((await owner.gqlOk(`query ($id: ID!) { task(id: $id) { status } }`, { id: submitTask.id })).task.status).toBe('QUEUED');

    expect((await owner.gqlOk(`mutation { cancelTasks(filter: { agent: "hello" }) { ${RESULT} } }`)).cancelTasks).toEqual({ matched: 1, done: 1, skipped: 0, remaining: 0 });
    const logged = lines.filter((l) => l.msg === 'tasks changed in bulk' && l.tenantId === acme);
    expect(logged).toEqual([expect.objectContaining({ level: 30, action: 'cancelTasks', selection: 'filter', matched: 1, done: 1, skipped: 0, remaining: 0, by: acmeKey.key.id })]);
  });
});

if (process.env.DATABASE_URL && process.env.REDIS_URL) {
  describe('across nodes (PostgreSQL + Redis)', () => {
    it("cancelTasks on node A pre-empts node B's runs and completes taskUpdated on B; deleteTasks on A deletes them", { timeout: 120_000 }, async () => {
      // Their own data: node B runs every task, node A (api) none.
      const b = await startTestServer();
      const a = await startTestServer({ ROLE: 'api' }, { storeOptions: b.storeOptions });
      try {
        const name = `bulk-spin-${randomUUID().slice(0, 8)}`;
        await a.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name, wasmBase64: toBase64(await loadWat('infinite_loop')) } });
        const ids: string[] = (
          await a.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, {
            inputs: [1, 2].map(() => ({ agent: name, limits: { timeoutMs: 60_000 } })),
          })
        ).submitTasks.map((t: { id: string }) => t.id);
        await waitFor('both running on B', () => b.spindle.executor.running() === 2, { timeoutMs: 60_000 });
        const sub = b.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: ids[0] });
        await sub.until((e) => e.taskUpdated.status === 'RUNNING', 30_000);

        const cancelled = await a.gqlOk(`mutation ($ids: [ID!]) { cancelTasks(ids: $ids) { ${RESULT} } }`, { ids });
        expect(cancelled.cancelTasks).toEqual({ matched: 2, done: 2, skipped: 0, remaining: 0 });
        await waitFor("B's runs stopped", () => b.spindle.executor.running() === 0, { timeoutMs: 30_000 });
        await waitFor('the attempts recorded', async () => {
          const t = await a.gqlOk(`query ($id: ID!) { task(id: $id) { attemptList { outcome } } }`, { id: ids[0] });
          return t.task.attemptList[0]?.outcome === 'cancelled';
        });

        await sub.ended;
        expect(sub.results.at(-1)?.data?.taskUpdated.status).toBe('CANCELLED');

        const deleted = await a.gqlOk(`mutation ($ids: [ID!]) { deleteTasks(ids: $ids) { ${RESULT} } }`, { ids });
        expect(deleted.deleteTasks).toEqual({ matched: 2, done: 2, skipped: 0, remaining: 0 });
        expect((await b.gqlOk(`query ($id: ID!) { task(id: $id) { id } }`, { id: ids[0] })).task).toBeNull();
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
