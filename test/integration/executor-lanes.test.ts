/**
 * The executor's reads go in its own lane (store/db.ts), never behind the API's. A node's first run
 * of an agent reads the agent's name (argv[0]); the replay after a pub/sub outage reads the ends
 * of the gap. Through the API lane they waited for every API statement queued before them (on
 * PostgreSQL: behind a busy API pool, under its statement timeout). Here the API lane has a
 * backlog of reads queued just before: the executor's work must not wait for it to drain. PGlite, or PostgreSQL with DATABASE_URL (one API connection,
 * so the backlog is served one statement at a time).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExecutor } from '../../src/executor/executor.js';
import { finishedEvents } from '../../src/executor/replay.js';
import type { EventBus, Executor } from '../../src/executor/types.js';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { loadWat } from '../helpers/fixtures.js';
import { makeTestStore, type TestStore } from '../helpers/store.js';
import { makeEventLog, makeTestBus, newTask, registerAgent, tenantId, testLogger, type EventLog } from '../helpers/executor.js';

let testStore: TestStore;
let runtime: Runtime;
let bus: EventBus;
let log: EventLog;
let executor: Executor;
beforeAll(async () => {
  testStore = await makeTestStore({ poolSize: 1 });
  runtime = makeRuntime({ workers: 1 });
  bus = makeTestBus();
  log = makeEventLog(bus);
  executor = makeExecutor({ store: testStore.store, runtime, bus, node: 'node-lanes', leaseMs: 5_000, logger: testLogger });
  await executor.start();
});
afterAll(async () => {
  await executor?.stop(1_000);
  await runtime?.close();
  log?.off();
  await bus?.close();
  await testStore?.cleanup();
});

/**
 * API reads queued ahead of the submit: a second or more of work for the API lane, one at a time,
 * so that even on a loaded host the run (worker, compile, result write) ends well before the
 * backlog does. Through the API lane it would end after all of it.
 */
const BACKLOG = 2_000;
/** The share of the backlog served by then that still shows the run did not wait for it. */
const SERVED_AT_MOST = (BACKLOG * 3) / 4;

describe("the executor's lane", () => {
  it("a node's first run of an agent does not wait behind the API's backlog", { timeout: 60_000 }, async () => {
    const { store } = testStore;
    // An agent of this test's own: whatever ran before, this node has not run it yet.
    const hello = await registerAgent(store, 'hello-first-run', await loadWat('hello'));

    let served = 0;
    const backlog = Array.from({ length: BACKLOG }, () => store.tasks.count(tenantId, {}, 10_000).then(() => served++));
    const [task] = await executor.submit([newTask(hello)]);
    const id = task!.task.id;
    await log.status(id, 'SUCCEEDED');
    const servedWhenDone = served;
    await Promise.all(backlog);
    // Through the API lane, the agent read came after the whole backlog (it is served in order).
    console.log(`API reads served when the task ended: ${servedWhenDone} of ${BACKLOG}`);
    expect(servedWhenDone).toBeLessThan(SERVED_AT_MOST);
  });

  it('the replay after a pub/sub outage reads the ends in its lane, not behind the API backlog', { timeout: 60_000 }, async () => {
    const { store } = testStore;
    const hello = await registerAgent(store, 'hello-replay', await loadWat('hello'));
    const [task] = await executor.submit([newTask(hello)]);
    await log.status(task!.task.id, 'SUCCEEDED');
    let served = 0;
    const backlog = Array.from({ length: BACKLOG }, () => store.tasks.count(tenantId, {}, 10_000).then(() => served++));
    const events: string[] = [];
    for await (const page of finishedEvents(store.tasks)(new Date(Date.now() - 600_000), new Date(Date.now() + 60_000))) {
      events.push(...page.map((e) => e.taskId));
    }
    const servedWhenRead = served;
    await Promise.all(backlog);
    expect(events).toContain(task!.task.id);
    console.log(`API reads served when the replay had read the gap: ${servedWhenRead} of ${BACKLOG}`);
    expect(servedWhenRead).toBeLessThan(SERVED_AT_MOST);
  });
});
