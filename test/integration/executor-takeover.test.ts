/**
 * A node that stalls loses its lease; another node takes the task over. The stalled node stops its
 * run at its next heartbeat, and its late result is kept as a stale attempt beside the recovered
 * one, logged at warn, without touching the task. Two executors on one database (with
 * DATABASE_URL each has its own store, i.e. its own connection pool, as separate nodes would).
 * The stall is injected by holding node A's heartbeats back in a wrapper around its store.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeExecutor } from '../../src/executor/executor.js';
import type { EventBus, Executor, Logger } from '../../src/executor/types.js';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { makeStore, type Store } from '../../src/store/index.js';
import { loadWat } from '../helpers/fixtures.js';
import { databaseUrl, makeTestStore, type TestStore } from '../helpers/store.js';
import { makeEventLog, makeTestBus, newTask, registerAgent, tenantId, testLogger, type EventLog } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

interface Node {
  store: Store;
  runtime: Runtime;
  executor: Executor;
  warnings: { obj: Record<string, unknown>; msg: string }[];
}

let testStore: TestStore | undefined;
let bus: EventBus | undefined;
let log: EventLog | undefined;
const nodes: Node[] = [];

afterAll(async () => {
  for (const n of nodes) {
    await n.executor.stop(1_000);
    await n.runtime.close();
  }
  for (const n of nodes.slice(1)) if (databaseUrl) await n.store.close();
  log?.off();
  await bus?.close();
  await testStore?.cleanup();
});

/** Warnings kept for the test to read, and printed (evidence when it fails). */
function capturing(into: Node['warnings']): Logger {
  return { ...testLogger, warn: (obj, msg) => (into.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' }), testLogger.warn(obj, msg)) };
}

function makeNode(name: string, store: Store, opts: { pollMs: number }): Node {
  const runtime = makeRuntime({ workers: 1 });
  const warnings: Node['warnings'] = [];
  const executor = makeExecutor({
    store, runtime, bus: bus!, node: name, leaseMs: 1_500, heartbeatMs: 250, recoverMs: 200, pollMs: opts.pollMs, logger: capturing(warnings),
  });
  const node = { store, runtime, executor, warnings };
  nodes.push(node);
  return node;
}

describe('lease takeover', () => {
  it("stops the stalled node's run; its late result is a stale attempt, the task ends once, decided by the new holder", { timeout: 120_000 }, async () => {
    testStore = await makeTestStore();
    bus = makeTestBus();
    log = makeEventLog(bus);
    // Node A's heartbeats can be held back: a stalled event loop or a starved connection pool, as seen.
    let stall: { release(): void; released: Promise<void> } | null = null;
    const plain = testStore.store;
    const stallable: Store = {
      ...plain,
      tasks: {
        ...plain.tasks,
        async heartbeat(...args) {
          if (stall) await stall.released;
          return plain.tasks.heartbeat(...args);
        },
      },
    };
    // A claims nothing by polling: the retry after the takeover is B's to run.
    const a = makeNode('node-a', stallable, { pollMs: 60_000 });
    const b = makeNode('node-b', databaseUrl ? await makeStore(testStore.options) : plain, { pollMs: 200 });
    const spin = await registerAgent(plain, 'spin_for_ms', await loadWat('spin_for_ms'));
    await a.executor.start();

    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20, retryOn: ['host_error' as const] };
    const [submitted] = await a.executor.submit([newTask(spin, { args: ['5000'], retryPolicy })]);
    const id = submitted!.task.id;
    await log.status(id, 'RUNNING');
    expect(await plain.tasks.get(tenantId, id)).toMatchObject({ status: 'RUNNING', leaseOwner: 'node-a', attempts: 1 });
    await b.executor.start();

    let release!: () => void;
    stall = { release: () => release(), released: new Promise<void>((r) => (release = r)) };
    // A's lease runs out; B takes the task over, records attempt 1 as host_error and retries it.
    await log.status(id, 'RETRYING', 20_000);
    expect(b.warnings.some((w) => w.obj.taskId === id && w.obj.lostNode === 'node-a')).toBe(true);
    expect(a.executor.running()).toBe(1); // A's run goes on: A has not heard yet

    const unstalled = Date.now();
    stall.release();
    stall = null;
    // A's next heartbeat says the task is no longer A's: its run stops.
    await waitFor("A's run to stop", () => a.executor.running() === 0, { timeoutMs: 10_000, everyMs: 10 });
    expect(Date.now() - unstalled).toBeLessThan(3_000);
    expect(a.warnings.find((w) => w.obj.taskId === id && /no longer holds/.test(w.msg))?.obj).toMatchObject({ attempt: 1 });

    await log.status(id, 'SUCCEEDED', 30_000);
    await waitFor("A's stale result to be written", () => a.warnings.some((w) => w.obj.taskId === id && /stale attempt/.test(w.msg)), { timeoutMs: 10_000, everyMs: 10 });
    expect(a.warnings.find((w) => /stale attempt/.test(w.msg))!.obj).toMatchObject({ taskId: id, attempt: 1 });

    const attempts = await plain.tasks.attempts(id);
    expect(attempts.map((x) => [x.n, x.node, x.stale, x.outcome])).toEqual([
      [1, 'node-a', true, 'cancelled'],
      [1, 'node-b', false, 'host_error'],
      [2, 'node-b', false, 'exited'],
    ]);
    expect(attempts[0]!.error).toMatch(/no longer held the task/);
    expect(await plain.tasks.get(tenantId, id)).toMatchObject({ status: 'SUCCEEDED', attempts: 2, lastOutcome: 'exited', leaseOwner: null });
    // One terminal status, announced once; every change announced after the one before.
    await sleep(300); // no late event follows
    expect(log.statuses(id)).toEqual(['QUEUED', 'RUNNING', 'RETRYING', 'RUNNING', 'SUCCEEDED']);
  });
});
