import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID, makeStore, type AttemptResult, type NewTask, type Store, type TaskCursor, type TaskRow } from '../../src/store/index.js';
import { databaseUrl, makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import { sleep, waitFor } from '../helpers/wait.js';

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
    retryPolicy: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000, retryOn: ['timeout', 'host_error'] },
    deterministic: null,
    idempotencyKey: null,
    runAt: new Date(Date.now() - 1000),
    ...over,
  };
}

/** The attempt a node holding `t` runs: the next one of a claimed task, the current one of a RUNNING task. */
const attemptOf = (t: TaskRow) => (t.status === 'RUNNING' ? t.attempts : t.attempts + 1);

/** Marks claimed tasks RUNNING the way a node does when its workers begin them: in a heartbeat. */
async function start(node: string, tasks: TaskRow[], leaseMs = 30_000) {
  const at = new Date();
  return store.tasks.heartbeat(node, tasks.map((t) => t.id), leaseMs, tasks.map((t) => ({ taskId: t.id, n: attemptOf(t), at })));
}

/** `node`'s end of `t`'s attempt, with every field set (the stored row is checked field by field). */
function result(t: TaskRow, node: string, over: Partial<AttemptResult> = {}): AttemptResult {
  return makeAttemptResult({
    taskId: t.id,
    n: attemptOf(t),
    node,
    stdout: new TextEncoder().encode(`out ${t.id}`),
    compileMs: 1.4,
    runMs: 2.6,
    fuelUsed: 12345n,
    memoryPeakBytes: 65536,
    files: [{ path: '/out.txt', size: 3 }],
    startedAt: new Date(Date.now() - 5),
    ...over,
  });
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
      retryPolicy: { maxAttempts: 3, retryOn: ['timeout', 'host_error'] },
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
  it('orders by priority desc, then submission (queuedAt, id), whatever runAt; only leases the tasks', async () => {
    const now = Date.now();
    const [lowOld, high, lowEarlierRun, mid] = (
      await store.tasks.insertMany([
        task({ priority: 0, runAt: new Date(now - 1000) }),
        task({ priority: 9, runAt: new Date(now - 500) }),
        task({ priority: 0, runAt: new Date(now - 5000) }),
        task({ priority: 4, runAt: new Date(now - 100) }),
      ])
    ).map((o) => o.task);
    const [lowNew] = (await store.tasks.insertMany([task({ priority: 0, runAt: new Date(now - 9000) })])).map((o) => o.task);
    expect(lowNew!.queuedAt.getTime()).toBeGreaterThanOrEqual(lowOld!.queuedAt.getTime());

    const claimed = await store.tasks.claim('n1', 3, 30_000);
    // An earlier runAt does not jump the queue: within a priority, the order of submission.
    expect(claimed.map((t) => t.id)).toEqual([high!.id, mid!.id, lowOld!.id]);
    for (const t of claimed) {
      // Claimed, not running: a worker has not begun it, so the public state is unchanged.
      expect(t).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: 'n1', startedAt: null });
      expect(t.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 20_000);
    }
    const rest = await store.tasks.claim('n1', 10, 30_000);
    expect(rest.map((t) => t.id)).toEqual([lowEarlierRun!.id, lowNew!.id]);
    expect(await store.tasks.claim('n1', 10, 30_000)).toEqual([]);
    await store.tasks.finish([...claimed, ...rest].map((t) => result(t, 'n1')));
  });

  it('a retry whose backoff is over and a task back from an expired claim keep their place; a manual retry goes to the back', async () => {
    const [retried, recovered, manual] = (await store.tasks.insertMany([task(), task(), task()])).map((o) => o.task);
    await store.tasks.claim('n1', 3, 30_000);
    // retried: attempt 1 failed, retry due in 1 s. recovered: its claim expires (a node that died
    // before starting it). manual: FAILED, then retried by a user.
    await store.tasks.release('n1', [recovered!.id]);
    const [dead] = await store.tasks.claim('dead', 1, 50);
    expect(dead!.id).toBe(recovered!.id);
    const backoff = new Date(Date.now() + 1_000);
    await store.tasks.finish([
      result({ ...retried!, status: 'QUEUED', attempts: 0 }, 'n1', { outcome: 'timeout', exitCode: null, next: { status: 'RETRYING', runAt: backoff } }),
      result({ ...manual!, status: 'QUEUED', attempts: 0 }, 'n1', { outcome: 'exited', exitCode: 1, next: { status: 'FAILED' } }),
    ]);
    const later = (await store.tasks.insertMany([task(), task()])).map((o) => o.task);
    await sleep(5); // queued after `later`, by the clock
    expect(await store.tasks.retry(DEFAULT_TENANT_ID, manual!.id)).toMatchObject({ status: 'QUEUED' });

    const back = await waitFor("the dead node's lease to run out", async () => {
      const back = await store.tasks.reclaimExpired('n2', 10, 30_000);
      return back.length > 0 && back;
    });
    expect(back).toMatchObject([{ id: recovered!.id, status: 'QUEUED', leaseOwner: null, attempts: 0, lostOwner: 'dead' }]);
    expect(await store.tasks.attempts(recovered!.id)).toEqual([]);
    // The retry is not due yet: the others go first.
    const first = await store.tasks.claim('n2', 1, 30_000);
    expect(first.map((t) => t.id)).toEqual([recovered!.id]);
    await sleep(Math.max(0, backoff.getTime() - Date.now() + 20)); // until the backoff is due; an earlier claim would take the rest without it
    const order = await store.tasks.claim('n2', 10, 30_000);
    expect(order.map((t) => t.id)).toEqual([retried!.id, later[0]!.id, later[1]!.id, manual!.id]);
    expect(order[0]).toMatchObject({ status: 'RETRYING', attempts: 1 });
    await store.tasks.finish([...first, ...order].map((t) => result(t, 'n2')));
    expect((await store.tasks.get(DEFAULT_TENANT_ID, retried!.id))!.attempts).toBe(2);
  });

  it('does not claim a delayed task before its runAt; nextRunAt reports delays and backoffs, not due tasks', async () => {
    expect(await store.tasks.nextRunAt()).toBeNull();
    await store.tasks.insertMany([task({ runAt: new Date() })]);
    // Due at submission: nothing to wait for (and never in task_delayed_idx).
    expect(await store.tasks.nextRunAt()).toBeNull();
    await drain();
    const later = new Date(Date.now() + 3_600_000);
    const [delayed] = (await store.tasks.insertMany([task({ runAt: later })])).map((o) => o.task);
    expect(await store.tasks.claim('n1', 10, 30_000)).toEqual([]);
    expect((await store.tasks.nextRunAt())?.getTime()).toBe(later.getTime());
    const soon = new Date(Date.now() + 300);
    const [near] = (await store.tasks.insertMany([task({ runAt: soon })])).map((o) => o.task);
    expect((await store.tasks.nextRunAt())?.getTime()).toBe(soon.getTime());
    const [claimed] = await waitFor('the delayed task to come due', () => store.tasks.claim('n1', 10, 30_000).then((c) => c.length > 0 && c));
    expect(claimed!.id).toBe(near!.id);
    // A claimed task is no one's to wake up for; its retry's backoff is.
    expect((await store.tasks.nextRunAt())?.getTime()).toBe(later.getTime());
    const backoff = new Date(Date.now() + 60_000);
    await store.tasks.finish([result(claimed!, 'n1', { outcome: 'timeout', exitCode: null, next: { status: 'RETRYING', runAt: backoff } })]);
    expect((await store.tasks.nextRunAt())?.getTime()).toBe(backoff.getTime());
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

  it('a heartbeat marks begun runs RUNNING and says which tasks the node still holds', async () => {
    const [a, b, c] = (await store.tasks.insertMany([task(), task(), task()])).map((o) => o.task);
    const claimed = await store.tasks.claim('n1', 3, 30_000);
    const at = new Date(Date.now() - 20);
    const states = await store.tasks.heartbeat('n1', [a!.id, b!.id, c!.id], 60_000, [{ taskId: a!.id, n: 1, at }]);
    const byId = new Map(states.map((s) => [s.id, s]));
    expect(byId.get(a!.id)).toMatchObject({ held: true, status: 'RUNNING', attempts: 1, leaseOwner: 'n1' });
    expect(byId.get(b!.id)).toMatchObject({ held: true, status: 'QUEUED', attempts: 0, leaseOwner: 'n1' });
    const rowA = await store.tasks.get(DEFAULT_TENANT_ID, a!.id);
    expect(rowA).toMatchObject({ status: 'RUNNING', attempts: 1 });
    expect(rowA!.startedAt!.getTime()).toBe(at.getTime());
    expect(rowA!.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 45_000);
    // Marking twice changes nothing.
    await store.tasks.heartbeat('n1', [a!.id], 60_000, [{ taskId: a!.id, n: 1, at: new Date() }]);
    expect(await store.tasks.get(DEFAULT_TENANT_ID, a!.id)).toMatchObject({ status: 'RUNNING', attempts: 1, startedAt: at });
    // Cancelled: no longer held; another node's heartbeat holds nothing.
    await store.tasks.cancel(DEFAULT_TENANT_ID, c!.id);
    const after = new Map((await store.tasks.heartbeat('n1', [a!.id, c!.id, '00000000-0000-0000-0000-00000000beef'], 60_000)).map((s) => [s.id, s]));
    expect(after.get(c!.id)).toMatchObject({ held: false, status: 'CANCELLED', leaseOwner: 'n1' });
    expect(after.get(a!.id)!.held).toBe(true);
    expect(after.size).toBe(2);
    expect((await store.tasks.heartbeat('someone-else', [a!.id, b!.id], 60_000)).map((s) => s.held)).toEqual([false, false]);
    await store.tasks.finish(claimed.filter((t) => t.id !== c!.id).map((t) => result(t, 'n1')));
    expect(await store.tasks.get(DEFAULT_TENANT_ID, a!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  it('expiry: another node takes over a RUNNING task (attempts unchanged); the old node\'s late result is kept stale', async () => {
    const [t] = (await store.tasks.insertMany([task()])).map((o) => o.task);
    const [claimed] = await store.tasks.claim('dead', 1, 5_000);
    expect(claimed!.id).toBe(t!.id);
    await start('dead', [claimed!], 5_000);
    expect(await store.tasks.reclaimExpired('n2', 10, 30_000)).toEqual([]);
    // The owner's last heartbeat leaves a lease of 1 ms; a heartbeat by another node must not extend it.
    await store.tasks.heartbeat('dead', [t!.id], 1);
    await store.tasks.heartbeat('someone-else', [t!.id], 60_000);
    await sleep(20); // past the 1 ms lease: only a lower bound matters
    // A node never takes over what it still has in hand.
    expect(await store.tasks.reclaimExpired('dead', 10, 30_000, [t!.id])).toEqual([]);
    const reclaimed = await store.tasks.reclaimExpired('n2', 10, 30_000);
    expect(reclaimed.map((r) => r.id)).toEqual([t!.id]);
    expect(reclaimed[0]).toMatchObject({ status: 'RUNNING', leaseOwner: 'n2', attempts: 1, lostOwner: 'dead' });
    // The dead node's late result is recorded, stale, and does not move the task.
    const lateResult = result(reclaimed[0]!, 'dead');
    const [late] = await store.tasks.finish([lateResult]);
    expect(late).toMatchObject({ status: 'RUNNING', leaseOwner: 'n2', stale: true });
    // Written again (a write retried after its answer was lost): kept once, still late.
    expect(await store.tasks.finish([lateResult], { mayBeWritten: true })).toMatchObject([{ status: 'RUNNING', stale: true, alreadyWritten: [] }]);
    // The new owner records attempt 1 as host_error and schedules a retry.
    const retryAt = new Date(Date.now() - 10);
    const [after] = await store.tasks.finish([
      result(reclaimed[0]!, 'n2', { outcome: 'host_error', exitCode: null, next: { status: 'RETRYING', runAt: retryAt } }),
    ]);
    expect(after).toMatchObject({ status: 'RETRYING', leaseOwner: null, lastOutcome: 'host_error', finishedAt: null, stale: false });
    // The finish reads back only what the end needs (FinishedTask); the row holds the rest.
    expect(after).not.toHaveProperty('runAt');
    expect((await store.tasks.get(DEFAULT_TENANT_ID, t!.id))!.runAt.getTime()).toBe(retryAt.getTime());
    // Late again, after the task moved on: stale again, the task still RETRYING.
    const [again] = await store.tasks.finish([result(reclaimed[0]!, 'dead', { startedAt: new Date(Date.now() - 1) })]);
    expect(again).toMatchObject({ status: 'RETRYING', stale: true });
    const [next] = await store.tasks.claim('n2', 1, 30_000);
    expect(next).toMatchObject({ id: t!.id, status: 'RETRYING', attempts: 1 });
    const final = result(next!, 'n2');
    await store.tasks.finish([final]);
    // The same result again after a lost answer: it is recorded already, not a late one. A first
    // write says nothing of that (alreadyWritten is the rewrite's answer only).
    expect(late!.alreadyWritten).toEqual([]);
    expect(await store.tasks.finish([final], { mayBeWritten: true })).toMatchObject([{ status: 'SUCCEEDED', stale: true, alreadyWritten: [2] }]);
    const attempts = await store.tasks.attempts(t!.id);
    expect(attempts.map((a) => [a.n, a.node, a.stale])).toEqual([
      [1, 'dead', true],
      [1, 'dead', true],
      [1, 'n2', false],
      [2, 'n2', false],
    ]);
    expect(await store.tasks.get(DEFAULT_TENANT_ID, t!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });

  it('a claimed task whose lease expired goes back to the queue without an attempt', async () => {
    const [t] = (await store.tasks.insertMany([task({ priority: 70 })])).map((o) => o.task);
    await store.tasks.claim('dead', 1, 50);
    expect(await store.tasks.claim('n2', 10, 30_000)).toEqual([]);
    const [back] = await waitFor("the dead node's lease to run out", async () => {
      const back = await store.tasks.reclaimExpired('n2', 10, 30_000);
      return back.length > 0 && back;
    });
    expect(back).toMatchObject({ id: t!.id, status: 'QUEUED', attempts: 0, leaseOwner: null, leaseExpiresAt: null, lostOwner: 'dead' });
    // The dead node's heartbeat finds it gone; its late result (it had begun the run) is stale.
    expect((await store.tasks.heartbeat('dead', [t!.id], 30_000))[0]).toMatchObject({ held: false, status: 'QUEUED' });
    expect(await store.tasks.finish([result(back!, 'dead')])).toMatchObject([{ status: 'QUEUED', stale: true }]);
    const [again] = await store.tasks.claim('n2', 10, 30_000);
    expect(again!.id).toBe(t!.id);
    await store.tasks.finish([result(again!, 'n2')]);
    expect((await store.tasks.attempts(t!.id)).map((a) => [a.n, a.node, a.stale])).toEqual([
      [1, 'dead', true],
      [1, 'n2', false],
    ]);
  });

  it('release gives claimed and RUNNING tasks back to the queue, the attempt undone, in their place', async () => {
    const [t, u] = (await store.tasks.insertMany([task(), task()])).map((o) => o.task);
    const claimed = await store.tasks.claim('n1', 2, 30_000);
    await start('n1', claimed.filter((c) => c.id === t!.id));
    await store.tasks.release('n2', [t!.id, u!.id]); // not the owner
    expect((await store.tasks.get(DEFAULT_TENANT_ID, t!.id))!.status).toBe('RUNNING');
    await store.tasks.release('n1', [t!.id, u!.id]);
    for (const id of [t!.id, u!.id]) {
      const row = await store.tasks.get(DEFAULT_TENANT_ID, id);
      expect(row).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: null, startedAt: null });
      expect(row!.queuedAt).toEqual(t!.queuedAt);
    }
    await drain();
  });
});

describe('finish', () => {
  it('writes attempts and statuses for a batch and returns the rows after', async () => {
    const inserted = (await store.tasks.insertMany(Array.from({ length: 5 }, () => task()))).map((o) => o.task);
    const claimed = await store.tasks.claim('n1', 5, 30_000);
    expect(claimed).toHaveLength(5);
    // Two were begun and marked RUNNING by a heartbeat; the others ended first (claimed → done in one write).
    await start('n1', claimed.slice(0, 2));
    const byId = new Map((await store.tasks.getMany(claimed.map((t) => t.id))).map((t) => [t.id, t]));
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
    expect(out.every((t) => t.attempts === 1 && !t.stale)).toBe(true);
    expect(got.get(a!.id)).toMatchObject({ status: 'SUCCEEDED', lastOutcome: 'exited', exitCode: 0, leaseOwner: null });
    const rows = await store.tasks.getMany(out.map((t) => t.id));
    expect(rows.every((t) => t.startedAt instanceof Date && t.leaseExpiresAt === null)).toBe(true);
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
      stale: false,
    });
    expect(attA!.stdout).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(attA!.stdout)).toBe(`out ${a!.id}`);
    const [attC] = await store.tasks.attempts(c!.id);
    expect(attC).toMatchObject({ outcome: 'trap', trapCode: 'unreachable', trapMessage: 'unreachable executed', stdoutTruncated: true, fuelUsed: null });
    await store.tasks.cancel(DEFAULT_TENANT_ID, d!.id);
  });

  it('does not overwrite a task cancelled while running, but records its attempt', async () => {
    const [t, u] = (await store.tasks.insertMany([task(), task()])).map((o) => o.task);
    const [running, begun] = await store.tasks.claim('n1', 2, 30_000);
    await start('n1', [running!]);
    // begun: a worker took it up, but no heartbeat marked it before the cancel.
    for (const id of [t!.id, u!.id]) {
      const cancelled = await store.tasks.cancel(DEFAULT_TENANT_ID, id);
      expect(cancelled).toMatchObject({ status: 'CANCELLED', lastOutcome: 'cancelled', leaseOwner: 'n1' });
      expect(cancelled!.finishedAt).toBeInstanceOf(Date);
    }
    const out = await store.tasks.finish([result({ ...running!, status: 'RUNNING', attempts: 1 }, 'n1'), result(begun!, 'n1')]);
    // The task's outcome is its end (the cancel's), whatever the stopped run reported.
    for (const row of out) expect(row).toMatchObject({ status: 'CANCELLED', lastOutcome: 'cancelled', attempts: 1, stale: false });
    for (const id of [t!.id, u!.id]) expect((await store.tasks.attempts(id)).map((a) => [a.n, a.stale])).toEqual([[1, false]]);
  });

  it('a rewrite after a lost answer says which results the lost write had recorded (not late ones)', async () => {
    const inserted = (await store.tasks.insertMany([task({ priority: 980 }), task({ priority: 980 }), task({ priority: 980 }), task({ priority: 980 })])).map((o) => o.task);
    const claimed = await store.tasks.claim('n1', 4, 30_000);
    const byId = new Map(claimed.map((t) => [t.id, t]));
    const [a, b, c, d] = inserted.map((t) => byId.get(t.id)!);
    const ra = result(a!, 'n1');
    const rb = result(b!, 'n1', { outcome: 'timeout', exitCode: null, next: { status: 'RETRYING', runAt: new Date(Date.now() + 60_000) } });
    const rc = result(c!, 'n1');
    const rd = result(d!, 'n1');
    // The write whose answer was lost: it committed a and b. c went back to the queue meanwhile.
    await store.tasks.finish([ra, rb]);
    await store.tasks.release('n1', [c!.id]);
    const out = new Map((await store.tasks.finish([ra, rb, rc, rd], { mayBeWritten: true })).map((t) => [t.id, t]));
    expect(out.get(a!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, stale: true, alreadyWritten: [1] });
    expect(out.get(b!.id)).toMatchObject({ status: 'RETRYING', attempts: 1, stale: true, alreadyWritten: [1] });
    expect(out.get(c!.id)).toMatchObject({ status: 'QUEUED', attempts: 0, stale: true, alreadyWritten: [] });
    expect(out.get(d!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, stale: false, alreadyWritten: [] });
    for (const [t, stale] of [[a, false], [b, false], [c, true], [d, false]] as const) {
      expect((await store.tasks.attempts(t!.id)).map((x) => [x.n, x.stale])).toEqual([[1, stale]]);
    }
    await store.tasks.cancel(DEFAULT_TENANT_ID, b!.id);
    await drain();
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
    expect(retried!.queuedAt.getTime()).toBeGreaterThan(t!.queuedAt.getTime());
    const [c] = await store.tasks.claim('n1', 1, 30_000);
    expect(c).toMatchObject({ id: t!.id, attempts: 3, attemptBase: 3 });
    await store.tasks.finish([result(c!, 'n1')]);
    expect(await store.tasks.get(DEFAULT_TENANT_ID, t!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 4 });
    expect(await store.tasks.retry(DEFAULT_TENANT_ID, t!.id)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await store.tasks.retry(tenantB, t!.id)).toBeNull();
  });
});

describe('deleteMany', () => {
  it('deletes ended tasks with their attempts; skips the others', async () => {
    const [ended, queued] = (await store.tasks.insertMany([task({ priority: 51 }), task({ priority: 51 })])).map((o) => o.task);
    await store.tasks.cancel(DEFAULT_TENANT_ID, ended!.id);
    const gone = await store.tasks.deleteMany(DEFAULT_TENANT_ID, [ended!.id, queued!.id, 'not-a-uuid']);
    expect(gone).toMatchObject({ ids: [ended!.id], busy: [] });
    expect(await store.tasks.get(DEFAULT_TENANT_ID, ended!.id)).toBeNull();
    expect(await store.tasks.deleteMany(tenantB, [queued!.id])).toMatchObject({ ids: [], busy: [] });
    await store.tasks.cancel(DEFAULT_TENANT_ID, queued!.id);
  });

  // A just-cancelled run's attempt insert holds its task row (the foreign key check's key-share
  // lock) for the length of its write: the delete skips the row, not waiting, and says it did.
  it.runIf(databaseUrl)('an ended task whose row another transaction holds is returned as busy, not deleted (PostgreSQL)', async () => {
    const [t] = (await store.tasks.insertMany([task({ priority: 52 })])).map((o) => o.task);
    await store.tasks.cancel(DEFAULT_TENANT_ID, t!.id);
    const other = new pg.Client({ connectionString: databaseUrl, options: `-c search_path="${ts.options.pgSchema}"` });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM task WHERE id = $1 FOR KEY SHARE', [t!.id]);
      expect(await store.tasks.deleteMany(DEFAULT_TENANT_ID, [t!.id])).toMatchObject({ ids: [], busy: [t!.id] });
      await other.query('COMMIT');
      expect(await store.tasks.deleteMany(DEFAULT_TENANT_ID, [t!.id])).toMatchObject({ ids: [t!.id], busy: [] });
    } finally {
      await other.end();
    }
  });
});

