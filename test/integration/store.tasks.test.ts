import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID, makeStore, type AttemptResult, type NewTask, type Store, type TaskRow } from '../../src/store/index.js';
import { databaseUrl, makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';

let ts: TestStore;
let store: Store;
let agent: { agentId: string; agentVersionId: string; moduleDigest: string };
let tenantB: string;

beforeAll(async () => {
  ts = await makeTestStore();
  store = ts.store;
  agent = await registerStubAgent(store, 'hello', 'a');
  tenantB = (await store.tenants.create('tenant-b')).id;
});
afterAll(async () => ts?.cleanup());

/** Each test works on its own queue slice: claims only see tasks with this test's priority band. */
function task(over: Partial<NewTask> = {}): NewTask {
  return {
    tenantId: DEFAULT_TENANT_ID,
    ...agent,
    priority: 0,
    stdin: new Uint8Array([104, 105]),
    args: ['hello', 'world'],
    env: { A: '1' },
    filesDigest: null,
    limits: { timeoutMs: 1000, memoryBytes: 16 * 65536, maxOutputBytes: 1024, fuel: 10_000_000_000n },
    retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000, retryOn: ['timeout', 'host_error'] },
    deterministic: null,
    idempotencyKey: null,
    runAt: new Date(Date.now() - 1000),
    ...over,
  };
}

function result(t: TaskRow, node: string, over: Partial<AttemptResult> = {}): AttemptResult {
  return {
    taskId: t.id,
    n: t.attempts,
    node,
    outcome: 'exited',
    exitCode: 0,
    stdout: new TextEncoder().encode(`out ${t.id}`),
    stderr: new Uint8Array(),
    stdoutTruncated: false,
    stderrTruncated: false,
    trapCode: null,
    trapMessage: null,
    error: null,
    compileMs: 1.4,
    runMs: 2.6,
    fuelUsed: 12345n,
    memoryPeakBytes: 65536,
    files: [{ path: '/out.txt', size: 3 }],
    filesDigest: null,
    startedAt: new Date(Date.now() - 5),
    finishedAt: new Date(),
    next: { status: 'SUCCEEDED' },
    ...over,
  };
}

/** Drains everything runnable so each test starts from an empty queue. */
async function drain(node = 'drain') {
  for (;;) {
    const got = await store.tasks.claim(node, 500, 60_000);
    if (got.length === 0) return;
    await store.tasks.finish(got.map((t) => result(t, node)));
  }
}

