/**
 * Executor start/stop behaviour against the real store and runtime: claim order, recovery of a
 * dead node's tasks, graceful stop handing work back. Each test gets its own store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeHarness, newTask, tenantId, type Harness } from '../helpers/executor.js';
import { sleep } from '../helpers/wait.js';

const open: Harness[] = [];
const harness = async (...args: Parameters<typeof makeHarness>) => {
  const h = await makeHarness(...args);
  open.push(h);
  return h;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

describe('executor lifecycle', () => {
  it('claims by priority (higher first), then in submission order (runAt does not jump the queue)', async () => {
    const h = await harness({ concurrency: 1 }, { start: false });
    const hello = await h.agent('hello');
    const base = Date.now() - 10_000;
    const tasks = await h.submit([
      newTask(hello, { priority: 0, runAt: new Date(base) }),
      newTask(hello, { priority: 5, runAt: new Date(base + 2) }),
      newTask(hello, { priority: 1, runAt: new Date(base) }),
      newTask(hello, { priority: 10, runAt: new Date(base) }),
      newTask(hello, { priority: 5, runAt: new Date(base + 1) }),
    ]);
    const claimed: string[] = [];
    const claim = h.store.tasks.claim;
    h.store.tasks.claim = async (...args) => {
      const got = await claim(...args);
      claimed.push(...got.map((t) => t.id));
      return got;
    };
    await h.executor.start();
    await h.log.until((es) => es.filter((e) => e.status === 'SUCCEEDED').length === 5);
    // The order of the claims, one task each. (Not the RUNNING events: a short task's comes with its
    // result, and result writes may overlap on PostgreSQL.)
    expect(claimed.map((id) => tasks.findIndex((t) => t.id === id))).toEqual([3, 1, 4, 2, 0]);
  });

  it('recovers a task whose node died: attempt recorded as host_error, then retried', async () => {
    const h = await harness({ recoverMs: 100 }, { start: false });
    const hello = await h.agent('hello');
    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 50, retryOn: ['host_error' as const] };
    const [task] = await h.submit([newTask(hello, { retryPolicy })]);
    // A node that claims, starts the run and then dies: its lease (50 ms) is never renewed.
    const [claimed] = await h.store.tasks.claim('dead-node', 10, 50);
    expect(claimed?.id).toBe(task!.id);
    await h.store.tasks.heartbeat('dead-node', [claimed!.id], 50, [{ taskId: claimed!.id, n: 1, at: new Date() }]);
    await sleep(120); // its 50 ms lease runs out
    await h.executor.start();
    await h.log.status(task!.id, 'SUCCEEDED');
    const attempts = await h.store.tasks.attempts(task!.id);
    expect(attempts.map((a) => [a.n, a.outcome])).toEqual([
      [1, 'host_error'],
      [2, 'exited'],
    ]);
    expect(attempts[0]!.error).toBe('lease expired: node dead-node stopped heartbeating');
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RETRYING', 'RUNNING', 'SUCCEEDED']);
  });

  it("fails a dead node's task when no attempts remain, and finds expired leases periodically", async () => {
    // Started first, with no slow poll to race: the dead node claims the task before this executor hears of it.
    const h = await harness({ recoverMs: 100, pollMs: 60_000 });
    const hello = await h.agent('hello');
    const [inserted] = await h.store.tasks.insertMany([newTask(hello)]);
    const [claimed] = await h.store.tasks.claim('dead-node', 10, 50);
    expect(claimed?.id).toBe(inserted!.task.id);
    await h.store.tasks.heartbeat('dead-node', [claimed!.id], 50, [{ taskId: claimed!.id, n: 1, at: new Date() }]);
    await h.log.status(claimed!.id, 'FAILED', 5_000);
    const attempts = await h.store.tasks.attempts(claimed!.id);
    expect(attempts.map((a) => [a.n, a.outcome, a.node])).toEqual([[1, 'host_error', 'node-a']]);
    expect(h.log.of(claimed!.id).at(-1)).toMatchObject({ status: 'FAILED', attempt: 1, outcome: 'host_error' });
  });

  it("gives a dead node's claimed, never started task back to the queue: no attempt spent, run once", async () => {
    const h = await harness({ recoverMs: 100 }, { start: false });
    const hello = await h.agent('hello');
    const retryPolicy = { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 50, retryOn: ['host_error' as const] };
    const [task] = await h.submit([newTask(hello, { retryPolicy })]);
    // A node that prefetched it and died before any worker took it up.
    const [claimed] = await h.store.tasks.claim('dead-node', 10, 50);
    expect(claimed?.id).toBe(task!.id);
    await sleep(120); // its 50 ms lease runs out
    await h.executor.start();
    await h.log.status(task!.id, 'SUCCEEDED');
    expect((await h.store.tasks.attempts(task!.id)).map((a) => [a.n, a.outcome, a.node])).toEqual([[1, 'exited', 'node-a']]);
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
  });

  it('stop(grace) hands in-flight runs back to the queue without counting an attempt', async () => {
    const h = await harness();
    const loop = await h.agent('infinite_loop');
    const hello = await h.agent('hello');
    const [long] = await h.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 30_000 } })]);
    await h.log.status(long!.id, 'RUNNING');
    const [short] = await h.submit([newTask(hello)]);
    await h.log.status(short!.id, 'SUCCEEDED');
    const started = Date.now();
    await h.executor.stop(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(h.executor.running()).toBe(0);
    const row = await h.store.tasks.get(tenantId, long!.id);
    expect(row).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: null });
    expect(await h.store.tasks.attempts(long!.id)).toEqual([]);
    // Nothing is claimed after stop.
    const [later] = await h.submit([newTask(hello)]);
    await sleep(300); // nothing claims it
    expect((await h.store.tasks.get(tenantId, later!.id))?.status).toBe('QUEUED');
  });

  it('stop() waits for runs that finish within the grace period and writes their results', async () => {
    const h = await harness();
    const ticker = await h.agent('ticker'); // ~200 ms
    const [task] = await h.submit([newTask(ticker)]);
    await h.log.status(task!.id, 'RUNNING');
    await h.executor.stop(5_000);
    expect((await h.store.tasks.get(tenantId, task!.id))?.status).toBe('SUCCEEDED');
    await h.log.status(task!.id, 'SUCCEEDED'); // published after the write (through Redis: a moment later)
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
  });

  it('a restarted executor picks up queued work at start', async () => {
    const h = await harness({}, { start: false });
    const hello = await h.agent('hello');
    const tasks = await h.submit(Array.from({ length: 20 }, () => newTask(hello)));
    await h.executor.start();
    await h.log.until((es) => es.filter((e) => e.status === 'SUCCEEDED').length === 20);
    const rows = await h.store.tasks.getMany(tasks.map((t) => t.id));
    expect(rows.every((r) => r.status === 'SUCCEEDED' && r.attempts === 1)).toBe(true);
  });
});
