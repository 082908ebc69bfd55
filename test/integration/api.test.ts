// The API end to end over real HTTP and WebSocket: register (base64, WAT, POST /modules), submit,
// watch, retry, time out, cancel, resubmit idempotently, stream output, stats, health, metrics.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { makeAttemptResult } from '../helpers/attempts.js';

const wat = (name: string) => readFile(new URL(`../fixtures/wat/${name}.wat`, import.meta.url), 'utf8');

const TASK = `id status attempts outcome exitCode stdout stderr
  agent { name } agentVersion { version }
  attemptList { n node outcome exitCode stdout startedAt finishedAt trap { code } error }`;

let s: TestServer;

async function register(name: string, source: { wat?: string; wasmBase64?: string; moduleDigest?: string }) {
  const data = await s.gqlOk<{ registerAgent: { id: string; name: string; latestVersion: number } }>(
    `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id name latestVersion } }`,
    { input: { name, ...source } },
  );
  return data.registerAgent;
}

async function submit(input: Record<string, unknown>) {
  const data = await s.gqlOk<{ submitTask: { id: string; status: string } }>(
    `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id status } }`,
    { input },
  );
  return data.submitTask;
}

/** Waits on taskUpdated until the task is terminal; returns the statuses seen. */
async function watchToEnd(id: string, timeoutMs = 30_000): Promise<string[]> {
  const sub = s.subscribe<{ taskUpdated: { status: string } }>(`subscription ($id: ID!) { taskUpdated(id: $id) { status attempt outcome } }`, { id });
  try {
    const seen = await sub.until((e) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(e.taskUpdated.status), timeoutMs);
    return seen.map((e) => e.taskUpdated.status);
  } finally {
    sub.close();
  }
}

/** Writes a result for attempt `n` from a node that had lost the task (exit 7, stdout "late"). */
async function lateResult(taskId: string, n: number) {
  const [row] = await s.spindle.store.tasks.finish([makeAttemptResult({ taskId, n, node: 'stalled-node', exitCode: 7, stdout: new TextEncoder().encode('late') })]);
  return row;
}

const getTask = async (id: string) => (await s.gqlOk<{ task: any }>(`query ($id: ID!) { task(id: $id) { ${TASK} } }`, { id })).task;

beforeAll(async () => {
  s = await startTestServer();
  await register('hello', { wat: DEMO_AGENT_WAT });
  await register('exit-code', { wat: await wat('exit_code') });
  await register('spin', { wat: await wat('infinite_loop') });
  await register('ticker', { wat: await wat('ticker') });
});

afterAll(async () => {
  await s?.close();
});