describe('insertMany', () => {
  it('inserts a batch in order with every field round-tripped', async () => {
    const input = [task({ priority: 1 }), task({ deterministic: { seed: 7, epochMs: 1700000000000 } }), task({ filesDigest: 'f'.repeat(64) })];
    const out = await store.tasks.insertMany(input);
    expect(out.map((o) => o.created)).toEqual([true, true, true]);
    expect(out[0]!.task.priority).toBe(1);
    const t = out[1]!.task;
    expect(t).toMatchObject({
      tenantId: DEFAULT_TENANT_ID,
      agentId: agent.agentId,
      agentVersionId: agent.agentVersionId,
      moduleDigest: agent.moduleDigest,
      status: 'QUEUED',
      args: ['hello', 'world'],
      env: { A: '1' },
      limits: { timeoutMs: 1000, memoryBytes: 16 * 65536, maxOutputBytes: 1024, fuel: 10_000_000_000n },
      retry: { maxAttempts: 3, retryOn: ['timeout', 'host_error'] },
      deterministic: { seed: 7, epochMs: 1700000000000 },
      attempts: 0,
      attemptBase: 0,
      leaseOwner: null,
      lastOutcome: null,
      startedAt: null,
      finishedAt: null,
    });
    expect(t.stdin).toBeInstanceOf(Uint8Array);
    expect([...t.stdin]).toEqual([104, 105]);
    expect(t.createdAt).toBeInstanceOf(Date);
    expect(out[2]!.task.filesDigest).toBe('f'.repeat(64));
    expect(await store.tasks.get(DEFAULT_TENANT_ID, t.id)).toEqual(t);
    await drain();
  });

  it('dedups idempotency keys within a batch and across batches, per tenant', async () => {
    const first = await store.tasks.insertMany([
      task({ idempotencyKey: 'k1' }),
      task({ idempotencyKey: 'k1', priority: 5 }),
      task({ idempotencyKey: 'k2' }),
      task(),
      task(),
    ]);
    expect(first.map((o) => o.created)).toEqual([true, false, true, true, true]);
    expect(first[1]!.task.id).toBe(first[0]!.task.id);
    expect(first[1]!.task.priority).toBe(0);
    expect(first[3]!.task.id).not.toBe(first[4]!.task.id);

    const second = await store.tasks.insertMany([task({ idempotencyKey: 'k2' }), task({ idempotencyKey: 'k3' }), task({ idempotencyKey: 'k1' })]);
    expect(second.map((o) => o.created)).toEqual([false, true, false]);
    expect(second[0]!.task.id).toBe(first[2]!.task.id);
    expect(second[2]!.task.id).toBe(first[0]!.task.id);

    const other = await store.tasks.insertMany([task({ tenantId: tenantB, idempotencyKey: 'k1' })]);
    expect(other[0]!.created).toBe(true);
    expect(other[0]!.task.tenantId).toBe(tenantB);
    await drain();
  });

  it('returns [] for an empty batch', async () => {
    expect(await store.tasks.insertMany([])).toEqual([]);
  });
});

describe('claim', () => {
  it('orders by priority desc, then runAt, then age, and sets RUNNING, attempts and the lease', async () => {
    const now = Date.now();
    const [lowOld, high, lowEarlierRun, mid] = (
      await store.tasks.insertMany([
        task({ priority: 0, runAt: new Date(now - 1000) }),
        task({ priority: 9, runAt: new Date(now - 500) }),
        task({ priority: 0, runAt: new Date(now - 5000) }),
        task({ priority: 4, runAt: new Date(now - 100) }),
      ])
    ).map((o) => o.task);
    const [lowNew] = (await store.tasks.insertMany([task({ priority: 0, runAt: new Date(now - 1000) })])).map((o) => o.task);

    const claimed = await store.tasks.claim('n1', 3, 30_000);
    expect(claimed.map((t) => t.id)).toEqual([high!.id, mid!.id, lowEarlierRun!.id]);
    for (const t of claimed) {
      expect(t.status).toBe('RUNNING');
      expect(t.attempts).toBe(1);
      expect(t.leaseOwner).toBe('n1');
      expect(t.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 20_000);
      expect(t.startedAt).toBeInstanceOf(Date);
    }
    const rest = await store.tasks.claim('n1', 10, 30_000);
    expect(rest.map((t) => t.id)).toEqual([lowOld!.id, lowNew!.id]);
    expect(await store.tasks.claim('n1', 10, 30_000)).toEqual([]);
    await store.tasks.finish([...claimed, ...rest].map((t) => result(t, 'n1')));
  });

  it('does not claim a delayed task before its runAt; nextRunAt reports it', async () => {
    const later = new Date(Date.now() + 3_600_000);
    const [delayed] = (await store.tasks.insertMany([task({ runAt: later })])).map((o) => o.task);
    expect(await store.tasks.claim('n1', 10, 30_000)).toEqual([]);
    expect((await store.tasks.nextRunAt())?.getTime()).toBe(later.getTime());
    const soon = new Date(Date.now() + 300);
    const [near] = (await store.tasks.insertMany([task({ runAt: soon })])).map((o) => o.task);
    expect((await store.tasks.nextRunAt())?.getTime()).toBe(soon.getTime());
    await new Promise((r) => setTimeout(r, 400));
    expect((await store.tasks.claim('n1', 10, 30_000)).map((t) => t.id)).toEqual([near!.id]);
    expect(await store.tasks.cancel(DEFAULT_TENANT_ID, delayed!.id)).toMatchObject({ status: 'CANCELLED' });
    await store.tasks.cancel(DEFAULT_TENANT_ID, near!.id);
    expect(await store.tasks.nextRunAt()).toBeNull();
  });

  it('never hands the same task to two concurrent claimers', async () => {
    const N = 300;
    for (let i = 0; i < N; i += 100) await store.tasks.insertMany(Array.from({ length: 100 }, () => task()));
    // On PostgreSQL the second claimer is another Store (another pool): real SKIP LOCKED contention.
    const other = databaseUrl ? await makeStore(ts.options) : store;
    try {
      const claimers = [store, other, store, other].map(async (s, i) => {
        const mine: string[] = [];
        for (;;) {
          const got = await s.tasks.claim(`c${i}`, 7, 30_000);
          if (got.length === 0) return mine;
          mine.push(...got.map((t) => t.id));
        }
      });
      const all = (await Promise.all(claimers)).flat();
      expect(all).toHaveLength(N);
      expect(new Set(all).size).toBe(N);
      const rows = await store.tasks.getMany(all);
      await store.tasks.finish(rows.map((t) => result(t, t.leaseOwner!)));
    } finally {
      if (other !== store) await other.close();
    }
  });
});