describe('queries', () => {
  it('list pages newest first with filters, count counts them; countByStatus per tenant and overall', async () => {
    // A tenant of its own, with one older task that has ended.
    const tenantQ = (await store.tenants.create('tenant-queries')).id;
    await store.tasks.insertMany([task({ tenantId: tenantQ })]);
    await drain();
    const mk = (n: number, over: Partial<NewTask> = {}) => Array.from({ length: n }, () => task({ tenantId: tenantQ, ...over }));
    const before = new Date(Date.now() - 1);
    const b1 = (await store.tasks.insertMany(mk(7))).map((o) => o.task);
    await sleep(5); // b2 is queued later than b1, by the clock
    const b2 = (await store.tasks.insertMany(mk(5, { priority: 100 }))).map((o) => o.task);
    const [claimedOne] = await store.tasks.claim('n1', 1, 30_000);
    expect(claimedOne!.tenantId).toBe(tenantQ);
    await start('n1', [claimedOne!]);
    await store.tasks.cancel(tenantQ, b1[0]!.id);

    const seen: string[] = [];
    let after: TaskCursor | undefined;
    let pages = 0;
    for (;;) {
      const page = await store.tasks.list(tenantQ, {}, 5, after);
      seen.push(...page.rows.map((r) => r.id));
      pages++;
      if (!page.hasNextPage) break;
      const last = page.rows.at(-1)!;
      after = { value: last.createdAt.getTime(), id: last.id };
    }
    expect(pages).toBe(3);
    expect(await store.tasks.count(tenantQ, {}, 10_000)).toEqual({ count: 13, exact: true });
    const newestFirst = [...b2].reverse().concat([...b1].reverse());
    // Plus the older task.
    expect(seen.slice(0, 12)).toEqual(newestFirst.map((t) => t.id));
    expect(new Set(seen).size).toBe(13);

    const queued = await store.tasks.list(tenantQ, { status: ['QUEUED'] }, 100);
    expect(queued.rows).toHaveLength(10);
    expect(await store.tasks.count(tenantQ, { status: ['QUEUED'] }, 10_000)).toEqual({ count: 10, exact: true });
    const cancelledOrRunning = await store.tasks.list(tenantQ, { status: ['CANCELLED', 'RUNNING'] }, 100);
    expect(cancelledOrRunning.rows.map((r) => r.status).sort()).toEqual(['CANCELLED', 'RUNNING']);
    expect(await store.tasks.count(tenantQ, { createdAfter: before }, 10_000)).toEqual({ count: 12, exact: true });
    expect((await store.tasks.list(tenantQ, { createdAfter: before }, 100)).rows).toHaveLength(12);
    expect(await store.tasks.count(tenantQ, { createdBefore: before }, 10_000)).toEqual({ count: 1, exact: true });
    expect(await store.tasks.count(tenantQ, { agentId: agent.agentId }, 10_000)).toEqual({ count: 13, exact: true });
    expect(await store.tasks.count(tenantQ, { agentId: '00000000-0000-0000-0000-00000000beef' }, 10_000)).toEqual({ count: 0, exact: true });
    expect((await store.tasks.list(tenantQ, { agentId: '00000000-0000-0000-0000-00000000beef' }, 1)).rows).toEqual([]);

    const counts = await store.tasks.countByStatus(tenantQ, 10_000);
    // The older task was drained: SUCCEEDED.
    expect(counts).toEqual(exactly({ QUEUED: 10, RUNNING: 1, RETRYING: 0, SUCCEEDED: 1, FAILED: 0, CANCELLED: 1 }));
    // Bounded: exact up to the cap, then an estimate of at least cap + 1.
    const capped = await store.tasks.countByStatus(tenantQ, 9);
    expect(capped.QUEUED.exact).toBe(false);
    expect(capped.QUEUED.count).toBeGreaterThanOrEqual(10);
    expect(capped.RUNNING).toEqual({ count: 1, exact: true });
    expect((await store.tasks.countByStatus(tenantQ, 10)).QUEUED).toEqual({ count: 10, exact: true });
    expect(await store.tasks.count(tenantQ, { status: ['QUEUED'] }, 10)).toEqual({ count: 10, exact: true });
    const over = await store.tasks.count(tenantQ, { status: ['QUEUED'] }, 9);
    expect(over.exact).toBe(false);
    expect(over.count).toBeGreaterThanOrEqual(10);
    // Overall counts every tenant's: one more task in another tenant is in them.
    await store.tasks.insertMany([task({ tenantId: tenantB })]);
    const all = await store.tasks.countByStatus(null, 10_000);
    expect(Object.values(all).reduce((a, b) => a + b.count, 0)).toBeGreaterThanOrEqual(14);
    expect(all.QUEUED.count).toBeGreaterThanOrEqual(11); // other tests may leave delayed tasks
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

/** Counts per status, every one exact. */
function exactly(counts: Record<string, number>) {
  return Object.fromEntries(Object.entries(counts).map(([s, count]) => [s, { count, exact: true }]));
}
