// totalCount and stats stay bounded: exact up to COUNT_EXACT_MAX (here 20), past it the planner's
// estimate flagged as such and never below the cap + 1; the count runs only when totalCount or
// totalCountExact is selected (once for both), and paging never needs it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';

const CAP = 20;
const LATER = () => new Date(Date.now() + 3_600_000).toISOString();

let s: TestServer;
/** store.tasks.count calls so far. */
let counts = 0;

const spied = (store: Store): Store => ({
  ...store,
  tasks: {
    ...store.tasks,
    count(...args) {
      counts++;
      return store.tasks.count(...args);
    },
  },
});

beforeAll(async () => {
  s = await startTestServer({ COUNT_EXACT_MAX: String(CAP) }, { wrapStore: spied });
});
afterAll(() => s?.close());

async function agent(): Promise<string> {
  const name = `count-${randomUUID().slice(0, 8)}`;
  await s.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, {
    input: { name, wasmBase64: toBase64(await loadWat('hello')) },
  });
  return name;
}

/** `n` tasks of the agent that wait an hour in QUEUED. */
async function submit(name: string, n: number): Promise<void> {
  const inputs = Array.from({ length: n }, () => ({ agent: name, runAt: LATER() }));
  await s.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, { inputs });
}

const total = async (filter: Record<string, unknown>) =>
  (await s.gqlOk(`query ($filter: TaskFilter) { tasks(filter: $filter, first: 1) { totalCount totalCountExact } }`, { filter })).tasks as {
    totalCount: number;
    totalCountExact: boolean;
  };

describe('bounded counts', () => {
  it('totalCount is exact below and at the cap, an estimate of at least cap + 1 beyond it', async () => {
    const name = await agent();
    await submit(name, CAP - 1);
    expect(await total({ agent: name })).toEqual({ totalCount: CAP - 1, totalCountExact: true });
    await submit(name, 1);
    expect(await total({ agent: name })).toEqual({ totalCount: CAP, totalCountExact: true });
    await submit(name, 1);
    const over = await total({ agent: name });
    expect(over.totalCountExact).toBe(false);
    expect(over.totalCount).toBeGreaterThanOrEqual(CAP + 1);
    // A filter that matches none stays exact.
    expect(await total({ agent: name, status: ['SUCCEEDED'] })).toEqual({ totalCount: 0, totalCountExact: true });
    expect(await total({ agent: name, status: ['QUEUED', 'FAILED'] })).toMatchObject({ totalCountExact: false });
  });

  it('counts only when totalCount or totalCountExact is selected, once for both; pages need no count', async () => {
    const name = await agent();
    await submit(name, CAP + 5);
    const before = counts;
    const seen = new Set<string>();
    let after: string | null = null;
    for (;;) {
      const page: { tasks: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: { id: string } }[] } } = await s.gqlOk(
        `query ($filter: TaskFilter, $after: String) { tasks(filter: $filter, first: 10, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
        { filter: { agent: name }, after },
      );
      for (const e of page.tasks.edges) seen.add(e.node.id);
      if (!page.tasks.pageInfo.hasNextPage) break;
      after = page.tasks.pageInfo.endCursor;
    }
    expect(seen.size).toBe(CAP + 5);
    expect(counts).toBe(before);

    await s.gqlOk(`query ($filter: TaskFilter) { tasks(filter: $filter) { totalCount totalCountExact } }`, { filter: { agent: name } });
    expect(counts).toBe(before + 1);
    await s.gqlOk(`query ($filter: TaskFilter) { tasks(filter: $filter) { totalCountExact } }`, { filter: { agent: name } });
    expect(counts).toBe(before + 2);
  });

  it('stats counts are exact up to the cap and flagged estimates past it', async () => {
    const name = await agent();
    await submit(name, CAP + 1);
    const { stats } = await s.gqlOk(`{ stats { byStatus { status count exact } queueDepth } }`);
    const byStatus = new Map<string, { count: number; exact: boolean }>(stats.byStatus.map((b: { status: string; count: number; exact: boolean }) => [b.status, b]));
    // This server's tenant has at least CAP + 1 QUEUED tasks now (earlier tests' too).
    expect(byStatus.get('QUEUED')!.exact).toBe(false);
    expect(byStatus.get('QUEUED')!.count).toBeGreaterThanOrEqual(CAP + 1);
    expect(byStatus.get('FAILED')).toMatchObject({ count: 0, exact: true });
    expect(stats.queueDepth).toBeGreaterThanOrEqual(CAP + 1);
  });
});