describe('leases', () => {
  it.runIf(databaseUrl)('heartbeats, result writes and releases over the same rows never deadlock (PostgreSQL)', async () => {
    // A node heartbeats the tasks whose results it is writing. Without a common lock order the
    // finish (rows in result order) and the heartbeat (rows in index order) deadlock: PostgreSQL
    // resolves that after deadlock_timeout by failing one of them.
    const errors: unknown[] = [];
    for (let round = 0; round < 15; round++) {
      const inserted = await store.tasks.insertMany(Array.from({ length: 200 }, () => task({ priority: 900 })), { node: 'hb', leaseMs: 60_000 });
      const rows = inserted.map((r) => r.task);
      const ids = rows.map((t) => t.id);
      const descending = [...rows].sort((a, b) => (a.id < b.id ? 1 : -1));
      const half = descending.slice(0, 100).map((t) => t.id);
      const outcomes = await Promise.allSettled([
        store.tasks.heartbeat('hb', ids, 60_000),
        store.tasks.finish(descending.slice(100).map((t) => result(t, 'hb'))),
        store.tasks.heartbeat('hb', [...ids].reverse(), 60_000),
        store.tasks.release('hb', half),
      ]);
      for (const o of outcomes) if (o.status === 'rejected') errors.push(o.reason);
      await drain();
    }
    expect(errors.map(String)).toEqual([]);
  });

  it('heartbeat extends, expiry lets another node reclaim (attempts unchanged)', async () => {
    const [t] = (await store.tasks.insertMany([task()])).map((o) => o.task);
    const [claimed] = await store.tasks.claim('dead', 1, 5_000);
    expect(claimed!.id).toBe(t!.id);
    expect(await store.tasks.reclaimExpired('n2', 10, 30_000)).toEqual([]);
    await store.tasks.heartbeat('dead', [t!.id], 200);
    await store.tasks.heartbeat('someone-else', [t!.id], 60_000); // not the owner: no effect
    await new Promise((r) => setTimeout(r, 100));
    expect(await store.tasks.reclaimExpired('n2', 10, 30_000)).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    const reclaimed = await store.tasks.reclaimExpired('n2', 10, 30_000);
    expect(reclaimed.map((r) => r.id)).toEqual([t!.id]);
    expect(reclaimed[0]).toMatchObject({ status: 'RUNNING', leaseOwner: 'n2', attempts: 1, lostOwner: 'dead' });
    // The dead node's late result is recorded but does not move the task.
    const late = await store.tasks.finish([result(reclaimed[0]!, 'dead')]);
    expect(late[0]).toMatchObject({ status: 'RUNNING', leaseOwner: 'n2' });
    // The new owner records attempt 1 as host_error (already recorded: kept) and schedules a retry.
    const retryAt = new Date(Date.now() - 10);
    const [after] = await store.tasks.finish([
      result(reclaimed[0]!, 'n2', { outcome: 'host_error', exitCode: null, next: { status: 'RETRYING', runAt: retryAt } }),
    ]);
    expect(after).toMatchObject({ status: 'RETRYING', leaseOwner: null, lastOutcome: 'host_error', finishedAt: null });
    expect(after!.runAt.getTime()).toBe(retryAt.getTime());
    const [again] = await store.tasks.claim('n2', 1, 30_000);
    expect(again).toMatchObject({ id: t!.id, attempts: 2 });
    await store.tasks.finish([result(again!, 'n2')]);
    expect((await store.tasks.attempts(t!.id)).map((a) => a.n)).toEqual([1, 2]);
  });

  it('release gives tasks back to the queue with the attempt undone', async () => {
    const [t] = (await store.tasks.insertMany([task()])).map((o) => o.task);
    await store.tasks.claim('n1', 1, 30_000);
    await store.tasks.release('n2', [t!.id]); // not the owner
    expect((await store.tasks.get(DEFAULT_TENANT_ID, t!.id))!.status).toBe('RUNNING');
    await store.tasks.release('n1', [t!.id]);
    expect(await store.tasks.get(DEFAULT_TENANT_ID, t!.id)).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: null, startedAt: null });
    await drain();
  });
});

