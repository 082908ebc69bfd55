/**
 * Claim-on-insert: an idle node with room inserts a submit already claimed by itself (one statement
 * instead of insert + claim); a busy node, or one with runnable work waiting, queues it so priority
 * and age order hold. Against the real store (PGlite, or PostgreSQL with DATABASE_URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness, newTask, tenantId, type Harness } from './executor.harness.js';

let h: Harness;

beforeAll(async () => {
  // No slow poll during the tests: its claim in flight would (rightly) send a submit through the queue.
  h = await makeHarness({ concurrency: 1, pollMs: 60_000 });
});
afterAll(async () => {
  await h?.close();
});

describe('store: insertMany with claimFor', () => {
  it('writes the rows claimed (RUNNING, attempt 1, leased, started); a claim does not see them', async () => {
    const stopped = await makeHarness({}, { start: false });
    try {
      const hello = await stopped.agent('hello');
      const [r] = await stopped.store.tasks.insertMany([newTask(hello, { idempotencyKey: 'k1' })], { node: 'me', leaseMs: 60_000 });
      expect(r!.created).toBe(true);
      expect(r!.task).toMatchObject({ status: 'RUNNING', attempts: 1, leaseOwner: 'me' });
      expect(r!.task.startedAt?.getTime()).toBe(r!.task.createdAt.getTime());
      expect(r!.task.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 30_000);
      expect(await stopped.store.tasks.claim('other', 10, 60_000)).toEqual([]);
      // An idempotent resubmit finds the existing row as it is: not claimed again.
      const [again] = await stopped.store.tasks.insertMany([newTask(hello, { idempotencyKey: 'k1' })], { node: 'someone-else', leaseMs: 60_000 });
      expect(again).toMatchObject({ created: false, task: { id: r!.task.id, leaseOwner: 'me', attempts: 1 } });
    } finally {
      await stopped.close();
    }
  });
});

describe('executor: claim-on-insert', () => {
  it('an idle node runs a submit without a separate claim; the submitter sees it QUEUED, subscribers QUEUED → RUNNING → SUCCEEDED', async () => {
    const hello = await h.agent('hello');
    const [task] = await h.submit([newTask(hello)]);
    expect(task).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: null, startedAt: null });
    await h.log.status(task!.id, 'SUCCEEDED');
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    const row = await h.store.tasks.get(tenantId, task!.id);
    // Claimed by the insert itself: started in the same statement that created it.
    expect(row!.startedAt!.getTime()).toBe(row!.createdAt.getTime());
    expect(row).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect((await h.store.tasks.attempts(task!.id))[0]).toMatchObject({ n: 1, node: 'node-a', outcome: 'exited' });
  });

  it('a node without room queues submits, which then run in priority order', async () => {
    const hello = await h.agent('hello');
    const loop = await h.agent('infinite_loop');
    // Takes the only slot (concurrency 1) until its timeout.
    const [busy] = await h.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 400 } })]);
    await h.log.status(busy!.id, 'RUNNING');
    const [low] = await h.submit([newTask(hello, { priority: 0 })]);
    const [high] = await h.submit([newTask(hello, { priority: 10 })]);
    for (const t of [low!, high!]) expect((await h.store.tasks.get(tenantId, t.id))).toMatchObject({ status: 'QUEUED', leaseOwner: null });
    await h.log.status(low!.id, 'SUCCEEDED');
    await h.log.status(high!.id, 'SUCCEEDED');
    const started = h.log.events.filter((e) => e.status === 'RUNNING').map((e) => e.taskId);
    expect(started.indexOf(high!.id)).toBeLessThan(started.indexOf(low!.id));
  });

  it('a batch larger than the free room goes through the queue whole', async () => {
    const hello = await h.agent('hello');
    const tasks = await h.submit([newTask(hello), newTask(hello)]);
    for (const t of tasks) await h.log.status(t.id, 'SUCCEEDED');
    for (const t of tasks) {
      const row = await h.store.tasks.get(tenantId, t.id);
      expect(row).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    }
    // Back to idle: the next submit is claimed on insert again.
    const [next] = await h.submit([newTask(hello)]);
    await h.log.status(next!.id, 'SUCCEEDED');
    const row = await h.store.tasks.get(tenantId, next!.id);
    expect(row!.startedAt!.getTime()).toBe(row!.createdAt.getTime());
  });

  it('is off with claimOnInsert: false (every task goes through a claim)', async () => {
    const off = await makeHarness({ claimOnInsert: false });
    try {
      const hello = await off.agent('hello');
      const [task] = await off.submit([newTask(hello)]);
      await off.log.status(task!.id, 'SUCCEEDED');
      expect(off.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    } finally {
      await off.close();
    }
  });
});
