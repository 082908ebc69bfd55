// A batch of 1,000 tasks in one submitTasks call: every task reaches a terminal state, and reading
// a page of tasks with their agents costs a few store calls, not one per task.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import type { Store } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const N = 1000;
let s: TestServer;
const calls = new Map<string, number>();

/** Counts calls per repository method (a spy around the real store, not a mock). */
function counting(store: Store): Store {
  const wrap = <T extends object>(name: string, repo: T): T =>
    new Proxy(repo, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const key = `${name}.${String(prop)}`;
          calls.set(key, (calls.get(key) ?? 0) + 1);
          return value.apply(target, args);
        };
      },
    });
  return { ...store, agents: wrap('agents', store.agents), tasks: wrap('tasks', store.tasks), blobs: wrap('blobs', store.blobs), close: () => store.close() };
}

beforeAll(async () => {
  s = await startTestServer({ WORKERS: '2' }, { wrapStore: counting });
  await s.gqlOk(`mutation ($w: String!) { a: registerAgent(input: {name: "hello", wat: $w}) { id } b: registerAgent(input: {name: "other", wat: $w}) { id } }`, {
    w: DEMO_AGENT_WAT,
  });
});

afterAll(async () => {
  await s?.close();
});

describe('batches', () => {
  it(`runs a batch of ${N} tasks to a terminal state, none lost`, { timeout: 240_000 }, async () => {
    const inputs = Array.from({ length: N }, (_, i) => ({ agent: i % 2 ? 'hello' : 'other', args: [String(i)], stdin: `task ${i}` }));
    calls.clear();
    const { submitTasks } = await s.gqlOk<{ submitTasks: { id: string; status: string }[] }>(
      `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id status } }`,
      { inputs },
    );
    expect(submitTasks).toHaveLength(N);
    expect(new Set(submitTasks.map((t) => t.id)).size).toBe(N);
    // One insert for the whole batch; agents and versions resolved once per distinct agent.
    expect(calls.get('tasks.insertMany')).toBe(1);
    expect(calls.get('agents.getByName') ?? 0).toBeLessThanOrEqual(2);
    expect(calls.get('agents.version') ?? 0).toBeLessThanOrEqual(2);

    await waitFor(
      `${N} tasks to end`,
      async () => {
        const { tasks } = await s.gqlOk(`{ tasks(filter: { status: [SUCCEEDED, FAILED, CANCELLED] }, first: 1) { totalCount } }`);
        return tasks.totalCount === N;
      },
      { timeoutMs: 200_000, everyMs: 100 },
    );
    // stats counts come from a cache of up to a second: wait for it to catch up.
    await waitFor(
      `stats to count ${N} SUCCEEDED`,
      async () => {
        const { stats } = await s.gqlOk(`{ stats { byStatus { status count } } }`);
        return stats.byStatus.find((b: { status: string }) => b.status === 'SUCCEEDED').count === N;
      },
      { timeoutMs: 10_000, everyMs: 100 },
    );

    // Spot-check outputs: each task ran with its own input, once.
    const { tasks } = await s.gqlOk(`{ tasks(first: 20, filter: { status: [SUCCEEDED, FAILED, CANCELLED] }) { totalCount edges { node { args stdout attempts } } } }`);
    expect(tasks.totalCount).toBe(N);
    for (const { node } of tasks.edges) {
      expect(node.attempts).toBe(1);
      expect(node.stdout).toBe(`hello from spindle ${node.args[0]}\ntask ${node.args[0]}`);
    }
  });

  it('reads a page of 50 tasks with agent and version in a few store calls', async () => {
    // Tasks of its own (due in an hour: they stay QUEUED), of both agents.
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const inputs = Array.from({ length: 50 }, (_, i) => ({ agent: i % 2 ? 'hello' : 'other', runAt }));
    await s.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, { inputs });
    calls.clear();
    const { tasks } = await s.gqlOk(`{ tasks(first: 50) { edges { node { id status agent { name } agentVersion { version } inputFiles { path } } } } }`);
    expect(tasks.edges).toHaveLength(50);
    // The node's executor reads on its own meanwhile (polls, claims, lease checks): not the request's.
    const executorReads = new Set(['tasks.nextRunAt', 'tasks.claim', 'tasks.reclaimExpired', 'tasks.heartbeat', 'tasks.runningCaps']);
    const total = [...calls].reduce((sum, [key, n]) => (executorReads.has(key) ? sum : sum + n), 0);
    expect(calls.get('tasks.list')).toBe(1);
    // Two agents, two versions: the loaders fetch each once, whatever the page size.
    expect((calls.get('agents.get') ?? 0) + (calls.get('agents.list') ?? 0)).toBeLessThanOrEqual(2);
    expect(calls.get('agents.getVersion') ?? 0).toBeLessThanOrEqual(2);
    expect(total, JSON.stringify([...calls])).toBeLessThanOrEqual(6);
  });
});