describe('finish', () => {
  it('writes attempts and statuses for a batch and returns the rows after', async () => {
    const inserted = (await store.tasks.insertMany(Array.from({ length: 5 }, () => task()))).map((o) => o.task);
    const claimed = await store.tasks.claim('n1', 5, 30_000);
    expect(claimed).toHaveLength(5);
    const byId = new Map(claimed.map((t) => [t.id, t]));
    const [a, b, c, d, e] = inserted.map((t) => byId.get(t.id)!);
    const finishedAt = new Date();
    const out = await store.tasks.finish([
      result(a!, 'n1', { finishedAt }),
      result(b!, 'n1', { outcome: 'exited', exitCode: 3, next: { status: 'FAILED' } }),
      result(c!, 'n1', {
        outcome: 'trap',
        exitCode: null,
        trapCode: 'unreachable',
        trapMessage: 'unreachable executed',
        stdoutTruncated: true,
        fuelUsed: null,
        next: { status: 'FAILED' },
      }),
      result(d!, 'n1', { outcome: 'timeout', exitCode: null, next: { status: 'RETRYING', runAt: new Date(Date.now() + 60_000) } }),
      result(e!, 'n1', { outcome: 'cancelled', exitCode: null, next: { status: 'CANCELLED' } }),
    ]);
    const got = new Map(out.map((t) => [t.id, t]));
    expect(out).toHaveLength(5);
    expect(got.get(a!.id)).toMatchObject({ status: 'SUCCEEDED', lastOutcome: 'exited', exitCode: 0, leaseOwner: null, leaseExpiresAt: null });
    expect(got.get(a!.id)!.finishedAt!.getTime()).toBe(finishedAt.getTime());
    expect(got.get(b!.id)).toMatchObject({ status: 'FAILED', exitCode: 3 });
    expect(got.get(c!.id)).toMatchObject({ status: 'FAILED', lastOutcome: 'trap', exitCode: null });
    expect(got.get(d!.id)).toMatchObject({ status: 'RETRYING', lastOutcome: 'timeout', finishedAt: null });
    expect(got.get(e!.id)).toMatchObject({ status: 'CANCELLED', lastOutcome: 'cancelled' });

    const [attA] = await store.tasks.attempts(a!.id);
    expect(attA).toMatchObject({
      taskId: a!.id,
      tenantId: DEFAULT_TENANT_ID,
      n: 1,
      node: 'n1',
      outcome: 'exited',
      exitCode: 0,
      stdoutTruncated: false,
      compileMs: 1,
      runMs: 3,
      fuelUsed: 12345n,
      memoryPeakBytes: 65536,
      files: [{ path: '/out.txt', size: 3 }],
    });
    expect(attA!.stdout).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(attA!.stdout)).toBe(`out ${a!.id}`);
    const [attC] = await store.tasks.attempts(c!.id);
    expect(attC).toMatchObject({ outcome: 'trap', trapCode: 'unreachable', trapMessage: 'unreachable executed', stdoutTruncated: true, fuelUsed: null });
    await store.tasks.cancel(DEFAULT_TENANT_ID, d!.id);
  });

  it('does not overwrite a task cancelled while running, but records its attempt', async () => {
    const [t] = (await store.tasks.insertMany([task()])).map((o) => o.task);
    const [running] = await store.tasks.claim('n1', 1, 30_000);
    const cancelled = await store.tasks.cancel(DEFAULT_TENANT_ID, t!.id);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', leaseOwner: 'n1' });
    expect(cancelled!.finishedAt).toBeInstanceOf(Date);
    const [after] = await store.tasks.finish([result(running!, 'n1')]);
    expect(after).toMatchObject({ id: t!.id, status: 'CANCELLED', lastOutcome: null });
    expect(await store.tasks.attempts(t!.id)).toHaveLength(1);
  });

  it('returns [] for an empty batch', async () => {
    expect(await store.tasks.finish([])).toEqual([]);
  });
});

