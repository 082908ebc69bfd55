// The capped claim (QUOTA_RUNNING_TASKS and per-tenant overrides) at the store: a tenant never holds
// more tasks (claimed or RUNNING) than its cap, freed slots are claimed again, a tenant at its cap does not hold
// up the others, retries and expired leases keep working, and concurrent claimers (on PostgreSQL:
// separate stores, i.e. separate pools, like separate nodes) never pass the cap together.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeStore, type AttemptResult, type NewTask, type Store, type TaskRow } from '../../src/store/index.js';
import { databaseUrl, makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import { sleep } from '../helpers/wait.js';

let ts: TestStore;
let store: Store;
let agent: { agentId: string; agentVersionId: string; moduleDigest: string };
/** Every task a test inserted, cancelled after it so the next test starts from an empty queue. */
const inserted: { tenantId: string; id: string }[] = [];
const tenantsWithOverrides: string[] = [];

beforeAll(async () => {
  ts = await makeTestStore();
  store = ts.store;
  agent = await registerStubAgent(store, 'cap', 'c');
});
afterAll(async () => ts?.cleanup());
afterEach(async () => {
  for (const t of inserted.splice(0)) await store.tasks.cancel(t.tenantId, t.id);
  for (const id of tenantsWithOverrides.splice(0)) await store.tenants.setQuotas(id, { runningTasks: null });
});

let tenantCount = 0;
async function tenant(runningTasks?: number | null): Promise<string> {
  const t = await store.tenants.create(`cap-${process.pid}-${++tenantCount}`, runningTasks === undefined ? {} : { runningTasks });
  if (runningTasks != null) tenantsWithOverrides.push(t.id);
  return t.id;
}

async function insert(tenantId: string, n: number, over: Partial<NewTask> = {}): Promise<TaskRow[]> {
  const tasks: NewTask[] = Array.from({ length: n }, () => ({
    tenantId,
    ...agent,
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
  inserted.push(...rows);
  return rows;
}

/** The tenant's tasks held by a node: claimed (still QUEUED/RETRYING) or RUNNING. What the caps count. */
async function held(tenantId: string, s: Store = store): Promise<number> {
  const { rows } = await s.tasks.list(tenantId, { status: ['QUEUED', 'RETRYING', 'RUNNING'] }, 1_000);
  return rows.filter((r) => r.leaseOwner !== null).length;
}

/** A claimed task's next attempt, or a RUNNING one's current attempt. */
const attemptOf = (t: TaskRow) => (t.status === 'RUNNING' ? t.attempts : t.attempts + 1);

/** The end of `t`'s attempt by the node that holds it. */
const done = (t: TaskRow, next: AttemptResult['next'] = { status: 'SUCCEEDED' }) =>
  makeAttemptResult({ taskId: t.id, n: attemptOf(t), node: t.leaseOwner!, outcome: next.status === 'SUCCEEDED' ? 'exited' : 'host_error', runMs: 0, next });

const count = (rows: TaskRow[], tenantId: string) => rows.filter((r) => r.tenantId === tenantId).length;

describe('running-task caps in the claim', () => {
  it('no cap in force: runningCaps says so and the claim takes every runnable task', async () => {
    const a = await tenant();
    await insert(a, 5);
    const caps = await store.tasks.runningCaps(0);
    expect(caps.inForce).toBe(false);
    expect(caps.of(a)).toBe(0);
    expect(count(await store.tasks.claim('n1', 100, 30_000), a)).toBe(5);
  });

  it('a default cap of 2 holds each tenant at 2 claimed tasks; a finished task frees its slot', async () => {
    const a = await tenant();
    const b = await tenant();
    await insert(a, 5);
    await insert(b, 5);
    const first = await store.tasks.claim('n1', 100, 30_000, 2);
    expect([count(first, a), count(first, b)]).toEqual([2, 2]);
    // Claimed, not started: they count against the cap all the same (a node's workers would run them).
    expect(first.every((t) => t.status === 'QUEUED' && t.attempts === 0 && t.leaseOwner === 'n1')).toBe(true);
    expect([await held(a), await held(b)]).toEqual([2, 2]);
    expect(await store.tasks.claim('n1', 100, 30_000, 2)).toEqual([]);
    await store.tasks.finish([done(first.find((t) => t.tenantId === a)!)]);
    const next = await store.tasks.claim('n1', 100, 30_000, 2);
    expect([count(next, a), count(next, b)]).toEqual([1, 0]);
    // The limit still bounds the batch.
    await store.tasks.finish(first.filter((t) => t.tenantId === b).map((t) => done(t)));
    expect(await store.tasks.claim('n1', 1, 30_000, 2)).toHaveLength(1);
  });

  it('a tenant at its cap does not starve another: its higher-priority tasks are skipped, not waited for', async () => {
    const capped = await tenant(1);
    const other = await tenant();
    await insert(capped, 20, { priority: 10 });
    await insert(other, 3, { priority: 0 });
    expect((await store.tasks.runningCaps(0)).inForce).toBe(true);
    const first = await store.tasks.claim('n1', 3, 30_000);
    expect([count(first, capped), count(first, other)]).toEqual([1, 2]);
    expect(first[0]!.tenantId).toBe(capped); // claim order within the batch: priority first
    const second = await store.tasks.claim('n1', 3, 30_000);
    expect([count(second, capped), count(second, other)]).toEqual([0, 1]);
  });

  it('overrides: a cap under no default, 0 = uncapped under a default, null = back to the default', async () => {
    const a = await tenant();
    const b = await tenant();
    await store.tenants.setQuotas(a, { runningTasks: 1 });
    tenantsWithOverrides.push(a);
    expect((await store.tasks.runningCaps(0)).of(a)).toBe(1);
    await insert(a, 4);
    await insert(b, 4);
    let got = await store.tasks.claim('n1', 100, 30_000);
    expect([count(got, a), count(got, b)]).toEqual([1, 4]);

    await store.tenants.setQuotas(a, { runningTasks: 0 });
    const caps = await store.tasks.runningCaps(2);
    expect([caps.inForce, caps.of(a), caps.of(b)]).toEqual([true, 0, 2]);
    await insert(b, 4);
    got = await store.tasks.claim('n1', 100, 30_000, 2);
    expect([count(got, a), count(got, b)]).toEqual([3, 0]); // b already holds 4, over its cap of 2

    await store.tenants.setQuotas(a, { runningTasks: null });
    expect((await store.tasks.runningCaps(0)).inForce).toBe(false);
    expect((await store.tenants.get(a))!.quotas.runningTasks).toBeNull();
  });

  it('retries and expired leases: a RETRYING task is claimed within the cap, a lost lease holds its slot until recovered', async () => {
    const a = await tenant(1);
    await insert(a, 2);
    const [first] = await store.tasks.claim('dead', 10, 50);
    expect(first).toBeDefined();
    // The dead node had begun it: RUNNING.
    await store.tasks.heartbeat('dead', [first!.id], 50, [{ taskId: first!.id, n: 1, at: new Date() }]);
    await sleep(100); // past its 50 ms lease: an expired lease still counts until it is reclaimed
    // The dead node's task still counts: nothing more for this tenant.
    expect(await store.tasks.claim('n2', 10, 30_000)).toEqual([]);
    const [recovered] = await store.tasks.reclaimExpired('n2', 10, 30_000);
    expect(recovered).toMatchObject({ id: first!.id, status: 'RUNNING', leaseOwner: 'n2', attempts: 1 });
    expect(await store.tasks.claim('n2', 10, 30_000)).toEqual([]); // taken over, still held
    // Recorded as host_error, to be retried now: the slot is free and the retry competes for it.
    await store.tasks.finish([done(recovered!, { status: 'RETRYING', runAt: new Date(Date.now() - 10) })]);
    const [next] = await store.tasks.claim('n2', 10, 30_000);
    // The retry keeps its place (submitted first), so it is the one claimed.
    expect(next).toMatchObject({ id: first!.id, status: 'RETRYING', leaseOwner: 'n2', attempts: 1 });
    expect(await store.tasks.claim('n2', 10, 30_000)).toEqual([]);
    await store.tasks.finish([done(next!)]);
    const [last] = await store.tasks.claim('n2', 10, 30_000);
    expect(new Set([next!.id, last!.id])).toEqual(new Set(inserted.map((t) => t.id)));
    expect((await store.tasks.get(a, first!.id))!.attempts).toBe(2);
  });

  it('a claimed task whose lease expired frees its slot and goes back to the queue in its place', async () => {
    const a = await tenant(1);
    const [t1] = await insert(a, 2);
    const [claimed] = await store.tasks.claim('dead', 10, 50);
    expect(claimed!.id).toBe(t1!.id);
    await sleep(100); // past its 50 ms lease: an expired lease still counts until it is reclaimed
    expect(await store.tasks.claim('n2', 10, 30_000)).toEqual([]);
    expect(await store.tasks.reclaimExpired('n2', 10, 30_000)).toMatchObject([{ id: t1!.id, status: 'QUEUED', leaseOwner: null }]);
    expect(await held(a)).toBe(0);
    expect((await store.tasks.claim('n2', 10, 30_000)).map((t) => t.id)).toEqual([t1!.id]);
  });

  it('concurrent claimers never pass the cap together', async () => {
    const a = await tenant(3);
    const b = await tenant();
    await insert(a, 60);
    await insert(b, 60);
    // On PostgreSQL each claimer is its own store (its own pool), as on separate nodes.
    const others = databaseUrl ? await Promise.all([0, 1, 2].map(() => makeStore(ts.options))) : [store, store, store];
    try {
      let running = 0;
      let peak = 0;
      const claimers = [store, ...others].map(async (s, i) => {
        const node = `c${i}`;
        for (let round = 0; round < 15; round++) {
          const got = await s.tasks.claim(node, 4, 30_000);
          const mine = got.filter((t) => t.tenantId === a);
          running += mine.length;
          peak = Math.max(peak, running);
          // Count the cap in the database too, right after a claim.
          expect(await held(a, s)).toBeLessThanOrEqual(3);
          await sleep(2); // the run
          running -= mine.length;
          await s.tasks.finish(got.map((t) => done(t)));
        }
      });
      await Promise.all(claimers);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBe(3);
    } finally {
      for (const o of new Set(others)) if (o !== store) await o.close();
    }
  });

  // The claim must count held tasks in a snapshot taken after it holds the lock. Another node's
  // claim (played here by a plain connection holding the same lock) leases a task and commits
  // while our claim waits: our claim must see it. Had it counted in a snapshot from before the wait,
  // it would see a free slot and claim the other queued task too: 2 held under a cap of 1.
  it.runIf(databaseUrl)('a claim waiting for the lock counts what the holder committed (PostgreSQL)', async () => {
    const a = await tenant(1);
    const [first, second] = await insert(a, 2);
    const other = new pg.Client({ connectionString: databaseUrl, options: `-c search_path="${ts.options.pgSchema}"` });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT pg_advisory_xact_lock(hashtext('spindle:capped-claim:' || current_schema()))`);
      let settled = false;
      const claim = store.tasks.claim('n1', 10, 30_000).finally(() => (settled = true));
      await sleep(300); // still waiting for the lock 300 ms later
      expect(settled).toBe(false);
      await other.query(`UPDATE task SET lease_owner = 'other', lease_expires_at = now() + interval '1 minute' WHERE id = $1`, [second!.id]);
      await other.query('COMMIT');
      expect(await claim).toEqual([]);
      expect((await store.tasks.get(a, first!.id))!.status).toBe('QUEUED');
    } finally {
      await other.end();
    }
  });
});
