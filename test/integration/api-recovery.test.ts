// The node dies mid-run (no graceful stop: nothing released, no results written) and a new node
// starts on the same data: every task still ends, none is lost, none becomes a second task, and
// no task completes twice.
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const N = 8;
let s: TestServer | undefined;

afterAll(async () => {
  await s?.close();
});

describe('an abrupt stop mid-run', () => {
  it('loses no task and runs none as a new task after a restart on the same data', { timeout: 180_000 }, async () => {
    // A short lease, so the new node takes over the dead node's running tasks quickly; not too
    // short: on a loaded machine a heartbeat may lag, and a node must not lose its own live runs.
    s = await startTestServer({ LEASE_MS: '3000', WORKERS: '2' });
    const oldNode = s.spindle.config.nodeId;
    // Busy-waits 1.5 s, prints "done", exits 0.
    const spin = await readFile(new URL('../fixtures/wat/spin_for_ms.wat', import.meta.url), 'utf8');
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "spin_for_ms", wat: $w}) { id } }`, { w: spin });
    const { submitTasks } = await s.gqlOk<{ submitTasks: { id: string }[] }>(
      `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`,
      { inputs: Array.from({ length: N }, (_, i) => ({ agent: 'spin_for_ms', args: ['1500'], idempotencyKey: `spin-${i}` })) },
    );
    const ids = submitTasks.map((t) => t.id).sort();

    const runningAtCrash = await waitFor(
      'two running tasks',
      async () => {
        const { tasks } = await s!.gqlOk(`{ tasks(filter: { status: [RUNNING] }) { edges { node { id } } } }`);
        return tasks.edges.length >= 2 ? tasks.edges.map((e: { node: { id: string } }) => e.node.id) : null;
      },
      { timeoutMs: 30_000, everyMs: 100 },
    );

    s = await s.restartOnSameData();
    expect(s.spindle.config.nodeId).not.toBe(oldNode);

    await waitFor(
      'every task to end on the new node',
      async () => {
        const { tasks } = await s!.gqlOk(`{ tasks(filter: { status: [SUCCEEDED, FAILED, CANCELLED] }) { totalCount } }`);
        return tasks.totalCount === N;
      },
      { timeoutMs: 120_000, everyMs: 100 },
    );

    const { tasks } = await s.gqlOk(`{ tasks(first: 100) { totalCount edges { node { id status stdout idempotencyKey
      attemptList { n node outcome error } } } } }`);
    // None lost, none duplicated.
    expect(tasks.totalCount).toBe(N);
    expect(tasks.edges.map((e: { node: { id: string } }) => e.node.id).sort()).toEqual(ids);
    for (const { node } of tasks.edges) {
      expect(node.status, JSON.stringify(node)).toBe('SUCCEEDED');
      expect(node.stdout).toBe('done\n');
      const attempts = node.attemptList as { n: number; node: string; outcome: string }[];
      // Numbered 1..k without gaps, and completed exactly once.
      expect(attempts.map((a) => a.n)).toEqual(attempts.map((_, i) => i + 1));
      expect(attempts.filter((a) => a.outcome === 'exited')).toHaveLength(1);
      expect(attempts.at(-1)!.node).toBe(s.spindle.config.nodeId);
    }
    // The runs the crash interrupted are on record as host_error attempts.
    for (const id of runningAtCrash) {
      const t = tasks.edges.find((e: { node: { id: string } }) => e.node.id === id).node;
      expect(t.attemptList.some((a: { outcome: string }) => a.outcome === 'host_error'), JSON.stringify(t.attemptList)).toBe(true);
    }
  });
});
