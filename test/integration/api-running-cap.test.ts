// QUOTA_RUNNING_TASKS against a real server: the server default holds a tenant at 2 tasks held by
// nodes (claimed or RUNNING: never 3, exactly 2 reached, every task succeeds), a tenant's override
// tightens or lifts it, a tenant at its cap does not hold up another's work even at a lower
// priority, and retries of a capped tenant still run to their end.
//
// Measured two ways, both without false alarms: the held tasks sampled from the database while the
// tasks run, and from the attempts afterwards (an attempt's [startedAt, finishedAt] lies inside the
// time its task was held, so attempts overlapping means tasks held together).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestClient, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const SUBMIT_MANY = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`;
const TASKS = `{ a: tasks(first: 100) { edges { node { id status attempts attemptList { startedAt finishedAt } } } } }`;

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ QUOTA_RUNNING_TASKS: '2' });
});
afterAll(async () => {
  await s?.close();
});

let tenants = 0;
/** A tenant with a submitter key and the agents `ticker` (~200 ms of busy work) and `exit_code`. */
async function tenant(quotas?: Record<string, number | null>): Promise<{ id: string; client: TestClient }> {
  const { createTenant } = await s.gqlOk(`mutation ($n: String!, $q: TenantQuotasInput) { createTenant(name: $n, quotas: $q) { id } }`, {
    n: `running-cap-${++tenants}`,
    q: quotas ?? null,
  });
  const { createApiKey } = await s.gqlOk(`mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, {
    i: { name: 'submitter', role: 'submitter', tenantId: createTenant.id },
  });
  const client = s.as(createApiKey.secret);
  for (const name of ['ticker', 'exit_code']) {
    await client.gqlOk(`mutation ($i: RegisterAgentInput!) { registerAgent(input: $i) { id } }`, { i: { name, wasmBase64: toBase64(await loadWat(name)) } });
  }
  return { id: createTenant.id, client };
}

/**
 * Samples the tenant's tasks held by a node (claimed, i.e. prefetched and still QUEUED, or RUNNING:
 * what the cap counts) in the database until stopped; returns the highest count seen.
 */
function sampleRunning(tenantId: string) {
  let peak = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      const { rows } = await s.spindle.store.tasks.list(tenantId, { status: ['QUEUED', 'RETRYING', 'RUNNING'] }, 1_000);
      peak = Math.max(peak, rows.filter((r) => r.leaseOwner !== null).length);
      await sleep(5); // sampling pace
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      return peak;
    },
  };
}

interface TaskView {
  id: string;
  status: string;
  attempts: number;
  attemptList: { startedAt: string; finishedAt: string }[];
}

async function tasksOf(client: TestClient): Promise<TaskView[]> {
  return (await client.gqlOk(TASKS)).a.edges.map((e: { node: TaskView }) => e.node);
}

/** The most attempts that were under way at one instant. */
function peakOverlap(tasks: TaskView[]): number {
  const edges = tasks
    .flatMap((t) => t.attemptList)
    .flatMap((a) => [
      { at: Date.parse(a.startedAt), d: 1 },
      { at: Date.parse(a.finishedAt), d: -1 },
    ])
    .sort((x, y) => x.at - y.at || x.d - y.d); // an end before a start at the same instant
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

const finished = (tasks: TaskView[]) => tasks.every((t) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(t.status));

describe('QUOTA_RUNNING_TASKS', () => {
  it('holds a tenant at the server default of 2: never 3 RUNNING at once, 2 reached, every task SUCCEEDED', async () => {
    const a = await tenant();
    const sampler = sampleRunning(a.id);
    await a.client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 8 }, () => ({ agent: 'ticker' })) });
    const tasks = await waitFor('8 ticker tasks to finish', async () => {
      const ts = await tasksOf(a.client);
      return finished(ts) && ts;
    }, { timeoutMs: 60_000, everyMs: 100 });
    const peakInDb = await sampler.stop();
    expect(tasks).toHaveLength(8);
    expect(tasks.map((t) => t.status)).toEqual(Array(8).fill('SUCCEEDED'));
    expect(peakInDb).toBeLessThanOrEqual(2);
    expect(peakOverlap(tasks)).toBe(2);
  });

  it('an override tightens or lifts the cap, and a tenant at its cap does not starve another', async () => {
    const capped = await tenant({ runningTasks: 1 });
    const free = await tenant({ runningTasks: 0 }); // no cap, although the server default is 2
    const cappedRunning = sampleRunning(capped.id);
    const freeHeld = sampleRunning(free.id);
    // The capped tenant's tasks come first and rank higher; the other's are claimed all the same.
    await capped.client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 10 }, () => ({ agent: 'ticker', priority: 10 })) });
    await free.client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 4 }, () => ({ agent: 'ticker', priority: 0 })) });
    const freeTasks = await waitFor("the uncapped tenant's tasks to finish", async () => {
      const ts = await tasksOf(free.client);
      return finished(ts) && ts;
    }, { timeoutMs: 60_000, everyMs: 100 });
    // By then the capped tenant (1 at a time, ~200 ms each) is far from done.
    const midway = await tasksOf(capped.client);
    expect(midway.filter((t) => t.status === 'QUEUED').length).toBeGreaterThan(0);
    expect(freeTasks.map((t) => t.status)).toEqual(Array(4).fill('SUCCEEDED'));
    // The override lifted the default cap: the node held more than 2 of its tasks at once (the
    // server's 2 workers run 2 of them, the rest wait claimed in the node).
    expect(await freeHeld.stop()).toBeGreaterThan(2);

    const cappedTasks = await waitFor("the capped tenant's tasks to finish", async () => {
      const ts = await tasksOf(capped.client);
      return finished(ts) && ts;
    }, { timeoutMs: 60_000, everyMs: 100 });
    expect(await cappedRunning.stop()).toBe(1);
    expect(cappedTasks.map((t) => t.status)).toEqual(Array(10).fill('SUCCEEDED'));
    expect(peakOverlap(cappedTasks)).toBe(1);
  });

  it("retries of a capped tenant's tasks run within the cap to their end", async () => {
    const d = await tenant({ runningTasks: 1 });
    const sampler = sampleRunning(d.id);
    const retryPolicy = { maxAttempts: 3, initialBackoffMs: 0, maxBackoffMs: 0, retryOn: ['nonzero_exit'] };
    await d.client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 3 }, () => ({ agent: 'exit_code', args: ['3'], retryPolicy })) });
    const tasks = await waitFor('the retried tasks to fail', async () => {
      const ts = await tasksOf(d.client);
      return finished(ts) && ts;
    }, { timeoutMs: 60_000, everyMs: 100 });
    expect(await sampler.stop()).toBeLessThanOrEqual(1);
    expect(tasks.map((t) => [t.status, t.attempts])).toEqual(Array(3).fill(['FAILED', 3]));
    expect(peakOverlap(tasks)).toBe(1);
  });
});