describe('register → submit → subscribe', () => {
  it('lists a late result of a node that had lost the task as a stale attempt; the task keeps its own result', async () => {
    const task = await submit({ agent: 'hello', args: ['once'] });
    expect((await watchToEnd(task.id)).at(-1)).toBe('SUCCEEDED');
    // Another node's result for attempt 1 arrives after the fact (its lease had been taken over).
    expect(await lateResult(task.id, 1)).toMatchObject({ status: 'SUCCEEDED', stale: true });
    const { task: t } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { status exitCode stdout attemptList { n node exitCode stale } } }`, { id: task.id });
    expect(t).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, stdout: 'hello from spindle once\n' });
    expect(t.attemptList).toEqual([
      { n: 1, node: 'stalled-node', exitCode: 7, stale: true },
      { n: 1, node: s.spindle.config.nodeId, exitCode: 0, stale: false },
    ]);
  });

  it('runs an agent registered from WAT and reports its stdout', async () => {
    const task = await submit({ agent: 'hello', args: ['and', 'you'], stdin: 'echo me' });
    expect(task.status).toBe('QUEUED');
    const statuses = await watchToEnd(task.id);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'SUCCEEDED', outcome: 'exited', exitCode: 0, stdout: 'hello from spindle and you\necho me', attempts: 1 });
    expect(t.agent.name).toBe('hello');
    expect(t.attemptList).toHaveLength(1);
    expect(t.attemptList[0]).toMatchObject({ n: 1, node: s.spindle.config.nodeId, outcome: 'exited' });
  });

  it('registers from base64 and adds versions under the same name', async () => {
    const bytes = await loadWat('hello');
    const v1 = await register('hello-b64', { wasmBase64: toBase64(bytes) });
    const v2 = await register('hello-b64', { wasmBase64: toBase64(await loadWat('echo_stdin')) });
    expect(v1.latestVersion).toBe(1);
    expect(v2).toMatchObject({ id: v1.id, latestVersion: 2 });
    const task = await submit({ agent: 'hello-b64', version: 1 });
    await watchToEnd(task.id);
    expect(await getTask(task.id)).toMatchObject({ status: 'SUCCEEDED', stdout: 'hello, world\n', agentVersion: { version: 1 } });
    const agent = await s.gqlOk(`{ agent(name: "hello-b64") { versions { version moduleDigest moduleSize imports { module name } } } }`);
    expect(agent.agent.versions).toHaveLength(2);
    expect(agent.agent.versions[0].moduleSize).toBe(bytes.length);
  });

  it('registers a module uploaded with POST /modules', async () => {
    const bytes = await loadWat('echo_stdin');
    const res = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: bytes });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { digest: string; size: number; imports: unknown[]; exports: { name: string }[] };
    expect(body).toMatchObject({ digest: expect.stringMatching(/^[0-9a-f]{64}$/), size: bytes.length });
    expect(body.exports.map((e) => e.name)).toContain('_start');
    await register('echo', { moduleDigest: body.digest });
    const task = await submit({ agent: 'echo', stdinBase64: toBase64(new TextEncoder().encode('bytes in, bytes out')) });
    await watchToEnd(task.id);
    expect(await getTask(task.id)).toMatchObject({ status: 'SUCCEEDED', stdout: 'bytes in, bytes out' });
  });
});

describe('task lifecycle', () => {
  it('retries a failing task with backoff, then fails it with every attempt recorded', async () => {
    const task = await submit({
      agent: 'exit-code',
      args: ['3'],
      retryPolicy: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 200, retryOn: ['nonzero_exit'] },
    });
    const statuses = await watchToEnd(task.id);
    expect(statuses).toContain('RETRYING');
    expect(statuses.at(-1)).toBe('FAILED');
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'FAILED', outcome: 'exited', exitCode: 3, attempts: 3 });
    expect(t.attemptList.map((a: { n: number; exitCode: number }) => [a.n, a.exitCode])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    for (let i = 1; i < 3; i++) {
      // The next attempt starts only after the previous one ended (plus its backoff).
      expect(Date.parse(t.attemptList[i].startedAt)).toBeGreaterThanOrEqual(Date.parse(t.attemptList[i - 1].finishedAt));
    }
  });

  it('ends a runaway task with the timeout outcome', async () => {
    const task = await submit({ agent: 'spin', limits: { timeoutMs: 300 }, retryPolicy: { maxAttempts: 1 } });
    await watchToEnd(task.id);
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'FAILED', outcome: 'timeout', attempts: 1 });
    expect(t.attemptList[0].outcome).toBe('timeout');
  });

  it('cancels a running task', async () => {
    const task = await submit({ agent: 'spin', limits: { timeoutMs: 60_000 } });
    const sub = s.subscribe<{ taskUpdated: { status: string } }>(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: task.id });
    await sub.until((e) => e.taskUpdated.status === 'RUNNING');
    const cancelled = await s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { id status } }`, { id: task.id });
    expect(cancelled.cancelTask.status).toBe('CANCELLED');
    await sub.until((e) => e.taskUpdated.status === 'CANCELLED');
    sub.close();
    const t = await waitFor('the cancelled attempt to be recorded', async () => {
      const row = await getTask(task.id);
      return row.attemptList.length === 1 ? row : null;
    }, { timeoutMs: 15_000, everyMs: 100 });
    expect(t.status).toBe('CANCELLED');
    expect(t.attemptList[0].outcome).toBe('cancelled');
    // Cancelling again is harmless; retrying queues it again.
    expect((await s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { status } }`, { id: task.id })).cancelTask.status).toBe('CANCELLED');
    expect((await s.gqlOk(`mutation ($id: ID!) { retryTask(id: $id) { status } }`, { id: task.id })).retryTask.status).toBe('QUEUED');
    await s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { status } }`, { id: task.id });
  });

  it('refuses to cancel a finished task (CONFLICT)', async () => {
    const task = await submit({ agent: 'hello' });
    await watchToEnd(task.id);
    const r = await s.gql(`mutation ($id: ID!) { cancelTask(id: $id) { status } }`, { id: task.id });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
  });

  it('returns the existing task for a resubmitted idempotency key', async () => {
    const key = `key-${Date.now()}`;
    const first = await submit({ agent: 'hello', idempotencyKey: key, args: ['once'] });
    const again = await submit({ agent: 'hello', idempotencyKey: key, args: ['once'] });
    expect(again.id).toBe(first.id);
    const batch = await s.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, {
      inputs: [{ agent: 'hello', idempotencyKey: key }, { agent: 'hello', idempotencyKey: `${key}-2` }],
    });
    expect(batch.submitTasks[0].id).toBe(first.id);
    expect(batch.submitTasks[1].id).not.toBe(first.id);
    await watchToEnd(first.id);
    const runs = await s.gqlOk(`{ tasks(first: 500) { edges { node { id idempotencyKey } } } }`);
    expect(runs.tasks.edges.filter((e: { node: { idempotencyKey: string } }) => e.node.idempotencyKey === key)).toHaveLength(1);
  });

  it('runs a delayed task no earlier than runAt, and higher priority first', async () => {
    const runAt = new Date(Date.now() + 1500);
    const task = await submit({ agent: 'hello', runAt: runAt.toISOString(), priority: 5 });
    await watchToEnd(task.id);
    const t = await s.gqlOk(`query ($id: ID!) { task(id: $id) { priority runAt attemptList { startedAt } } }`, { id: task.id });
    expect(t.task.priority).toBe(5);
    expect(Date.parse(t.task.attemptList[0].startedAt)).toBeGreaterThanOrEqual(runAt.getTime() - 5);
  });
});

