/**
 * A result write that committed but whose answer was lost (the connection dropped after COMMIT,
 * as pg_terminate_backend mid-batch does): the finisher writes the batch again as "may be
 * written", and the store finds those results recorded already. Their ends were never published,
 * so the rewrite must publish them (and arm the retry of a RETRYING task), not take them for late
 * results of a task this node had lost. The lost answer is injected in a wrapper around the store:
 * the real finish runs, then the call fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeExecutor } from '../../src/executor/executor.js';
import type { Executor, Logger } from '../../src/executor/types.js';
import type { AttemptResult, Store } from '../../src/store/types.js';
import { makeHarness, newTask, testLogger, type Harness } from '../helpers/executor.js';
import { sleep } from '../helpers/wait.js';

const open: { h: Harness; executor: Executor }[] = [];
afterEach(async () => {
  for (const { h, executor } of open.splice(0)) {
    await executor.stop(1_000);
    await h.close();
  }
});

const STALE_WARNING = 'executor: a result came after this node had lost the task; kept as a stale attempt, the task unchanged';

/** An executor over the harness's store whose first finish commits, then fails. */
async function losingAnswers() {
  const h = await makeHarness({}, { start: false });
  const plain = h.store;
  let lose = true;
  const finishes: { taskIds: string[]; mayBeWritten: boolean }[] = [];
  const store: Store = {
    ...plain,
    tasks: {
      ...plain.tasks,
      async finish(results: AttemptResult[], opts) {
        finishes.push({ taskIds: results.map((r) => r.taskId), mayBeWritten: opts?.mayBeWritten === true });
        const rows = await plain.tasks.finish(results, opts);
        if (lose) {
          lose = false;
          throw new Error('Connection terminated unexpectedly (after COMMIT: the answer was lost)');
        }
        return rows;
      },
    },
  };
  const warnings: string[] = [];
  const logger: Logger = { ...testLogger, warn: (obj, msg) => (warnings.push(msg ?? ''), testLogger.warn(obj, msg)) };
  // No claim-on-insert (its rows are written by the insert, not the finisher); no poll to hide a
  // missing retry timer behind.
  const executor = makeExecutor({ store, runtime: h.runtime, bus: h.bus, node: 'node-l', leaseMs: 5_000, pollMs: 60_000, claimOnInsert: false, logger });
  await executor.start();
  open.push({ h, executor });
  return { h, executor, finishes, warnings };
}

describe('a result write whose answer was lost', () => {
  it('publishes the end once the rewrite finds it recorded, without a stale-result warning', async () => {
    const { h, executor, finishes, warnings } = await losingAnswers();
    const hello = await h.agent('hello');
    const [task] = await executor.submit([newTask(hello)]);
    const id = task!.task.id;
    await h.log.status(id, 'SUCCEEDED');
    // Written twice: the lost answer, then the rewrite.
    expect(finishes.filter((f) => f.taskIds.includes(id)).map((f) => f.mayBeWritten)).toEqual([false, true]);
    await sleep(200); // and no second end is announced
    expect(h.log.statuses(id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(warnings).not.toContain(STALE_WARNING);
    expect((await h.store.tasks.attempts(id)).map((a) => [a.n, a.stale])).toEqual([[1, false]]);
  });

  it('publishes a RETRYING end and arms its retry', async () => {
    const { h, executor, finishes, warnings } = await losingAnswers();
    const exit = await h.agent('exit_code');
    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 50, retryOn: ['nonzero_exit' as const] };
    const [task] = await executor.submit([newTask(exit, { args: ['3'], retryPolicy })]);
    const id = task!.task.id;
    // The second attempt runs only if the rewrite armed the retry's timer (the poll is a minute away).
    await h.log.status(id, 'FAILED');
    expect(finishes.map((f) => f.mayBeWritten)).toEqual([false, true, false]);
    expect(h.log.statuses(id)).toEqual(['QUEUED', 'RUNNING', 'RETRYING', 'RUNNING', 'FAILED']);
    expect(warnings).not.toContain(STALE_WARNING);
    expect((await h.store.tasks.attempts(id)).map((a) => [a.n, a.stale])).toEqual([[1, false], [2, false]]);
  });
});
