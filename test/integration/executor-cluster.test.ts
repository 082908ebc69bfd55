/**
 * Two executor nodes on one database: with DATABASE_URL each node has its own store (connection
 * pool) on the same schema; on PGlite they share the one store. With REDIS_URL each node has its
 * own Redis-backed bus, so events, cancels and stats cross nodes through Redis; without it they
 * share one in-process bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEventBus } from '../../src/executor/events.js';
import { makeExecutor } from '../../src/executor/executor.js';
import type { EventBus, Executor } from '../../src/executor/types.js';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { makeStore, type Store } from '../../src/store/index.js';
import { databaseUrl, makeTestStore, type TestStore } from '../helpers/store.js';
import { loadWat } from '../helpers/fixtures.js';
import { makeEventLog, makeTestBus, newTask, redisUrl, registerAgent, tenantId, testLogger, type Agent, type EventLog } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

interface Node {
  name: string;
  store: Store;
  runtime: Runtime;
  bus: EventBus;
  log: EventLog;
  executor: Executor;
}

let testStore: TestStore;
let a: Node;
let b: Node;
let hello: Agent;
let loop: Agent;
const sharedBus = redisUrl ? null : makeEventBus();
const prefix = `test-cluster-${process.pid}-${Date.now()}:`;

async function makeNode(name: string, store: Store): Promise<Node> {
  const runtime = makeRuntime({ workers: 1 });
  const bus = sharedBus ?? makeTestBus(prefix);
  const log = makeEventLog(bus);
  const executor = makeExecutor({ store, runtime, bus, node: name, leaseMs: 5_000, pollMs: 500, logger: testLogger });
  await executor.start();
  return { name, store, runtime, bus, log, executor };
}

beforeAll(async () => {
  testStore = await makeTestStore();
  const storeB = databaseUrl ? await makeStore(testStore.options) : testStore.store;
  a = await makeNode('node-a', testStore.store);
  b = await makeNode('node-b', storeB);
  hello = await registerAgent(a.store, 'hello', await loadWat('hello'));
  loop = await registerAgent(a.store, 'infinite_loop', await loadWat('infinite_loop'));
  if (redisUrl) await sleep(200); // let both Redis subscriptions settle
});

afterAll(async () => {
  for (const n of [a, b]) {
    if (!n) continue;
    await n.executor.stop(1_000);
    n.log.off();
    await n.runtime.close();
    if (n.bus !== sharedBus) await n.bus.close();
    if (n.store !== testStore.store) await n.store.close();
  }
  await testStore?.cleanup();
});

describe('two executor nodes on one database', () => {
  it('never run a task twice, and both take work', async () => {
    const submitted: string[] = [];
    for (let i = 0; i < 6; i++) {
      const via = i % 2 === 0 ? a : b;
      const rows = await via.executor.submit(Array.from({ length: 100 }, () => newTask(hello)));
      submitted.push(...rows.map((r) => r.task.id));
    }
    const wanted = new Set(submitted);
    const done = new Set<string>();
    await a.log.until((es) => {
      for (const e of es) if (e.status === 'SUCCEEDED' && wanted.has(e.taskId)) done.add(e.taskId);
      return done.size === wanted.size;
    }, 50_000, '600 tasks to succeed');
    const rows = await a.store.tasks.getMany(submitted);
    expect(rows.every((r) => r.status === 'SUCCEEDED' && r.attempts === 1)).toBe(true);
    // Exactly one RUNNING event per task, whichever node published it.
    const running = a.log.events.filter((e) => e.status === 'RUNNING' && wanted.has(e.taskId));
    expect(new Set(running.map((e) => e.taskId)).size).toBe(600);
    expect(running).toHaveLength(600);
    // Node A's subscribers saw every task, including those node B ran.
    expect(b.log.events.filter((e) => e.status === 'SUCCEEDED' && wanted.has(e.taskId))).toHaveLength(600);
    const perNode = new Map<string, number>();
    for (const id of submitted.filter((_, i) => i % 20 === 0)) {
      const [attempt] = await a.store.tasks.attempts(id);
      perNode.set(attempt!.node, (perNode.get(attempt!.node) ?? 0) + 1);
    }
    expect([...perNode.keys()].every((n) => n === 'node-a' || n === 'node-b')).toBe(true);
  });

  it('a cancel on one node pre-empts the run on the other', async () => {
    const [submitted] = await a.executor.submit([newTask(loop, { limits: { ...newTask(loop).limits, timeoutMs: 30_000 } })]);
    const task = submitted!.task;
    await a.log.status(task.id, 'RUNNING');
    const owner = (await a.store.tasks.get(tenantId, task.id))!.leaseOwner!;
    const other = owner === 'node-a' ? b : a;
    const runner = owner === 'node-a' ? a : b;
    expect(runner.executor.running()).toBe(1);
    await other.executor.cancel(tenantId, task.id);
    await waitFor('the cancelled attempt', async () => (await a.store.tasks.attempts(task.id)).length > 0, { timeoutMs: 10_000 });
    const [attempt] = await a.store.tasks.attempts(task.id);
    expect(attempt).toMatchObject({ n: 1, outcome: 'cancelled', node: owner });
    expect((await a.store.tasks.get(tenantId, task.id))?.status).toBe('CANCELLED');
    expect(runner.executor.running()).toBe(0);
  });

  it('each node answers stats for the whole cluster', async () => {
    const submitted = [...(await a.executor.submit(Array.from({ length: 10 }, () => newTask(hello)))), ...(await b.executor.submit(Array.from({ length: 10 }, () => newTask(hello))))];
    for (const { task } of submitted) await a.log.status(task.id, 'SUCCEEDED');
    // Each node publishes a summary once a second; both hear both.
    const ends = (n: typeof a) => n.executor.stats().throughputSeries.reduce((s, c) => s + c, 0);
    await waitFor('both nodes to count the 20 ends', () => ends(a) >= 20 && ends(b) >= 20, { timeoutMs: 10_000 });
    for (const n of [a, b]) expect(n.executor.stats().workers).toBe(2);
  });
});
