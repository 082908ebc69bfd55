/**
 * The executor against the real store (PGlite, or PostgreSQL with DATABASE_URL) and the real
 * runtime: lifecycle, retries, timeouts, cancel, delays, priorities, files, live output, stats.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFiles, encodeFiles } from '../../src/store/index.js';
import type { TaskOutputEvent } from '../../src/executor/types.js';
import { makeHarness, newTask, tenantId, text, type Harness } from '../helpers/executor.js';
import { databaseUrl } from '../helpers/store.js';
import { sleep, waitFor } from '../helpers/wait.js';

let h: Harness;

beforeAll(async () => {
  // random ≈ 1: every backoff is its ceiling, so the test can check the delays.
  h = await makeHarness({ random: () => 0.999_999 });
});
afterAll(async () => {
  await h?.close();
});

describe('executor', () => {
  it('runs hello to SUCCEEDED with its stdout; events come QUEUED → RUNNING → SUCCEEDED', async () => {
    const hello = await h.agent('hello');
    const [task] = await h.submit([newTask(hello)]);
    await h.log.status(task!.id, 'SUCCEEDED');
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    const done = h.log.of(task!.id).at(-1)!;
    expect(done).toMatchObject({ attempt: 1, outcome: 'exited', exitCode: 0, tenantId, agentId: hello.agentId });
    expect(done.at).toBeInstanceOf(Date);
    const row = await h.store.tasks.get(tenantId, task!.id);
    expect(row).toMatchObject({ status: 'SUCCEEDED', attempts: 1, lastOutcome: 'exited', exitCode: 0, leaseOwner: null });
    const [attempt, ...more] = await h.store.tasks.attempts(task!.id);
    expect(more).toEqual([]);
    expect(attempt).toMatchObject({ n: 1, node: 'node-a', outcome: 'exited', exitCode: 0 });
    expect(text(attempt!.stdout)).toBe('hello, world\n');
  });

  it('passes argv[0] = agent name, args, env and stdin', async () => {
    const agent = await h.agent('print_args_env');
    const [task] = await h.submit([newTask(agent, { args: ['one', 'two'], env: { GREETING: 'hi' } })]);
    await h.log.status(task!.id, 'SUCCEEDED');
    const [attempt] = await h.store.tasks.attempts(task!.id);
    expect(text(attempt!.stdout)).toBe('print_args_env\none\ntwo\n--\nGREETING=hi\n');

    const echo = await h.agent('echo_stdin');
    const [t2] = await h.submit([newTask(echo, { stdin: new TextEncoder().encode('from stdin') })]);
    await h.log.status(t2!.id, 'SUCCEEDED');
    expect(text((await h.store.tasks.attempts(t2!.id))[0]!.stdout)).toBe('from stdin');
  });

  it('retries a failing task with backoff, records every attempt, then FAILED', async () => {
    const exit = await h.agent('exit_code');
    const retryPolicy = { maxAttempts: 3, initialBackoffMs: 60, maxBackoffMs: 1_000, retryOn: ['nonzero_exit' as const] };
    const [task] = await h.submit([newTask(exit, { args: ['1'], retryPolicy })]);
    await h.log.status(task!.id, 'FAILED');
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'RETRYING', 'RUNNING', 'RETRYING', 'RUNNING', 'FAILED']);
    expect(h.log.of(task!.id).map((e) => e.attempt)).toEqual([0, 1, 1, 2, 2, 3, 3]);
    const attempts = await h.store.tasks.attempts(task!.id);
    expect(attempts.map((a) => [a.n, a.outcome, a.exitCode])).toEqual([
      [1, 'exited', 1],
      [2, 'exited', 1],
      [3, 'exited', 1],
    ]);
    // With random ≈ 1 the backoff after attempt n is its ceiling: 60 ms, then 120 ms.
    for (const [i, ceiling] of [[1, 60], [2, 120]] as const) {
      const gap = attempts[i]!.startedAt.getTime() - attempts[i - 1]!.finishedAt.getTime();
      expect(gap).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });

  it('does not retry outcomes missing from retryOn', async () => {
    const exit = await h.agent('exit_code');
    const retryPolicy = { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 100, retryOn: ['timeout' as const] };
    const [task] = await h.submit([newTask(exit, { args: ['3'], retryPolicy })]);
    await h.log.status(task!.id, 'FAILED');
    expect((await h.store.tasks.attempts(task!.id)).map((a) => a.exitCode)).toEqual([3]);
  });

  it('ends a runaway guest with a timeout outcome (and retries timeouts when asked)', async () => {
    const loop = await h.agent('infinite_loop');
    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 100, retryOn: ['timeout' as const] };
    const [task] = await h.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 150 }, retryPolicy })]);
    await h.log.status(task!.id, 'FAILED');
    const attempts = await h.store.tasks.attempts(task!.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['timeout', 'timeout']);
    expect(h.log.of(task!.id).at(-1)).toMatchObject({ outcome: 'timeout', exitCode: null });
  });

  it('cancels a queued (delayed) task: CANCELLED, never run', async () => {
    const hello = await h.agent('hello');
    const [task] = await h.submit([newTask(hello, { runAt: new Date(Date.now() + 60_000) })]);
    const row = await h.executor.cancel(tenantId, task!.id);
    expect(row?.status).toBe('CANCELLED');
    await h.log.status(task!.id, 'CANCELLED');
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'CANCELLED']);
    expect(await h.store.tasks.attempts(task!.id)).toEqual([]);
    expect(await h.executor.cancel(tenantId, '00000000-0000-0000-0000-00000000beef')).toBeNull();
  });

  it('cancels a running task: pre-empted, attempt recorded as cancelled, status stays CANCELLED', async () => {
    const loop = await h.agent('infinite_loop');
    const [task] = await h.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 30_000 } })]);
    await h.log.status(task!.id, 'RUNNING');
    await waitFor('the loop to be in a worker', () => h.runtime.stats().busy > 0);
    const started = Date.now();
    await h.executor.cancel(tenantId, task!.id);
    await waitFor('the attempt to be recorded', async () => (await h.store.tasks.attempts(task!.id)).length === 1);
    expect(Date.now() - started).toBeLessThan(5_000);
    const [attempt] = await h.store.tasks.attempts(task!.id);
    expect(attempt).toMatchObject({ n: 1, outcome: 'cancelled' });
    expect((await h.store.tasks.get(tenantId, task!.id))?.status).toBe('CANCELLED');
    await h.log.status(task!.id, 'CANCELLED');
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'CANCELLED']);
    await waitFor('the run to stop', () => h.executor.running() === 0);
  });

  // The store skips a row another transaction holds (store.tasks.test.ts); deleteTasks tries such
  // ended tasks again for a moment, so a task cancelled while its run's attempt is still being
  // written is deleted, not reported as skipped.
  it.runIf(databaseUrl)('deleteMany waits out a short hold on an ended task (PostgreSQL)', async () => {
    const hello = await h.agent('hello');
    const [task] = await h.submit([newTask(hello, { runAt: new Date(Date.now() + 60_000) })]);
    await h.executor.cancel(tenantId, task!.id);
    const other = new pg.Client({ connectionString: databaseUrl, options: `-c search_path="${h.testStore.options.pgSchema}"` });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM task WHERE id = $1 FOR KEY SHARE', [task!.id]);
      const deleting = h.executor.deleteMany(tenantId, [task!.id]);
      await sleep(60);
      await other.query('COMMIT');
      expect(await deleting).toBe(1);
      expect(await h.store.tasks.get(tenantId, task!.id)).toBeNull();
    } finally {
      await other.end();
    }
  });

  it('holds a delayed task until its runAt', async () => {
    const hello = await h.agent('hello');
    const runAt = new Date(Date.now() + 400);
    const [task] = await h.submit([newTask(hello, { runAt })]);
    await h.log.status(task!.id, 'SUCCEEDED');
    const running = h.log.of(task!.id).find((e) => e.status === 'RUNNING')!;
    expect(running.at.getTime()).toBeGreaterThanOrEqual(runAt.getTime());
    const [attempt] = await h.store.tasks.attempts(task!.id);
    expect(attempt!.startedAt.getTime()).toBeGreaterThanOrEqual(runAt.getTime());
    // Armed timer, not the slow poll: it starts well before a poll period or two passes.
    expect(attempt!.startedAt.getTime() - runAt.getTime()).toBeLessThan(450);
  });

  it('writes output files as one bundle and reads input files from one', async () => {
    const writer = await h.agent('file_writer');
    const [w] = await h.submit([newTask(writer)]);
    await h.log.status(w!.id, 'SUCCEEDED');
    const [attempt] = await h.store.tasks.attempts(w!.id);
    expect(attempt!.files).toEqual([{ path: '/output.txt', size: 21 }]);
    const bundle = await h.store.blobs.get(attempt!.filesDigest!);
    const files = decodeFiles(bundle!);
    expect(files.map((f) => [f.path, text(f.bytes)])).toEqual([['/output.txt', 'written by the guest\n']]);

    const reader = await h.agent('file_reader');
    const filesDigest = await h.store.blobs.put(encodeFiles([{ path: 'input.txt', bytes: new TextEncoder().encode('input!') }]));
    const [r] = await h.submit([newTask(reader, { filesDigest })]);
    await h.log.status(r!.id, 'SUCCEEDED');
    expect(text((await h.store.tasks.attempts(r!.id))[0]!.stdout)).toBe('input!');
  });

  it('streams live output on TASK_OUTPUT:<taskId>', async () => {
    const ticker = await h.agent('ticker');
    // Delayed a little so the subscription exists before the first chunk.
    const [task] = await h.submit([newTask(ticker, { runAt: new Date(Date.now() + 150) })]);
    const chunks: TaskOutputEvent[] = [];
    const iterator = h.bus.pubsub.subscribe('TASK_OUTPUT', task!.id)[Symbol.asyncIterator]();
    const reading = (async () => {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        chunks.push(next.value);
      }
    })();
    await h.log.status(task!.id, 'SUCCEEDED');
    await sleep(50); // chunks published just before the end still arrive: read them before closing
    await iterator.return?.();
    await reading;
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.taskId === task!.id && c.attempt === 1 && c.stream === 'stdout')).toBe(true);
    expect(chunks.map((c) => text(c.data)).join('')).toBe('tick\n'.repeat(5));
  });

  it('retry() re-queues a FAILED task with a fresh budget; attempts keep counting', async () => {
    const exit = await h.agent('exit_code');
    const [task] = await h.submit([newTask(exit, { args: ['2'] })]);
    await h.log.status(task!.id, 'FAILED');
    const row = await h.executor.retry(tenantId, task!.id);
    expect(row?.status).toBe('QUEUED');
    await h.log.until((es) => es.filter((e) => e.taskId === task!.id && e.status === 'FAILED').length === 2);
    expect(h.log.statuses(task!.id)).toEqual(['QUEUED', 'RUNNING', 'FAILED', 'QUEUED', 'RUNNING', 'FAILED']);
    expect((await h.store.tasks.attempts(task!.id)).map((a) => a.n)).toEqual([1, 2]);
  });

  it('an invalid module fails without retrying', async () => {
    const agent = await h.agent('not_command');
    const retryPolicy = { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 100, retryOn: ['host_error' as const, 'trap' as const] };
    const [task] = await h.submit([newTask(agent, { retryPolicy })]);
    await h.log.status(task!.id, 'FAILED');
    expect((await h.store.tasks.attempts(task!.id)).map((a) => a.outcome)).toEqual(['invalid_module']);
  });

  it('runs 1,000 tasks to a terminal state, each exactly once', async () => {
    const hello = await h.agent('hello');
    const exit = await h.agent('exit_code');
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const tasks = Array.from({ length: 100 }, (_, i) => (i % 10 === 9 ? newTask(exit, { args: ['5'] }) : newTask(hello)));
      ids.push(...(await h.submit(tasks)).map((t) => t.id));
    }
    const wanted = new Set(ids);
    const terminal = new Set<string>();
    await h.log.until((es) => {
      for (const e of es) if (wanted.has(e.taskId) && (e.status === 'SUCCEEDED' || e.status === 'FAILED')) terminal.add(e.taskId);
      return terminal.size === wanted.size;
    }, 60_000, '1,000 terminal tasks');
    const rows = await h.store.tasks.getMany(ids);
    expect(rows.filter((r) => r.status === 'SUCCEEDED')).toHaveLength(900);
    expect(rows.filter((r) => r.status === 'FAILED')).toHaveLength(100);
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    const running = h.log.events.filter((e) => wanted.has(e.taskId) && e.status === 'RUNNING');
    expect(running).toHaveLength(1_000);
  });

  it('answers cluster stats from the NODE_STATS summaries', async () => {
    const hello = await h.agent('hello');
    const tasks = await h.submit(Array.from({ length: 20 }, () => newTask(hello)));
    for (const t of tasks) await h.log.status(t.id, 'SUCCEEDED');
    // Each node publishes a summary once a second: wait for the ones covering these 20 ends.
    const stats = await waitFor('the summaries of 20 ends', () => {
      const stats = h.executor.stats();
      return stats.throughputSeries.reduce((s, n) => s + n, 0) >= 20 && stats;
    }, { timeoutMs: 10_000 });
    expect(stats.throughputSeries).toHaveLength(300);
    expect(stats.latencyP50Ms).toBeGreaterThan(0);
    expect(stats.latencyP99Ms!).toBeGreaterThanOrEqual(stats.latencyP50Ms!);
    expect(stats.workers).toBe(2);
    expect(h.executor.pool().workers).toBe(2);
  });
});

