// The log tells a task's story: submitted (one line per submit call), started, finished (outcome,
// exit code, ms), retry scheduled, cancelled; each line with taskId, tenantId, agent, attempt and
// node, at the level the README gives (a success's lines at debug, everything else at info).
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID } from '../../src/domain/index.js';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { makeLogger } from '../../src/server/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const wat = (name: string) => readFile(new URL(`../fixtures/wat/${name}.wat`, import.meta.url), 'utf8');
const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`;
const SUBMIT = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`;
const STATUS = `query ($id: ID!) { task(id: $id) { status } }`;
const DEBUG = 20;
const INFO = 30;

let s: TestServer;
const lines: Record<string, any>[] = [];
const agents: Record<string, string> = {};
const about = (taskId: string) => lines.filter((l) => l.taskId === taskId || l.taskIds?.includes(taskId));

async function submit(...inputs: Record<string, unknown>[]) {
  const res = await fetch(s.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': `submit-${lines.length}` },
    body: JSON.stringify({ query: SUBMIT, variables: { inputs } }),
  });
  const body = (await res.json()) as { data: { submitTasks: { id: string }[] } };
  return { ids: body.data.submitTasks.map((t) => t.id), requestId: res.headers.get('x-request-id')! };
}

const ended = (id: string) =>
  waitFor(`task ${id} to end`, async () => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes((await s.gqlOk(STATUS, { id })).task.status), { timeoutMs: 30_000 });

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  s = await startTestServer({}, { logger: makeLogger({ logLevel: 'debug', nodeId: 'story' }, sink) });
  for (const [name, source] of [['hello', DEMO_AGENT_WAT], ['exit-code', await wat('exit_code')], ['spin', await wat('infinite_loop')]] as const) {
    agents[name] = (await s.gqlOk(REGISTER, { input: { name, wat: source } })).registerAgent.id;
  }
});
afterAll(() => s?.close());

describe('lifecycle lines', () => {
  it('a submit call is one info line naming its tasks; a success is started and finished at debug', async () => {
    const { ids, requestId } = await submit({ agent: 'hello' }, { agent: 'hello' });
    await Promise.all(ids.map(ended));
    const submitted = lines.filter((l) => l.msg === 'tasks submitted' && l.requestId === requestId);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ level: INFO, node: 'story', tenantId: DEFAULT_TENANT_ID, agent: 'hello', tasks: 2, taskIds: ids });
    for (const id of ids) {
      const story = await waitFor('the finished line', async () => about(id).some((l) => l.msg === 'task finished') && about(id), { timeoutMs: 5_000 });
      const base = { node: 'story', taskId: id, tenantId: DEFAULT_TENANT_ID, agentId: agents.hello, attempt: 1 };
      expect(story.find((l) => l.msg === 'task started')).toMatchObject({ ...base, level: DEBUG });
      expect(story.find((l) => l.msg === 'task finished')).toMatchObject({ ...base, level: DEBUG, status: 'SUCCEEDED', outcome: 'exited', exitCode: 0, ms: expect.any(Number), runMs: expect.any(Number) });
    }
  });

  it('a retry is scheduled at info and the failure that ends the task is at info with its exit code', async () => {
    const retryPolicy = { maxAttempts: 2, initialBackoffMs: 0, maxBackoffMs: 0, retryOn: ['nonzero_exit'] };
    const { ids: [id] } = await submit({ agent: 'exit-code', args: ['3'], retryPolicy });
    await ended(id!);
    const story = await waitFor('the finished line', async () => about(id!).some((l) => l.msg === 'task finished') && about(id!), { timeoutMs: 5_000 });
    const base = { node: 'story', taskId: id, tenantId: DEFAULT_TENANT_ID, agentId: agents['exit-code'], outcome: 'exited', exitCode: 3 };
    expect(story.find((l) => l.msg === 'task retry scheduled')).toMatchObject({ ...base, level: INFO, attempt: 1, runAt: expect.any(String) });
    expect(story.find((l) => l.msg === 'task finished')).toMatchObject({ ...base, level: INFO, attempt: 2, status: 'FAILED' });
  });

  it('a timeout is a finished line at info; a cancel is one line at info naming who cancelled', async () => {
    const { ids: [timedOut, cancelled] } = await submit({ agent: 'spin', limits: { timeoutMs: 200 }, retryPolicy: { maxAttempts: 1 } }, { agent: 'spin' });
    await ended(timedOut!);
    expect(await waitFor('the timeout line', async () => about(timedOut!).find((l) => l.msg === 'task finished'), { timeoutMs: 5_000 })).toMatchObject({
      level: INFO,
      status: 'FAILED',
      outcome: 'timeout',
      attempt: 1,
    });
    await waitFor('the spinning task to run', async () => (await s.gqlOk(STATUS, { id: cancelled })).task.status === 'RUNNING', { timeoutMs: 10_000 });
    await s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { status } }`, { id: cancelled });
    const line = about(cancelled!).find((l) => l.msg === 'task cancelled');
    expect(line).toMatchObject({ level: INFO, tenantId: DEFAULT_TENANT_ID, agentId: agents.spin, attempt: 1, by: 'anonymous', requestId: expect.any(String) });
  });

  it('at LOG_LEVEL=info a success writes no line of its own', async () => {
    const quiet: Record<string, any>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        quiet.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const q = await startTestServer({}, { logger: makeLogger({ logLevel: 'info', nodeId: 'quiet' }, sink) });
    try {
      await q.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
      const { submitTask } = await q.gqlOk(`mutation { submitTask(input: { agent: "hello" }) { id } }`);
      await waitFor('the task to succeed', async () => (await q.gqlOk(STATUS, { id: submitTask.id })).task.status === 'SUCCEEDED', { timeoutMs: 30_000 });
      expect(quiet.filter((l) => l.taskId === submitTask.id)).toEqual([]);
      expect(quiet.filter((l) => l.taskIds?.includes(submitTask.id)).map((l) => l.msg)).toEqual(['tasks submitted']);
    } finally {
      await q.close();
    }
  });
});
