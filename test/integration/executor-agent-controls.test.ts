/**
 * Agent controls across nodes: three executors of two workers each on one database (with
 * DATABASE_URL each has its own store, i.e. its own connection pool and its own claim cache, as
 * separate nodes would; on PGlite they share the one store). Together they could run six tasks of
 * an agent at once; an agent limited to 2 must never have more held, cluster-wide, while an
 * unlimited agent's tasks spread wider; a paused agent's tasks are claimed by no node until resumed.
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
let limited: Agent;
let free: Agent;
let paused: Agent;

beforeAll(async () => {
  testStore = await makeTestStore();
  const ticker = await loadWat('ticker'); // ~200 ms of busy work
  limited = await registerAgent(testStore.store, 'limited', ticker);
  free = await registerAgent(testStore.store, 'free', ticker);
  paused = await registerAgent(testStore.store, 'paused', ticker);
  // Set before any node claims: each node's cache loads at its first claim.
  await testStore.store.agents.setControls(tenantId, limited.agentId, { concurrencyLimit: 2 });
  await testStore.store.agents.setControls(tenantId, paused.agentId, { paused: true });
  for (const name of ['node-a', 'node-b', 'node-c']) {
    const store = databaseUrl && nodes.length > 0 ? await makeStore(testStore.options) : testStore.store;
    const runtime = makeRuntime({ workers: 2 });
    const bus = makeEventBus();
    const executor = makeExecutor({ store, runtime, bus, node: name, concurrency: 2, leaseMs: 5_000, pollMs: 200, logger: testLogger });
    nodes.push({ store, runtime, bus, executor });
  }
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

/** Per agent, the highest count of its tasks held (claimed or RUNNING), sampled from the database until stopped. */
function sampleHeld(store: Store, agentIds: string[]) {
  const peaks = new Map(agentIds.map((a) => [a, 0]));
  let on = true;
  const loop = (async () => {
    while (on) {
      const { rows } = await store.tasks.list(tenantId, { status: ['QUEUED', 'RETRYING', 'RUNNING'] }, 1_000);
      for (const a of agentIds) peaks.set(a, Math.max(peaks.get(a)!, rows.filter((r) => r.agentId === a && r.leaseOwner !== null).length));
      await sleep(5); // sampling pace
    }
  })();
  return async () => {
    on = false;
    await loop;
    return peaks;
  };
}

/** The most attempts of these tasks under way at one instant. */
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

const ended = (store: Store, tasks: TaskRow[], what: string) =>
  waitFor(what, async () => {
    const rows = await store.tasks.getMany(tasks.map((t) => t.id));
    return rows.every((r) => r.status === 'SUCCEEDED' || r.status === 'FAILED') && rows;
  }, { timeoutMs: 100_000, everyMs: 50 });

describe('agent controls on three nodes', () => {
  it('a limit of 2 holds together, an unlimited agent spreads wider, a paused agent waits for resume', { timeout: 120_000 }, async () => {
    const { store } = nodes[0]!;
    const stop = sampleHeld(store, [limited.agentId, free.agentId, paused.agentId]);
    // Submitted through different nodes, so each node's claim-on-insert, wake-ups and claims take part.
    const waiting = (await nodes[2]!.executor.submit(Array.from({ length: 4 }, () => newTask(paused)))).map((r) => r.task);
    const mine = (await nodes[1]!.executor.submit(Array.from({ length: 12 }, () => newTask(limited)))).map((r) => r.task);
    const theirs = (await nodes[0]!.executor.submit(Array.from({ length: 12 }, () => newTask(free)))).map((r) => r.task);
    const rows = await ended(store, [...mine, ...theirs], 'the limited and free tasks to end');
    expect(rows.map((r) => r.status)).toEqual(Array(24).fill('SUCCEEDED'));
    // Meanwhile, the paused agent's tasks were claimed by no node.
    const still = await store.tasks.getMany(waiting.map((t) => t.id));
    expect(still.map((r) => [r.status, r.attempts, r.leaseOwner])).toEqual(Array(4).fill(['QUEUED', 0, null]));

    await store.agents.setControls(tenantId, paused.agentId, { paused: false });
    await store.notifyQueued();
    const resumed = await ended(store, waiting, 'the resumed tasks to end');
    const peaks = await stop();
    expect(resumed.map((r) => r.status)).toEqual(Array(4).fill('SUCCEEDED'));
    expect(peaks.get(limited.agentId)).toBeLessThanOrEqual(2);
    expect(await peakOverlap(store, mine)).toBe(2);
    expect(await peakOverlap(store, theirs)).toBeGreaterThan(2);
    // Two at a time on nodes of two workers: reaching 2 may take one node, but every node may take part.
    const ran = new Set((await Promise.all(theirs.map((t) => store.tasks.attempts(t.id)))).flat().map((a) => a.node));
    expect(ran.size).toBeGreaterThanOrEqual(2);
  });
});