describe('cancel and retry', () => {
  it('cancel moves QUEUED/RETRYING/RUNNING to CANCELLED and leaves terminal tasks alone', async () => {
    const [q, r] = (await store.tasks.insertMany([task({ priority: 50 }), task({ priority: 50 })])).map((o) => o.task);
    expect(await store.tasks.cancel(DEFAULT_TENANT_ID, q!.id)).toMatchObject({ status: 'CANCELLED' });
    const [run] = await store.tasks.claim('n1', 1, 30_000);
    expect(run!.id).toBe(r!.id);
    await store.tasks.finish([result(run!, 'n1')]);
    expect(await store.tasks.cancel(DEFAULT_TENANT_ID, r!.id)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await store.tasks.cancel(tenantB, q!.id)).toBeNull();
    expect(await store.tasks.cancel(DEFAULT_TENANT_ID, '00000000-0000-0000-0000-00000000beef')).toBeNull();
    expect(await store.tasks.cancel(DEFAULT_TENANT_ID, 'not-a-uuid')).toBeNull();
  });

  it('retry re-queues FAILED/CANCELLED with a fresh attempt budget; other states are unchanged', async () => {
    const [t] = (await store.tasks.insertMany([task()])).map((o) => o.task);
    expect(await store.tasks.retry(DEFAULT_TENANT_ID, t!.id)).toMatchObject({ status: 'QUEUED', attemptBase: 0 });
    for (let n = 1; n <= 3; n++) {
      const [c] = await store.tasks.claim('n1', 1, 30_000);
      const next = n < 3 ? { status: 'RETRYING' as const, runAt: new Date(Date.now() - 1) } : { status: 'FAILED' as const };
      await store.tasks.finish([result(c!, 'n1', { outcome: 'timeout', exitCode: null, next })]);
    }
    const failed = await store.tasks.get(DEFAULT_TENANT_ID, t!.id);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 3, attemptBase: 0 });
    const retried = await store.tasks.retry(DEFAULT_TENANT_ID, t!.id);
    expect(retried).toMatchObject({ status: 'QUEUED', attempts: 3, attemptBase: 3, finishedAt: null, leaseOwner: null });
    expect(retried!.runAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    const [c] = await store.tasks.claim('n1', 1, 30_000);
    expect(c).toMatchObject({ id: t!.id, attempts: 4, attemptBase: 3 });
    await store.tasks.finish([result(c!, 'n1')]);
    expect(await store.tasks.retry(DEFAULT_TENANT_ID, t!.id)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await store.tasks.retry(tenantB, t!.id)).toBeNull();
  });
});