describe('live output', () => {
  it('streams the stdout chunks of a running task, then completes', async () => {
    // Delayed a little so the subscription is surely in place before the first tick.
    const task = await submit({ agent: 'ticker', runAt: new Date(Date.now() + 2000).toISOString() });
    const sub = s.subscribe<{ taskOutput: { taskId: string; stream: string; data: string; base64: string; attempt: number } }>(
      `subscription ($id: ID!) { taskOutput(id: $id) { taskId attempt stream data base64 } }`,
      { id: task.id },
    );
    await sub.ended;
    const chunks = sub.results.map((r) => r.data!.taskOutput);
    expect(chunks.length).toBeGreaterThanOrEqual(1);
    expect(chunks.every((c) => c.taskId === task.id && c.stream === 'stdout' && c.attempt === 1)).toBe(true);
    expect(chunks.map((c) => c.data).join('')).toBe('tick\n'.repeat(5));
    expect(Buffer.from(chunks[0]!.base64, 'base64').toString()).toBe(chunks[0]!.data);
  });

  it('replays the output of a finished task', async () => {
    const task = await submit({ agent: 'hello', args: ['again'] });
    await watchToEnd(task.id);
    const sub = s.subscribe(`subscription ($id: ID!) { taskOutput(id: $id) { stream data } }`, { id: task.id });
    await sub.ended;
    expect(sub.results.map((r) => r.data.taskOutput)).toEqual([{ stream: 'stdout', data: 'hello from spindle again\n' }]);
  });

  it("replays an ended task's own result, not a stale attempt listed after it", async () => {
    const task = await submit({ agent: 'hello', args: ['mine'] });
    await watchToEnd(task.id);
    // A late result numbered past the task's one attempt: stale, and last in the attempt list.
    expect(await lateResult(task.id, 2)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, stale: true });
    const { task: t } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { attemptList { n stale } } }`, { id: task.id });
    expect(t.attemptList).toEqual([{ n: 1, stale: false }, { n: 2, stale: true }]);
    const sub = s.subscribe(`subscription ($id: ID!) { taskOutput(id: $id) { attempt stream data } }`, { id: task.id });
    await sub.ended;
    expect(sub.results.map((r) => r.data.taskOutput)).toEqual([{ attempt: 1, stream: 'stdout', data: 'hello from spindle mine\n' }]);
  });

  it('filters taskEvents by agent and status', async () => {
    const sub = s.subscribe<{ taskEvents: { taskId: string; status: string; task: { agent: { name: string } } } }>(
      `subscription { taskEvents(filter: { agent: "hello", status: [SUCCEEDED] }) { taskId status task { agent { name } } } }`,
    );
    // Delayed, so both end well after the subscription reached the server.
    const runAt = new Date(Date.now() + 1500).toISOString();
    const other = await submit({ agent: 'exit-code', args: ['0'], runAt });
    const task = await submit({ agent: 'hello', runAt });
    const seen = await sub.until((e) => e.taskEvents.taskId === task.id);
    sub.close();
    expect(seen.every((e) => e.taskEvents.status === 'SUCCEEDED' && e.taskEvents.task.agent.name === 'hello')).toBe(true);
    expect(seen.some((e) => e.taskEvents.taskId === other.id)).toBe(false);
  });
});

describe('reads', () => {
  it('answers stats with status counts, throughput and workers', async () => {
    const read = () => s.gqlOk(`{ stats { byStatus { status count } queueDepth running throughputPerSec throughputSeries
      latencyP50Ms workers busyWorkers utilisation pool { workers busy } node at } }`);
    const sum = (stats: { byStatus: { count: number }[] }) => stats.byStatus.reduce((n, b) => n + b.count, 0);
    // The counts are cached up to 1 s (tasks another test just submitted may be missing): within a
    // few seconds they add up to the fresh total.
    const { stats } = await waitFor('stats to count every task', async () => {
      const [read1, { tasks }] = await Promise.all([read(), s.gqlOk(`{ tasks(first: 1) { totalCount } }`)]);
      return sum(read1.stats) === tasks.totalCount && read1;
    }, { timeoutMs: 10_000, everyMs: 250 });
    expect(stats.byStatus.map((b: { status: string }) => b.status).sort()).toEqual(['CANCELLED', 'FAILED', 'QUEUED', 'RETRYING', 'RUNNING', 'SUCCEEDED']);
    expect(stats.workers).toBeGreaterThanOrEqual(2);
    expect(stats.pool.workers).toBe(2);
    expect(stats.node).toBe(s.spindle.config.nodeId);
    expect(Array.isArray(stats.throughputSeries)).toBe(true);
    expect(Number.isNaN(Date.parse(stats.at))).toBe(false);
  });

  it('pushes stats every second on the stats subscription', async () => {
    const sub = s.subscribe(`subscription { stats { queueDepth at } }`);
    const [a, b] = [await sub.next(), await sub.next()];
    sub.close();
    expect(Date.parse(b.stats.at) - Date.parse(a.stats.at)).toBeGreaterThanOrEqual(900);
  });

  it('pages tasks newest first with cursors and filters', async () => {
    const failing = await submit({ agent: 'exit-code', args: ['1'], retryPolicy: { maxAttempts: 1 } });
    for (let i = 0; i < 4; i++) await submit({ agent: 'hello' });
    await watchToEnd(failing.id);
    const first = await s.gqlOk(`{ tasks(first: 2) { totalCount edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`);
    expect(first.tasks.edges).toHaveLength(2);
    expect(first.tasks.pageInfo.hasNextPage).toBe(true);
    expect(first.tasks.pageInfo.endCursor).toBe(first.tasks.edges[1].cursor);
    const second = await s.gqlOk(`query ($after: String) { tasks(first: 2, after: $after) { edges { node { id } } } }`, { after: first.tasks.pageInfo.endCursor });
    const ids = [...first.tasks.edges, ...second.tasks.edges].map((e: { node: { id: string } }) => e.node.id);
    expect(new Set(ids).size).toBe(4);
    // Every edge cursor continues right after its edge.
    const fromEdge = await s.gqlOk(`query ($after: String) { tasks(first: 1, after: $after) { edges { node { id } } } }`, { after: first.tasks.edges[0].cursor });
    expect(fromEdge.tasks.edges[0].node.id).toBe(first.tasks.edges[1].node.id);
    const failed = await s.gqlOk(`{ tasks(filter: { status: [FAILED], agent: "exit-code" }) { totalCount edges { node { status agent { name } } } } }`);
    expect(failed.tasks.totalCount).toBeGreaterThanOrEqual(1);
    expect(failed.tasks.edges.every((e: any) => e.node.status === 'FAILED' && e.node.agent.name === 'exit-code')).toBe(true);
  });

  it('serves /healthz, /metrics and the dashboard', async () => {
    // A task of its own, ended: the finished and run metrics have something to count whatever ran before.
    await watchToEnd((await submit({ agent: 'hello' })).id);
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', node: s.spindle.config.nodeId });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/spindle_tasks_submitted_total \d+/);
    expect(metrics).toMatch(/spindle_tasks_finished_total\{status="SUCCEEDED",outcome="exited"\} \d+/);
    expect(metrics).toMatch(/spindle_run_duration_seconds_count\{outcome="exited"\} \d+/);
    expect(metrics).toMatch(/spindle_queue_depth\{status="QUEUED"\} \d+/);
    expect(metrics).toMatch(/spindle_pool_busy \d+/);
    const page = await fetch(`${s.url}/tasks/some-client-route`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });
});
