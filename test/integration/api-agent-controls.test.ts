// The user's controls of an agent against a real server: pause (its tasks queue up and are not
// claimed, not even by claim-on-insert on an idle node; other agents' tasks run; resuming runs
// them), the concurrency limit (held tasks of the agent, claimed or RUNNING, never past it; set at
// registration and by setAgentConcurrency, validated at and beyond its range), and Agent.stats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID } from '../../src/domain/index.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestClient, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const REGISTER = `mutation ($i: RegisterAgentInput!) { registerAgent(input: $i) { id name paused concurrencyLimit } }`;
const SUBMIT_MANY = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id status } }`;
const PAUSE = `mutation ($id: ID!) { pauseAgent(id: $id) { id paused concurrencyLimit } }`;
const RESUME = `mutation ($id: ID!) { resumeAgent(id: $id) { id paused concurrencyLimit } }`;
const SET_LIMIT = `mutation ($id: ID!, $limit: Int) { setAgentConcurrency(id: $id, limit: $limit) { id paused concurrencyLimit } }`;
const TASKS = `query ($agent: String) { a: tasks(first: 100, filter: { agent: $agent }) {
  edges { node { id status attempts attemptList { startedAt finishedAt } } } } }`;

let s: TestServer;
let client: TestClient;
let wasm: Record<string, string>;

beforeAll(async () => {
  s = await startTestServer();
  client = s.as(null);
  wasm = {};
  for (const name of ['ticker', 'exit_code', 'hello']) wasm[name] = toBase64(await loadWat(name));
});
afterAll(async () => {
  await s?.close();
});

let agents = 0;
/** A fresh agent running `fixture`, so each test counts only its own tasks. */
async function agent(fixture: string, concurrencyLimit?: number): Promise<{ id: string; name: string; paused: boolean; concurrencyLimit: number | null }> {
  const name = `${fixture}-${++agents}`;
  const { registerAgent } = await client.gqlOk(REGISTER, { i: { name, wasmBase64: wasm[fixture], concurrencyLimit } });
  return registerAgent;
}

interface TaskView {
  id: string;
  status: string;
  attempts: number;
  attemptList: { startedAt: string; finishedAt: string }[];
}
const tasksOf = async (name: string): Promise<TaskView[]> => (await client.gqlOk(TASKS, { agent: name })).a.edges.map((e: { node: TaskView }) => e.node);
const finished = (tasks: TaskView[]) => tasks.every((t) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(t.status));
const allEnded = (name: string, n: number) =>
  waitFor(`${n} tasks of ${name} to end`, async () => {
    const ts = await tasksOf(name);
    return ts.length === n && finished(ts) && ts;
  }, { timeoutMs: 60_000, everyMs: 100 });

/** The agent's tasks held by a node (claimed or RUNNING: what the limit counts), sampled until stopped; the peak. */
function sampleHeld(agentId: string) {
  let peak = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      const { rows } = await s.spindle.store.tasks.list(DEFAULT_TENANT_ID, { status: ['QUEUED', 'RETRYING', 'RUNNING'] }, 1_000);
      peak = Math.max(peak, rows.filter((r) => r.agentId === agentId && r.leaseOwner !== null).length);
      await sleep(5); // sampling pace
    }
  })();
  return async () => {
    on = false;
    await loop;
    return peak;
  };
}

/** The most attempts under way at one instant (each lies inside the time its task was held). */
function peakOverlap(tasks: TaskView[]): number {
  const edges = tasks
    .flatMap((t) => t.attemptList)
    .flatMap((a) => [
      { at: Date.parse(a.startedAt), d: 1 },
      { at: Date.parse(a.finishedAt), d: -1 },
    ])
    .sort((x, y) => x.at - y.at || x.d - y.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

describe('pauseAgent / resumeAgent', () => {
  it("a paused agent's tasks queue up unclaimed while another agent's run; resuming runs them all", async () => {
    const paused = await agent('hello');
    const other = await agent('hello');
    expect((await client.gqlOk(PAUSE, { id: paused.name })).pauseAgent).toEqual({ id: paused.id, paused: true, concurrencyLimit: null });
    // The node is idle: without the pause, claim-on-insert would start these at once.
    const submitted = (await client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 3 }, () => ({ agent: paused.name })) })).submitTasks;
    expect(submitted.map((t: { status: string }) => t.status)).toEqual(['QUEUED', 'QUEUED', 'QUEUED']);
    await client.gqlOk(SUBMIT_MANY, { inputs: [{ agent: other.name }] });
    await allEnded(other.name, 1);
    await sleep(1_500); // several polls and claims
    const waiting = await tasksOf(paused.name);
    expect(waiting.map((t) => [t.status, t.attempts])).toEqual(Array(3).fill(['QUEUED', 0]));
    const held = (await Promise.all(waiting.map((t) => s.spindle.store.tasks.get(DEFAULT_TENANT_ID, t.id)))).map((r) => r?.leaseOwner);
    expect(held).toEqual([null, null, null]);
    expect((await client.gqlOk(`query ($id: ID!) { agent(id: $id) { paused } }`, { id: paused.id })).agent.paused).toBe(true);

    expect((await client.gqlOk(RESUME, { id: paused.id })).resumeAgent.paused).toBe(false);
    const ran = await allEnded(paused.name, 3);
    expect(ran.map((t) => t.status)).toEqual(Array(3).fill('SUCCEEDED'));
  });

  it('answers NOT_FOUND naming id for an unknown agent', async () => {
    const r = await client.gql(PAUSE, { id: 'no-such-agent' });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(r.errors?.[0]?.message).toMatch(/^id: agent "no-such-agent" not found/);
  });
});

describe('the concurrency limit', () => {
  it('is validated at registration and by setAgentConcurrency: 1 and 10000 accepted, 0, 10001 and -1 refused naming the field and range', async () => {
    for (const bad of [0, 10_001, -1]) {
      const r = await client.gql(REGISTER, { i: { name: `bad-limit-${bad}`, wasmBase64: wasm.hello, concurrencyLimit: bad } });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toBe(`input.concurrencyLimit: must be an integer from 1 to 10000, or null for no limit (got ${bad})`);
    }
    const a = await agent('hello', 10_000);
    expect(a.concurrencyLimit).toBe(10_000);
    for (const bad of [0, 10_001]) {
      const r = await client.gql(SET_LIMIT, { id: a.id, limit: bad });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toBe(`limit: must be an integer from 1 to 10000, or null for no limit (got ${bad})`);
    }
    expect((await client.gqlOk(SET_LIMIT, { id: a.id, limit: 1 })).setAgentConcurrency.concurrencyLimit).toBe(1);
    // Registering a new version without a limit keeps it; null removes it.
    await client.gqlOk(REGISTER, { i: { name: a.name, wat: '(module (func (export "_start")))' } });
    expect((await client.gqlOk(`query ($id: ID!) { agent(id: $id) { concurrencyLimit latestVersion } }`, { id: a.id })).agent).toEqual({ concurrencyLimit: 1, latestVersion: 2 });
    expect((await client.gqlOk(SET_LIMIT, { id: a.id, limit: null })).setAgentConcurrency.concurrencyLimit).toBe(null);
  });

  it('holds the agent at its limit (claimed or RUNNING), the limit reached, every task SUCCEEDED; lowered to 1, one at a time', async () => {
    const a = await agent('ticker', 2); // ~200 ms of busy work each
    // The server has 2 workers and prefetches: without the limit it would hold more than 2.
    let stop = sampleHeld(a.id);
    await client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 6 }, () => ({ agent: a.name })) });
    let tasks = await allEnded(a.name, 6);
    expect(await stop()).toBeLessThanOrEqual(2);
    expect(tasks.map((t) => t.status)).toEqual(Array(6).fill('SUCCEEDED'));
    expect(peakOverlap(tasks)).toBe(2);

    await client.gqlOk(SET_LIMIT, { id: a.id, limit: 1 });
    stop = sampleHeld(a.id);
    await client.gqlOk(SUBMIT_MANY, { inputs: Array.from({ length: 4 }, () => ({ agent: a.name })) });
    tasks = await allEnded(a.name, 10);
    expect(await stop()).toBe(1);
    expect(tasks.map((t) => t.status)).toEqual(Array(10).fill('SUCCEEDED'));
    expect(peakOverlap(tasks.slice(0, 4))).toBe(1); // newest first: the 4 submitted under limit 1
  });
});

describe('Agent.stats', () => {
  const STATS = `query ($id: ID!, $w: Int) { agent(id: $id) { stats(windowSeconds: $w) {
    windowSeconds tasks truncated byStatus { status count } successRate attempts runMsP50 runMsP95 runMsP99 } } }`;

  it('counts the window\'s tasks by status, the success rate and the attempts\' run time percentiles', async () => {
    const a = await agent('exit_code');
    const empty = (await client.gqlOk(STATS, { id: a.id })).agent.stats;
    expect(empty).toMatchObject({ windowSeconds: 3600, tasks: 0, truncated: false, successRate: null, attempts: 0, runMsP50: null, runMsP99: null });
    // 3 succeed (exit 0), 1 fails (exit 3), 1 waits behind a pause.
    await client.gqlOk(SUBMIT_MANY, { inputs: [...Array.from({ length: 3 }, () => ({ agent: a.name, args: ['0'] })), { agent: a.name, args: ['3'] }] });
    await allEnded(a.name, 4);
    await client.gqlOk(PAUSE, { id: a.id });
    await client.gqlOk(SUBMIT_MANY, { inputs: [{ agent: a.name }] });
    const stats = (await client.gqlOk(STATS, { id: a.id, w: 600 })).agent.stats;
    const counts = Object.fromEntries(stats.byStatus.map((c: { status: string; count: number }) => [c.status, c.count]));
    expect(counts).toEqual({ QUEUED: 1, RUNNING: 0, RETRYING: 0, SUCCEEDED: 3, FAILED: 1, CANCELLED: 0 });
    expect(stats).toMatchObject({ windowSeconds: 600, tasks: 5, truncated: false, successRate: 0.75, attempts: 4 });
    expect(stats.runMsP50).toBeGreaterThanOrEqual(0);
    expect(stats.runMsP50).toBeLessThanOrEqual(stats.runMsP95);
    expect(stats.runMsP95).toBeLessThanOrEqual(stats.runMsP99);
    await client.gqlOk(RESUME, { id: a.id });
  });

  it('refuses a window outside 60 s to a week, naming windowSeconds', async () => {
    const a = await agent('hello');
    for (const w of [59, 604_801]) {
      const r = await client.gql(STATS, { id: a.id, w });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(/^windowSeconds: must be an integer from 60 to 604800/);
    }
    expect((await client.gqlOk(STATS, { id: a.id, w: 604_800 })).agent.stats.windowSeconds).toBe(604_800);
  });

  it('is read one agent at a time: refused in the agents list, whose cost would not count it per agent', async () => {
    await agent('hello');
    const r = await client.gql(`{ agents { name stats { tasks } } }`);
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/^stats: is read one agent at a time/);
  });
});
