/**
 * Running-task caps across nodes: three executors, each running one task at a time, on one
 * database (with DATABASE_URL each has its own store, i.e. its own connection pool, as separate
 * nodes would; on PGlite they share the one store). Together they could run three tasks of a
 * tenant at once; the caps (2 by default, 1 by one tenant's override) must hold across them, and
 * the cluster stays busy with the other tenant's work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEventBus } from '../../src/executor/events.js';
import { makeExecutor } from '../../src/executor/executor.js';
import type { EventBus, Executor } from '../../src/executor/types.js';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { makeStore, type Store, type TaskRow } from '../../src/store/index.js';
import { loadWat } from '../helpers/fixtures.js';
import { databaseUrl, makeTestStore, type TestStore } from '../helpers/store.js';
import { newTask, registerAgent, tenantId, testLogger, type Agent } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

interface Node {
  store: Store;
  runtime: Runtime;
  bus: EventBus;
  executor: Executor;
}

let testStore: TestStore;
const nodes: Node[] = [];
let ticker: Agent;
let other: string;

beforeAll(async () => {
  testStore = await makeTestStore();
  for (const name of ['node-a', 'node-b', 'node-c']) {
    const store = databaseUrl && nodes.length > 0 ? await makeStore(testStore.options) : testStore.store;
    const runtime = makeRuntime({ workers: 1 });
    const bus = makeEventBus();
    const executor = makeExecutor({ store, runtime, bus, node: name, concurrency: 1, runningTasksCap: 2, leaseMs: 5_000, pollMs: 200, logger: testLogger });
    nodes.push({ store, runtime, bus, executor });
  }
  ticker = await registerAgent(testStore.store, 'ticker', await loadWat('ticker')); // ~200 ms of busy work
  other = (await testStore.store.tenants.create('capped-to-one', { runningTasks: 1 })).id;
  for (const n of nodes) await n.executor.start();
});

afterAll(async () => {
  for (const n of nodes) {
    await n.executor.stop(1_000);
    await n.runtime.close();
    await n.bus.close();
    if (n.store !== testStore.store) await n.store.close();
  }
  await testStore?.cleanup();
});

/** The tenant's tasks held by a node: claimed (prefetched, still QUEUED) or RUNNING. What a cap counts. */
async function held(store: Store, tenant: string): Promise<number> {
  const { rows } = await store.tasks.list(tenant, { status: ['QUEUED', 'RETRYING', 'RUNNING'] }, 1_000);
  return rows.filter((r) => r.leaseOwner !== null).length;
}

/** Each tenant's highest count of held tasks (claimed or RUNNING), sampled from the database until stopped. */
function sampleRunning(store: Store, tenants: string[]) {
  const peaks = new Map(tenants.map((t) => [t, 0]));
  let on = true;
  const loop = (async () => {
    while (on) {
      for (const t of tenants) peaks.set(t, Math.max(peaks.get(t)!, await held(store, t)));
      await sleep(5); // sampling pace
    }
  })();
  return async () => {
    on = false;
    await loop;
    return peaks;
  };
}

/** The most attempts of these tasks under way at one instant (each lies inside its task's RUNNING time). */
async function peakOverlap(store: Store, tasks: TaskRow[]): Promise<number> {
  const attempts = (await Promise.all(tasks.map((t) => store.tasks.attempts(t.id)))).flat();
  const edges = attempts.flatMap((a) => [
    { at: a.startedAt.getTime(), d: 1 },
    { at: a.finishedAt.getTime(), d: -1 },
  ]);
  edges.sort((x, y) => x.at - y.at || x.d - y.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

describe('running-task caps on three nodes', () => {
  it('never pass the cap together: 2 by default, 1 by override; both reached, every task SUCCEEDED', { timeout: 120_000 }, async () => {
    const { store } = nodes[0]!;
    const stop = sampleRunning(store, [tenantId, other]);
    // Submitted through different nodes, so each node's wake-ups and claims take part.
    const mine = (await nodes[1]!.executor.submit(Array.from({ length: 12 }, () => newTask(ticker)))).map((r) => r.task);
    const theirs = (await nodes[2]!.executor.submit(Array.from({ length: 6 }, () => newTask(ticker, { tenantId: other })))).map((r) => r.task);
    const all = [...mine, ...theirs];
    const rows = await waitFor('every task to end', async () => {
      const rows = await store.tasks.getMany(all.map((t) => t.id));
      return rows.every((r) => r.status === 'SUCCEEDED' || r.status === 'FAILED') && rows;
    }, { timeoutMs: 100_000, everyMs: 50 });
    const peaks = await stop();
    expect(rows.map((r) => r.status)).toEqual(Array(all.length).fill('SUCCEEDED'));
    expect(peaks.get(tenantId)).toBeLessThanOrEqual(2);
    expect(peaks.get(other)).toBeLessThanOrEqual(1);
    expect(await peakOverlap(store, mine)).toBe(2);
    expect(await peakOverlap(store, theirs)).toBe(1);
    // One task at a time per node: reaching 2 took two nodes.
    const ran = new Set((await Promise.all(mine.map((t) => store.tasks.attempts(t.id)))).flat().map((a) => a.node));
    expect(ran.size).toBeGreaterThanOrEqual(2);
  });
});