describe('queries', () => {
  it('list pages newest first with filters and totalCount; countByStatus per tenant and overall', async () => {
    const mk = (n: number, over: Partial<NewTask> = {}) => Array.from({ length: n }, () => task({ tenantId: tenantB, ...over }));
    const before = new Date(Date.now() - 1);
    const b1 = (await store.tasks.insertMany(mk(7))).map((o) => o.task);
    await new Promise((r) => setTimeout(r, 5));
    const b2 = (await store.tasks.insertMany(mk(5, { priority: 100 }))).map((o) => o.task);
    const [claimedOne] = await store.tasks.claim('n1', 1, 30_000);
    expect(claimedOne!.tenantId).toBe(tenantB);
    await store.tasks.cancel(tenantB, b1[0]!.id);

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await store.tasks.list(tenantB, {}, 5, after);
      expect(page.totalCount).toBe(13);
      seen.push(...page.rows.map((r) => r.id));
      pages++;
      if (!page.hasNextPage) break;
      after = page.endCursor!;
    }
    expect(pages).toBe(3);
    const newestFirst = [...b2].reverse().concat([...b1].reverse());
    // Plus the tenant-b task from the idempotency test (oldest).
    expect(seen.slice(0, 12)).toEqual(newestFirst.map((t) => t.id));
    expect(new Set(seen).size).toBe(13);

    const queued = await store.tasks.list(tenantB, { status: ['QUEUED'] }, 100);
    expect(queued.totalCount).toBe(10);
    const cancelledOrRunning = await store.tasks.list(tenantB, { status: ['CANCELLED', 'RUNNING'] }, 100);
    expect(cancelledOrRunning.rows.map((r) => r.status).sort()).toEqual(['CANCELLED', 'RUNNING']);
    expect((await store.tasks.list(tenantB, { createdAfter: before }, 100)).totalCount).toBe(12);
    expect((await store.tasks.list(tenantB, { createdBefore: before }, 100)).totalCount).toBe(1);
    expect((await store.tasks.list(tenantB, { agentId: agent.agentId }, 1)).totalCount).toBe(13);
    expect((await store.tasks.list(tenantB, { agentId: '00000000-0000-0000-0000-00000000beef' }, 1)).totalCount).toBe(0);
    await expect(store.tasks.list(tenantB, {}, 1, 'garbage')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

    const counts = await store.tasks.countByStatus(tenantB);
    // The older tenant-b task (idempotency test) was drained: SUCCEEDED.
    expect(counts).toEqual({ QUEUED: 10, RUNNING: 1, RETRYING: 0, SUCCEEDED: 1, FAILED: 0, CANCELLED: 1 });
    const all = await store.tasks.countByStatus(null);
    expect(Object.values(all).reduce((a, b) => a + b, 0)).toBeGreaterThan(13);
    expect(all.QUEUED).toBe(10);
    await drain();
  });

  it('get is tenant-scoped; getMany and attempts tolerate unknown ids', async () => {
    const [t] = (await store.tasks.insertMany([task()])).map((o) => o.task);
    expect(await store.tasks.get(tenantB, t!.id)).toBeNull();
    expect(await store.tasks.get(DEFAULT_TENANT_ID, 'nope')).toBeNull();
    expect((await store.tasks.getMany([t!.id, 'nope', '00000000-0000-0000-0000-00000000beef'])).map((r) => r.id)).toEqual([t!.id]);
    expect(await store.tasks.attempts('00000000-0000-0000-0000-00000000beef')).toEqual([]);
    await drain();
  });
});
