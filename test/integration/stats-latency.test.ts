// The overview's latency percentiles measure a task from its last queueing: a task retried by hand
// counts from the retry, not from its creation (a retried old task once read as a p95 of 39.7 s).
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
  const wat = await readFile(new URL('../fixtures/wat/exit_code.wat', import.meta.url), 'utf8');
  await s.gqlOk(`mutation ($wat: String!) { registerAgent(input: { name: "exit-code", wat: $wat }) { id } }`, { wat });
});

afterAll(async () => {
  await s?.close();
});

const status = async (id: string) => (await s.gqlOk<{ task: { status: string } }>(`query ($id: ID!) { task(id: $id) { status } }`, { id })).task.status;

describe('stats latency', () => {
  it('counts a task retried by hand from the retry', { timeout: 60_000 }, async () => {
    const { submitTask } = await s.gqlOk<{ submitTask: { id: string } }>(
      `mutation { submitTask(input: { agent: "exit-code", args: ["1"], retryPolicy: { maxAttempts: 1 } }) { id } }`,
    );
    const id = submitTask.id;
    await waitFor('the first attempt to fail', async () => (await status(id)) === 'FAILED', { timeoutMs: 20_000 });
    await sleep(2_500); // created long before the retry
    await s.gqlOk(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id });
    await waitFor('the retried attempt to fail', async () => (await status(id)) === 'FAILED', { timeoutMs: 20_000 });
    // Both ends counted (the node publishes its counts every second).
    const stats = await waitFor('both ends in the stats', async () => {
      const { stats } = await s.gqlOk<{ stats: { throughputSeries: number[]; latencyP99Ms: number | null } }>(`{ stats { throughputSeries latencyP99Ms } }`);
      return stats.throughputSeries.reduce((a, b) => a + b, 0) >= 2 && stats;
    }, { timeoutMs: 10_000, everyMs: 200 });
    // From creation the retried end would be ≥ 2.5 s.
    expect(stats.latencyP99Ms).not.toBeNull();
    expect(stats.latencyP99Ms!).toBeLessThan(2_000);
  });
});
