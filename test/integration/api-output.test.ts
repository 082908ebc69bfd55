// Output survives the end of a run, through the API: a task that prints and then spins shows its
// line on `taskOutput` while it still spins, and its attempt keeps the line after TIMEOUT or a cancel.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
  const wat = await readFile(new URL('../fixtures/wat/print_then_spin.wat', import.meta.url), 'utf8');
  await s.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name: 'print-spin', wat } });
});

afterAll(async () => {
  await s?.close();
});

async function submit(input: Record<string, unknown>): Promise<string> {
  const data = await s.gqlOk<{ submitTask: { id: string } }>(`mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`, {
    input: { agent: 'print-spin', retryPolicy: { maxAttempts: 1 }, ...input },
  });
  return data.submitTask.id;
}

const getTask = async (id: string) =>
  (await s.gqlOk<{ task: any }>(`query ($id: ID!) { task(id: $id) { status outcome stdout attemptList { n outcome stdout } } }`, { id })).task;

/** Subscribes to a task's output and its updates; records when each arrives. */
function watch(id: string) {
  const output = s.subscribe<{ taskOutput: { attempt: number; stream: string; data: string } }>(
    `subscription ($id: ID!) { taskOutput(id: $id) { attempt stream data } }`,
    { id },
  );
  const updates = s.subscribe<{ taskUpdated: { status: string } }>(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id });
  return { output, updates };
}

describe('output of a task that prints and then spins', () => {
  it('reaches taskOutput while the task still runs, and stays in the attempt after TIMEOUT', async () => {
    // Starts a little later, so both subscriptions are surely in place before it prints.
    const id = await submit({ limits: { timeoutMs: 2000 }, runAt: new Date(Date.now() + 1500).toISOString() });
    const { output, updates } = watch(id);
    try {
      const first = await output.next(15_000);
      const seenAt = Date.now();
      expect(first.taskOutput).toEqual({ attempt: 1, stream: 'stdout', data: 'before spin\n' });
      await updates.until((e) => e.taskUpdated.status === 'FAILED', 15_000);
      // Seen live: well before the 2 s timeout ended the run.
      expect(Date.now() - seenAt).toBeGreaterThan(1000);
      await output.ended;
      expect(output.results.map((r) => r.data!.taskOutput.data).join('')).toBe('before spin\n');
    } finally {
      output.close();
      updates.close();
    }
    const t = await getTask(id);
    expect(t).toMatchObject({ status: 'FAILED', outcome: 'timeout', stdout: 'before spin\n' });
    expect(t.attemptList).toEqual([{ n: 1, outcome: 'timeout', stdout: 'before spin\n' }]);
  });

  it('gives a subscriber that came after the output was written all of it when the task ends, once', async () => {
    const id = await submit({ limits: { timeoutMs: 2500 } });
    // Running, and its line already handed on live (the pool reads every 50 ms): before subscribing.
    // (On a box slow enough to see it only once it timed out, the ended task's replay answers the same.)
    await waitFor('the task to run', async () => ['RUNNING', 'FAILED'].includes((await getTask(id)).status), { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 400));
    const output = s.subscribe<{ taskOutput: { attempt: number; stream: string; offset: number; data: string } }>(
      `subscription ($id: ID!) { taskOutput(id: $id) { attempt stream offset data } }`,
      { id },
    );
    try {
      await output.ended;
      expect(output.results.map((r) => r.data!.taskOutput)).toEqual([{ attempt: 1, stream: 'stdout', offset: 0, data: 'before spin\n' }]);
    } finally {
      output.close();
    }
    expect(await getTask(id)).toMatchObject({ status: 'FAILED', outcome: 'timeout', stdout: 'before spin\n' });
  });

  it('keeps the output in the attempt of a cancelled task', async () => {
    const id = await submit({ limits: { timeoutMs: 60_000 }, runAt: new Date(Date.now() + 1500).toISOString() });
    const { output, updates } = watch(id);
    try {
      expect((await output.next(15_000)).taskOutput.data).toBe('before spin\n');
      await s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { status } }`, { id });
      await updates.until((e) => e.taskUpdated.status === 'CANCELLED', 15_000);
    } finally {
      output.close();
      updates.close();
    }
    const t = await waitFor('the cancelled attempt to be recorded', async () => {
      const row = await getTask(id);
      return row.attemptList.length === 1 ? row : null;
    }, { timeoutMs: 15_000 });
    expect(t.attemptList).toEqual([{ n: 1, outcome: 'cancelled', stdout: 'before spin\n' }]);
  });
});
