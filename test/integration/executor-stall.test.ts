/**
 * The executor's periodic reads while the database hangs. The delayed-task probe (every pollMs) and
 * lease recovery (every recoverMs) each keep at most one statement in flight: timers that fire
 * while one hangs share it, so a hang does not fill the executor's lane with copies that all run
 * ahead of claims and heartbeats when the database answers again. The hang is injected in a wrapper
 * around the store (those two reads wait for the test to let them go); everything else is real.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeExecutor } from '../../src/executor/executor.js';
import type { Executor } from '../../src/executor/types.js';
import type { Store } from '../../src/store/types.js';
import { makeHarness, testLogger, type Harness } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

let h: Harness | undefined;
let executor: Executor | undefined;
let release: () => void = () => {};
afterAll(async () => {
  release();
  await executor?.stop(1_000);
  await h?.close();
});

describe('periodic reads while the database hangs', () => {
  it('keep one statement in flight each, however often their timers fire', { timeout: 60_000 }, async () => {
    h = await makeHarness({}, { start: false });
    const plain = h.store;
    let hang: Promise<void> | null = null;
    const calls = { nextRunAt: 0, reclaimExpired: 0 };
    const store: Store = {
      ...plain,
      tasks: {
        ...plain.tasks,
        async nextRunAt() {
          calls.nextRunAt++;
          if (hang) await hang;
          return plain.tasks.nextRunAt();
        },
        async reclaimExpired(...args) {
          calls.reclaimExpired++;
          if (hang) await hang;
          return plain.tasks.reclaimExpired(...args);
        },
      },
    };
    executor = makeExecutor({ store, runtime: h.runtime, bus: h.bus, node: 'node-s', leaseMs: 5_000, pollMs: 50, recoverMs: 100, logger: testLogger });
    await executor.start();
    hang = new Promise((resolve) => (release = resolve));
    const before = { ...calls };
    await sleep(1_000); // 20 polls and 10 recoveries due meanwhile
    const during = { nextRunAt: calls.nextRunAt - before.nextRunAt, reclaimExpired: calls.reclaimExpired - before.reclaimExpired };
    expect(during).toEqual({ nextRunAt: 1, reclaimExpired: 1 });
    // The database answers again: the reads go on at their pace.
    release();
    hang = null;
    await waitFor('the reads to resume', () => calls.nextRunAt >= before.nextRunAt + 3 && calls.reclaimExpired >= before.reclaimExpired + 3, { everyMs: 10 });
  });
});
