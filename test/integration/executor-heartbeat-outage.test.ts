/**
 * Heartbeats while the database refuses them. A run that has begun and is not marked RUNNING yet
 * is past its marking time at once, so a failed heartbeat must not be retried on the next turn:
 * that was hundreds of failed queries (and warnings) a second for as long as the outage lasted.
 * The refusal is injected in a wrapper around the store's heartbeat; everything else is real.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeExecutor } from '../../src/executor/executor.js';
import type { Executor } from '../../src/executor/types.js';
import type { Store } from '../../src/store/types.js';
import { makeHarness, newTask, testLogger, type Harness } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

let h: Harness | undefined;
let executor: Executor | undefined;
afterAll(async () => {
  await executor?.stop(1_000);
  await h?.close();
});

describe('heartbeats while the database refuses them', () => {
  it('back off instead of retrying at once, and mark the run once the database answers', { timeout: 60_000 }, async () => {
    h = await makeHarness({}, { start: false });
    const plain = h.store;
    let refuse = true;
    let calls = 0;
    const store: Store = {
      ...plain,
      tasks: {
        ...plain.tasks,
        async heartbeat(...args) {
          calls++;
          if (refuse) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          return plain.tasks.heartbeat(...args);
        },
      },
    };
    // No claim-on-insert: its row could be born RUNNING, with nothing left to mark.
    executor = makeExecutor({
      store, runtime: h.runtime, bus: h.bus, node: 'node-h', leaseMs: 10_000, heartbeatMs: 1_000, claimOnInsert: false,
      logger: { ...testLogger, warn() {} }, // a warning per failed try: the count is the evidence
    });
    await executor.start();
    const spin = await h.agent('spin_for_ms');
    const [task] = await executor.submit([newTask(spin, { args: ['4000'] })]);
    const id = task!.task.id;

    // The run has begun and its first marking failed: count the tries over the next second.
    await waitFor('a heartbeat', () => calls > 0, { everyMs: 5 });
    // A node at work wakes its event loop all the time (results, requests, sockets); an idle test
    // process would sleep in its poll phase and hide a retry loop (the marking timer is unref'd).
    const busy = setInterval(() => {}, 1);
    const before = calls;
    await sleep(1_000);
    const tries = calls - before;
    clearInterval(busy);
    console.log(`heartbeat tries in 1 s while refused: ${tries}`); // 437 before the backoff, 3 after
    // Backoff 100, 200, 400, 800 ms (at most heartbeatMs), plus the periodic heartbeat: a handful.
    expect(tries).toBeLessThanOrEqual(6);

    // The database answers again: the run is marked (by the backoff's next try or the next full heartbeat).
    refuse = false;
    await h.log.status(id, 'RUNNING', 10_000);
    await h.log.status(id, 'SUCCEEDED');
    expect(h.log.statuses(id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
  });
});
