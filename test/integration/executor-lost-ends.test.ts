/**
 * A node that dies after writing an end and before publishing it (kill -9 between the two) must not
 * leave subscribers waiting forever: the node that takes over its leases replays the ends it wrote
 * last. Set up by hand: "dead-node" claims two tasks, writes the end of one without publishing it,
 * and stops heartbeating; a live executor then recovers the other and replays the written end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { attemptResult } from '../../src/executor/results.js';
import { makeHarness, newTask, type Harness } from '../helpers/executor.js';
import { sleep } from '../helpers/wait.js';
import { makeRunOutcome } from '../helpers/attempts.js';

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

const exited = makeRunOutcome({ stdout: new TextEncoder().encode('done\n'), memoryPeakBytes: 65536 });

describe('a node that died between writing an end and publishing it', () => {
  it('has its last ends replayed by the node that takes over its leases', async () => {
    const h = await makeHarness({ recoverMs: 100 }, { start: false });
    open.push(h);
    const hello = await h.agent('hello');
    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 50, retryOn: ['host_error' as const] };
    const [written, held] = await h.submit([newTask(hello, { retryPolicy }), newTask(hello, { retryPolicy })]);
    const claimed = await h.store.tasks.claim('dead-node', 10, 300);
    expect(claimed.map((t) => t.id).sort()).toEqual([written!.id, held!.id].sort());
    // The dead node's last act: the end of `written` reaches the database, its event never leaves.
    const task = claimed.find((t) => t.id === written!.id)!;
    const now = new Date();
    await h.store.tasks.finish([attemptResult(exited, { task, n: task.attempts + 1, node: 'dead-node', startedAt: now, finishedAt: now, files: { meta: [], digest: null }, random: Math.random })]);
    expect(await h.store.tasks.get(task.tenantId, task.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    await sleep(50); // the dead node published nothing
    expect(h.log.statuses(written!.id)).toEqual(['QUEUED']);

    // Leases of 300 ms: the live executor takes `held` over a moment after it starts.
    await h.executor.start();
    await h.log.status(held!.id, 'SUCCEEDED');
    await h.log.status(written!.id, 'SUCCEEDED', 5_000);
    expect(h.log.of(written!.id).filter((e) => e.status === 'SUCCEEDED')).toEqual([expect.objectContaining({ attempt: 1, outcome: 'exited', exitCode: 0 })]);
  });

  it('replays a lost node once, however many of its leases are taken over, and when', async () => {
    const h = await makeHarness({ recoverMs: 100 }, { start: false });
    open.push(h);
    const hello = await h.agent('hello');
    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 50, retryOn: ['host_error' as const] };
    const tasks = await h.submit([newTask(hello, { retryPolicy }), newTask(hello, { retryPolicy }), newTask(hello, { retryPolicy })]);
    // One at a time (claim order is creation order): the end, then leases expiring at two moments.
    const [ended] = await h.store.tasks.claim('dead-node', 1, 300);
    const [early] = await h.store.tasks.claim('dead-node', 1, 300);
    const [late] = await h.store.tasks.claim('dead-node', 1, 2_000);
    const now = new Date();
    await h.store.tasks.finish([attemptResult(exited, { task: ended!, n: ended!.attempts + 1, node: 'dead-node', startedAt: now, finishedAt: now, files: { meta: [], digest: null }, random: Math.random })]);
    await h.executor.start();
    await h.log.status(early!.id, 'SUCCEEDED');
    await h.log.status(ended!.id, 'SUCCEEDED', 5_000);
    expect(h.log.statuses(late!.id)).toEqual(['QUEUED']); // its lease has not run out yet
    await h.log.status(late!.id, 'SUCCEEDED');
    await sleep(300); // and no second SUCCEEDED comes for `ended`
    expect(h.log.of(ended!.id).filter((e) => e.status === 'SUCCEEDED')).toHaveLength(1);
    expect(tasks.map((t) => t.id)).toEqual([ended!.id, early!.id, late!.id]);
  });
});
