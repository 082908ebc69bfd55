/**
 * Claim-on-insert: an idle node with room inserts a submit already claimed by itself (one statement
 * instead of insert + claim); a busy node, or one with runnable work waiting, queues it so priority
 * and age order hold. Against the real store (PGlite, or PostgreSQL with DATABASE_URL).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { uuidv7 } from '../../src/store/ids.js';
import type { AttemptResult } from '../../src/store/types.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import { makeHarness, newTask, tenantId, type Harness } from '../helpers/executor.js';
import { sleep } from '../helpers/wait.js';

let h: Harness;

beforeAll(async () => {
  // No slow poll during the tests: its claim in flight would (rightly) send a submit through the queue.
  h = await makeHarness({ concurrency: 1, pollMs: 60_000 });
});
afterAll(async () => {
  await h?.close();
});

describe('store: insertMany with claimFor', () => {
  it('writes the rows claimed (leased, still QUEUED), or RUNNING when their run has begun; a claim does not see them', async () => {
    const stopped = await makeHarness({}, { start: false });
    try {
      const hello = await stopped.agent('hello');
      const [r] = await stopped.store.tasks.insertMany([newTask(hello, { idempotencyKey: 'k1' })], { node: 'me', leaseMs: 60_000 });
      expect(r!.created).toBe(true);
      expect(r!.task).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: 'me', startedAt: null });
      expect(r!.task.queuedAt).toEqual(r!.task.createdAt);
      expect(r!.task.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 30_000);
      const begun = newTask(hello, { id: uuidv7() });
      const at = new Date(Date.now() - 5);
      const [s] = await stopped.store.tasks.insertMany([begun], { node: 'me', leaseMs: 60_000, started: new Map([[begun.id!, at]]) });
      expect(s!.task).toMatchObject({ status: 'RUNNING', attempts: 1, leaseOwner: 'me', startedAt: at });
      expect(await stopped.store.tasks.claim('other', 10, 60_000)).toEqual([]);
      // An idempotent resubmit finds the existing row as it is: not claimed again.
      const [again] = await stopped.store.tasks.insertMany([newTask(hello, { idempotencyKey: 'k1' })], { node: 'someone-else', leaseMs: 60_000 });
      expect(again).toMatchObject({ created: false, task: { id: r!.task.id, leaseOwner: 'me', attempts: 0 } });
    } finally {
      await stopped.close();
    }
  });
});

function resultOf(id: string, over: Partial<AttemptResult> = {}): AttemptResult {
  const startedAt = new Date(Date.now() - 3);
  return makeAttemptResult({
    taskId: id,
    n: 1,
    node: 'me',
    stdout: new TextEncoder().encode('done early'),
    memoryPeakBytes: 65536,
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 1),
    ...over,
  });
}

describe('store: insertMany with settled results', () => {
  // One task per statement takes the one-row statement (VALUES of scalars, not unnested arrays): the same rows.
  it.each(['in one statement', 'one task per statement'])('writes rows whose run ended in their next state with the attempt; the others claimed (%s)', async (how) => {
    // (Each run started 3 ms before its result; see resultOf.)
    const stopped = await makeHarness({}, { start: false });
    try {
      const hello = await stopped.agent('hello');
      const [done, retrying, running] = [0, 1, 2].map(() => newTask(hello, { id: uuidv7() }));
      const retryAt = new Date(Date.now() + 60_000);
      const settled = new Map([
        [done!.id!, resultOf(done!.id!)],
        [retrying!.id!, resultOf(retrying!.id!, { outcome: 'timeout', exitCode: null, next: { status: 'RETRYING', runAt: retryAt } })],
      ]);
      const at = new Date(Date.now() - 10);
      const tasks = [done!, retrying!, running!];
      const claimFor = { node: 'me', leaseMs: 60_000, at, settled };
      const inserted = how === 'in one statement' ? await stopped.store.tasks.insertMany(tasks, claimFor) : (await Promise.all(tasks.map((t) => stopped.store.tasks.insertMany([t], claimFor)))).flat();
      const rows = inserted.map((r) => r.task);
      expect(rows.map((r) => r.id)).toEqual([done!.id, retrying!.id, running!.id]);
      expect(rows[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 1, lastOutcome: 'exited', exitCode: 0, leaseOwner: null, leaseExpiresAt: null });
      expect(rows[0]!.finishedAt).toEqual(settled.get(done!.id!)!.finishedAt);
      // Submitted (created and queued) before its run began; started when the run did.
      for (const row of rows) expect([row.createdAt, row.queuedAt]).toEqual([at, at]);
      expect(rows[0]!.startedAt).toEqual(settled.get(done!.id!)!.startedAt);
      expect(rows[1]).toMatchObject({ status: 'RETRYING', attempts: 1, lastOutcome: 'timeout', leaseOwner: null, finishedAt: null, runAt: retryAt });
      expect(rows[2]).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: 'me', lastOutcome: null, finishedAt: null, startedAt: null });
      const [attempt] = await stopped.store.tasks.attempts(done!.id!);
      expect(attempt).toMatchObject({ n: 1, node: 'me', outcome: 'exited', exitCode: 0 });
      expect(new TextDecoder().decode(attempt!.stdout)).toBe('done early');
      expect(await stopped.store.tasks.attempts(retrying!.id!)).toHaveLength(1);
      expect(await stopped.store.tasks.attempts(running!.id!)).toEqual([]);
      // Neither the finished nor the retrying-later rows are claimable now; the claimed one finishes as usual.
      expect(await stopped.store.tasks.claim('other', 10, 60_000)).toEqual([]);
      const [finished] = await stopped.store.tasks.finish([resultOf(running!.id!)]);
      expect(finished).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    } finally {
      await stopped.close();
    }
  });
});

describe('executor: claim-on-insert', () => {
  it('an idle node runs a submit without a separate claim; the submitter sees it QUEUED, subscribers QUEUED → RUNNING → SUCCEEDED', async () => {
    const hello = await h.agent('hello');
    const insert = vi.spyOn(h.store.tasks, 'insertMany');
    const claim = vi.spyOn(h.store.tasks, 'claim');
    try {
      const [task] = await h.submit([newTask(hello)]);
      expect(task).toMatchObject({ status: 'QUEUED', attempts: 0, leaseOwner: null, startedAt: null });
      await h.log.status(task!.id, 'SUCCEEDED');
      expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      // Claimed by the insert itself: no claim statement.
      expect(insert.mock.calls.at(-1)![1]).toMatchObject({ node: 'node-a' });
      expect(claim).not.toHaveBeenCalled();
    } finally {
      insert.mockRestore();
      claim.mockRestore();
    }
    const [task] = await h.submit([newTask(hello)]);
    await h.log.status(task!.id, 'SUCCEEDED');
    const row = await h.store.tasks.get(tenantId, task!.id);
    expect(row!.startedAt!.getTime()).toBeGreaterThanOrEqual(row!.createdAt.getTime());
    expect(row).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect((await h.store.tasks.attempts(task!.id))[0]).toMatchObject({ n: 1, node: 'node-a', outcome: 'exited' });
  });

  it('a node without room queues submits, which then run in priority order', async () => {
    const hello = await h.agent('hello');
    const loop = await h.agent('infinite_loop');
    // Takes the only slot (concurrency 1) until its timeout: long enough that the checks below run
    // while it holds it, even on a loaded machine (RUNNING is announced ~100 ms after the start).
    const [busy] = await h.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 1500 } })]);
    await h.log.status(busy!.id, 'RUNNING');
    const [low] = await h.submit([newTask(hello, { priority: 0 })]);
    const [high] = await h.submit([newTask(hello, { priority: 10 })]);
    for (const t of [low!, high!]) expect((await h.store.tasks.get(tenantId, t.id))).toMatchObject({ status: 'QUEUED', leaseOwner: null });
    await h.log.status(low!.id, 'SUCCEEDED');
    await h.log.status(high!.id, 'SUCCEEDED');
    // Started by the one worker in claim order. (Their RUNNING events come with their results, whose
    // writes may overlap on PostgreSQL, so the events' order says less.)
    const [[highAttempt], [lowAttempt]] = await Promise.all([high!, low!].map((t) => h.store.tasks.attempts(t.id)));
    expect(highAttempt!.finishedAt.getTime()).toBeLessThanOrEqual(lowAttempt!.startedAt.getTime());
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
    const insert = vi.spyOn(h.store.tasks, 'insertMany');
    try {
      const [next] = await h.submit([newTask(hello)]);
      await h.log.status(next!.id, 'SUCCEEDED');
      expect(insert.mock.calls.at(-1)![1]).toMatchObject({ node: 'node-a' });
    } finally {
      insert.mockRestore();
    }
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

describe('executor: runs started before their rows are written', () => {
  /** A harness that waits for runs up to 1 s before inserting (a hello run takes well under that). */
  async function settling() {
    const x = await makeHarness({ concurrency: 4, pollMs: 60_000, settleOnInsertMs: 1_000 });
    const finish = vi.spyOn(x.store.tasks, 'finish');
    return { x, finish, finished: (id: string) => finish.mock.calls.some(([results]) => results.some((r) => r.taskId === id)) };
  }

  it('a short task is written once, already finished: QUEUED → RUNNING → SUCCEEDED, one attempt', async () => {
    const { x, finished } = await settling();
    try {
      const hello = await x.agent('hello');
      const [task] = await x.submit([newTask(hello)]);
      expect(task).toMatchObject({ status: 'QUEUED', attempts: 0 });
      // Written with its row: by the time the submit returns, the task has ended.
      expect(await x.store.tasks.get(tenantId, task!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, exitCode: 0 });
      await x.log.status(task!.id, 'SUCCEEDED');
      expect(x.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      const attempts = await x.store.tasks.attempts(task!.id);
      expect(attempts).toHaveLength(1);
      expect(new TextDecoder().decode(attempts[0]!.stdout)).toBe('hello, world\n');
      expect(finished(task!.id)).toBe(false);
      expect(x.executor.running()).toBe(0);
    } finally {
      await x.close();
    }
  });

  it('a failing run with retries left goes in RETRYING and is run again from the queue', async () => {
    const { x } = await settling();
    try {
      const trap = await x.agent('unreachable');
      const [task] = await x.submit([newTask(trap, { retryPolicy: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20, retryOn: ['trap'] } })]);
      await x.log.status(task!.id, 'FAILED');
      expect(x.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'RETRYING', 'RUNNING', 'FAILED']);
      expect((await x.store.tasks.attempts(task!.id)).map((a) => [a.n, a.outcome])).toEqual([[1, 'trap'], [2, 'trap']]);
    } finally {
      await x.close();
    }
  });

  it('a run still going when the wait ends goes in claimed, or RUNNING once begun; its result is written when it ends', async () => {
    const x = await makeHarness({ concurrency: 4, pollMs: 60_000, settleOnInsertMs: 20 });
    try {
      const loop = await x.agent('infinite_loop');
      const t0 = Date.now();
      const [task] = await x.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 1_000 } })]);
      expect(Date.now() - t0).toBeLessThan(1_000); // the submit did not wait for the run
      // RUNNING if a worker had begun it when the row was written (a fresh worker may still be booting).
      const row = await x.store.tasks.get(tenantId, task!.id);
      expect(row).toMatchObject({ leaseOwner: 'node-a' });
      expect(['QUEUED', 'RUNNING']).toContain(row!.status);
      // Either way RUNNING, in the database, long before the run ends.
      await x.log.status(task!.id, 'RUNNING');
      expect(await x.store.tasks.get(tenantId, task!.id)).toMatchObject({ status: 'RUNNING', attempts: 1, leaseOwner: 'node-a' });
      await x.log.status(task!.id, 'FAILED');
      expect(x.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'FAILED']);
      expect(await x.store.tasks.attempts(task!.id)).toMatchObject([{ n: 1, outcome: 'timeout' }]);
    } finally {
      await x.close();
    }
  });

  it('a failed insert drops the runs: the submit fails, nothing is written or announced', async () => {
    const { x, finish } = await settling();
    try {
      const hello = await x.agent('hello');
      const insert = vi.spyOn(x.store.tasks, 'insertMany').mockRejectedValueOnce(new Error('database went away'));
      await expect(x.submit([newTask(hello), newTask(hello)])).rejects.toThrow('database went away');
      expect(insert).toHaveBeenCalledTimes(1);
      const ids = insert.mock.calls[0]![0].map((t) => t.id!);
      await sleep(100); // nothing runs, nothing is written or announced
      expect(x.executor.running()).toBe(0);
      expect(finish).not.toHaveBeenCalled();
      expect(x.log.events.filter((e) => ids.includes(e.taskId))).toEqual([]);
      expect(await x.store.tasks.getMany(ids)).toEqual([]);
      // The next submit works as usual.
      const [task] = await x.submit([newTask(hello)]);
      await x.log.status(task!.id, 'SUCCEEDED');
    } finally {
      await x.close();
    }
  });

  it('tasks with an idempotency key go through the queue (never run before their row exists)', async () => {
    const { x } = await settling();
    try {
      const hello = await x.agent('hello');
      const insert = vi.spyOn(x.store.tasks, 'insertMany');
      const [task] = await x.submit([newTask(hello, { idempotencyKey: 'once' })]);
      expect(insert.mock.calls[0]![1]).toBeUndefined();
      await x.log.status(task!.id, 'SUCCEEDED');
      const [again] = await x.submit([newTask(hello, { idempotencyKey: 'once' })]);
      expect(again!.id).toBe(task!.id);
      expect(await x.store.tasks.attempts(task!.id)).toHaveLength(1);
    } finally {
      await x.close();
    }
  });
});
