// The agent-aware claim at the store: a paused agent's tasks are skipped (and its backlog holds up
// nobody), a limited agent never holds more than its limit (claimed or RUNNING) and freed slots are
// claimed again, tenant caps still hold beside agent limits, claim order is kept across agents, and
// with nothing paused or limited the cache says so (the plain claim runs).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID } from '../../src/domain/index.js';
import type { NewTask, Store, TaskRow } from '../../src/store/index.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import { makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';

let ts: TestStore;
let store: Store;
const inserted: { tenantId: string; id: string }[] = [];
const controlled: string[] = [];
const capped: string[] = [];
let agents = 0;

beforeAll(async () => {
  ts = await makeTestStore();
  store = ts.store;
});
afterAll(async () => ts?.cleanup());
afterEach(async () => {
  for (const t of inserted.splice(0)) await store.tasks.cancel(t.tenantId, t.id);
  for (const id of controlled.splice(0)) await store.agents.setControls(DEFAULT_TENANT_ID, id, { paused: false, concurrencyLimit: null });
  for (const id of capped.splice(0)) await store.tenants.setQuotas(id, { runningTasks: null });
});

type StubAgent = Awaited<ReturnType<typeof registerStubAgent>>;
async function agent(controls: { paused?: boolean; concurrencyLimit?: number | null } = {}): Promise<StubAgent> {
  const a = await registerStubAgent(store, `agent-claim-${++agents}`, (agents % 10).toString());
  if (Object.keys(controls).length) {
    await store.agents.setControls(DEFAULT_TENANT_ID, a.agentId, controls);
    controlled.push(a.agentId);
  }
  return a;
}

async function insert(a: StubAgent, n: number, over: Partial<NewTask> = {}): Promise<TaskRow[]> {
  const tasks: NewTask[] = Array.from({ length: n }, () => ({
    tenantId: DEFAULT_TENANT_ID,
    ...a,
    priority: 0,
    stdin: new Uint8Array(),
    args: [],
    env: {},
    filesDigest: null,
    limits: { timeoutMs: 1000, memoryBytes: 65536, maxOutputBytes: 1024 },
    retryPolicy: { maxAttempts: 3, initialBackoffMs: 0, maxBackoffMs: 0, retryOn: ['host_error'] },
    deterministic: null,
    idempotencyKey: null,
    runAt: new Date(Date.now() - 1000),
    ...over,
  }));
  const rows = (await store.tasks.insertMany(tasks)).map((r) => r.task);
  inserted.push(...rows.map((r) => ({ tenantId: r.tenantId, id: r.id })));
  return rows;
}

const of = (rows: TaskRow[], a: StubAgent) => rows.filter((r) => r.agentId === a.agentId).length;
const done = (t: TaskRow) =>
  makeAttemptResult({ taskId: t.id, n: t.attempts + 1, node: t.leaseOwner!, outcome: 'exited', runMs: 0, next: { status: 'SUCCEEDED' } });

describe('the agent-aware claim', () => {
  it('nothing paused or limited: the cache says so, so claims take the plain statement', async () => {
    const caps = await store.tasks.runningCaps(0);
    expect(caps.agentsInForce).toBe(false);
  });

  it("skips a paused agent's tasks, however many and however early, and claims the others in order", async () => {
    const paused = await agent({ paused: true });
    const other = await agent();
    expect((await store.tasks.runningCaps(0)).controls(paused.agentId)).toBe(true);
    await insert(paused, 50, { priority: 5 });
    const mine = await insert(other, 3);
    const claimed = await store.tasks.claim('n1', 10, 5_000);
    expect(claimed.map((r) => r.id)).toEqual(mine.map((r) => r.id));
    expect(await store.tasks.claim('n1', 10, 5_000)).toEqual([]);
  });

  it('holds a limited agent at its limit across claims; a finished task frees its slot', async () => {
    const limited = await agent({ concurrencyLimit: 2 });
    const other = await agent();
    await insert(limited, 5, { priority: 1 });
    await insert(other, 2);
    const first = await store.tasks.claim('n1', 3, 5_000);
    // Claim order: the limited agent's (higher priority) first, cut at 2; then the other's.
    expect([of(first, limited), of(first, other)]).toEqual([2, 1]);
    const second = await store.tasks.claim('n2', 10, 5_000);
    expect([of(second, limited), of(second, other)]).toEqual([0, 1]);
    const held = first.filter((r) => r.agentId === limited.agentId);
    await store.tasks.finish([done(held[0]!)]);
    const third = await store.tasks.claim('n2', 10, 5_000);
    expect(of(third, limited)).toBe(1);
    // Raising the limit lets more go at once.
    await store.agents.setControls(DEFAULT_TENANT_ID, limited.agentId, { concurrencyLimit: 4 });
    expect(of(await store.tasks.claim('n3', 10, 5_000), limited)).toBe(2);
  });

  it("keeps a tenant's running-task cap beside agent limits", async () => {
    const tenant = await store.tenants.create(`agent-claim-cap-${process.pid}`, { runningTasks: 1 });
    capped.push(tenant.id);
    const limited = await agent({ concurrencyLimit: 5 });
    await insert(limited, 4, { tenantId: tenant.id });
    expect((await store.tasks.claim('n1', 10, 5_000)).length).toBe(1);
    expect((await store.tasks.claim('n1', 10, 5_000)).length).toBe(0);
  });
});
