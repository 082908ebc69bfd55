// Events cost once (issue 15): taskEvents subscriptions with the same tenant, role, document and
// variables share one execution per event (server/ws-shared.ts), and per-task subscriptions hear only
// their task (the bus's per-task topics). What each subscriber receives must not change: the same
// payloads as a subscription of its own, nothing of another tenant, its own filter applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { startTestServer, type TestClient, type TestServer, type TestSubscription } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`;
const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`;
/** One document for every subscriber: only tenant, role and variables tell them apart. */
const EVENTS = `subscription ($filter: TaskEventFilter) { taskEvents(filter: $filter) { taskId status attempt task { id args agent { name } } } }`;

let s: TestServer;
const keys = {} as Record<'acmeViewer' | 'acmeAdmin' | 'acmeSubmitter' | 'globexViewer' | 'globexSubmitter', string>;

beforeAll(async () => {
  s = await startTestServer({ AUTH: 'on' });
  const admin = s.as(s.adminKey);
  const key = async (tenantId: string, role: string) => (await admin.gqlOk(CREATE_KEY, { input: { name: `${tenantId} ${role}`, role, tenantId } })).createApiKey.secret as string;
  const acme = (await admin.gqlOk(`mutation { createTenant(name: "acme") { id } }`)).createTenant.id as string;
  const globex = (await admin.gqlOk(`mutation { createTenant(name: "globex") { id } }`)).createTenant.id as string;
  Object.assign(keys, {
    acmeViewer: await key(acme, 'viewer'),
    acmeAdmin: await key(acme, 'admin'),
    acmeSubmitter: await key(acme, 'submitter'),
    globexViewer: await key(globex, 'viewer'),
    globexSubmitter: await key(globex, 'submitter'),
  });
  await s.as(keys.acmeSubmitter).gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
  await s.as(keys.globexSubmitter).gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
});

afterAll(async () => {
  await s?.close();
});

const events = (sub: TestSubscription, ids: Set<string>) => sub.results.map((r) => r.data?.taskEvents).filter((e) => e && ids.has(e.taskId));

describe('shared taskEvents subscriptions', () => {
  it('deliver the same payloads to every subscriber of one tenant and role, their own filter applied, nothing of another tenant', async () => {
    const acmeSubmitter = s.as(keys.acmeSubmitter);
    const globexSubmitter = s.as(keys.globexSubmitter);
    // One WebSocket per client: three viewers of acme with the same document and no variables
    // (one feed), two on one socket, an admin of acme, a filtered viewer of acme, a viewer of globex.
    const clients: TestClient[] = [];
    const as = (key: string) => {
      const c = s.as(key);
      clients.push(c);
      return c;
    };
    const viewer1 = as(keys.acmeViewer);
    const viewers = [viewer1.subscribe(EVENTS), viewer1.subscribe(EVENTS), as(keys.acmeViewer).subscribe(EVENTS), as(keys.acmeViewer).subscribe(EVENTS, {})];
    const admin = as(keys.acmeAdmin).subscribe(EVENTS);
    const succeededOnly = as(keys.acmeViewer).subscribe(EVENTS, { filter: { status: ['SUCCEEDED'] } });
    const globex = as(keys.globexViewer).subscribe(EVENTS);
    const all = [...viewers, admin, succeededOnly, globex];

    // Submit in both tenants until every subscription provably receives events.
    await waitFor(
      'every subscription to receive events',
      async () => {
        await acmeSubmitter.gqlOk(SUBMIT, { input: { agent: 'hello' } });
        await globexSubmitter.gqlOk(SUBMIT, { input: { agent: 'hello' } });
        await sleep(200); // a pace, until all deliver
        return all.every((sub) => sub.results.length > 0);
      },
      { timeoutMs: 60_000, everyMs: 50 },
    );

    const acmeIds = new Set<string>();
    const globexIds = new Set<string>();
    for (let i = 0; i < 3; i++) {
      acmeIds.add((await acmeSubmitter.gqlOk(SUBMIT, { input: { agent: 'hello', args: [`a${i}`] } })).submitTask.id);
      globexIds.add((await globexSubmitter.gqlOk(SUBMIT, { input: { agent: 'hello', args: [`g${i}`] } })).submitTask.id);
    }
    const ended = (sub: TestSubscription, ids: Set<string>) => () => [...ids].every((id) => events(sub, ids).some((e) => e.taskId === id && e.status === 'SUCCEEDED'));
    for (const sub of [...viewers, admin, succeededOnly]) await waitFor('acme subscribers to see every acme task end', ended(sub, acmeIds), { timeoutMs: 60_000 });
    await waitFor('the globex subscriber to see every globex task end', ended(globex, globexIds), { timeoutMs: 60_000 });

    const seen = events(viewers[0]!, acmeIds);
    // Every change of every task, each carrying its task as the caller may see it.
    for (const id of acmeIds) expect(seen.filter((e) => e.taskId === id).map((e) => e.status)).toEqual(expect.arrayContaining(['QUEUED', 'SUCCEEDED']));
    for (const e of seen) expect(e.task).toMatchObject({ id: e.taskId, agent: { name: 'hello' } });
    for (const sub of [...viewers.slice(1), admin]) expect(events(sub, acmeIds)).toEqual(seen);
    expect(events(succeededOnly, acmeIds)).toEqual(seen.filter((e) => e.status === 'SUCCEEDED'));
    expect(succeededOnly.results.every((r) => r.data.taskEvents.status === 'SUCCEEDED')).toBe(true);

    // No tenant sees the other's tasks, whatever else they share.
    const tenantOf = (sub: TestSubscription) => new Set(sub.results.map((r) => r.data.taskEvents.taskId as string));
    for (const sub of [...viewers, admin, succeededOnly]) for (const id of tenantOf(sub)) expect(globexIds.has(id)).toBe(false);
    for (const id of tenantOf(globex)) expect(acmeIds.has(id)).toBe(false);
    expect(events(globex, globexIds).filter((e) => e.status === 'SUCCEEDED')).toHaveLength(3);

    // A subscriber that leaves does not end the others' feed.
    viewers[0]!.close();
    const later = (await acmeSubmitter.gqlOk(SUBMIT, { input: { agent: 'hello' } })).submitTask.id;
    await viewers[1]!.until((e) => e.taskEvents.taskId === later && e.taskEvents.status === 'SUCCEEDED', 30_000);
    for (const sub of all.slice(1)) sub.close();
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('per-task subscriptions', () => {
  it('taskUpdated and taskOutput hear only their own task, and complete when it ends', async () => {
    const submitter = s.as(keys.acmeSubmitter);
    const viewer = s.as(keys.acmeViewer);
    // Delayed a little so the subscriptions are surely in place before the tasks run.
    const runAt = new Date(Date.now() + 1500).toISOString();
    const ids: string[] = [];
    for (const arg of ['one', 'two', 'three']) ids.push((await submitter.gqlOk(SUBMIT, { input: { agent: 'hello', args: [arg], runAt } })).submitTask.id);
    const updated = ids.map((id) => viewer.subscribe(`subscription ($id: ID!) { taskUpdated(id: $id) { taskId status } }`, { id }));
    const output = ids.map((id) => viewer.subscribe(`subscription ($id: ID!) { taskOutput(id: $id) { taskId data } }`, { id }));
    await Promise.all([...updated, ...output].map((sub) => sub.ended));
    for (const [i, id] of ids.entries()) {
      const states = updated[i]!.results.map((r) => r.data.taskUpdated);
      expect(states.every((e) => e.taskId === id)).toBe(true);
      expect(states.at(-1)).toEqual({ taskId: id, status: 'SUCCEEDED' });
      const chunks = output[i]!.results.map((r) => r.data.taskOutput);
      expect(chunks.every((c) => c.taskId === id)).toBe(true);
      expect(chunks.map((c) => c.data).join('')).toBe(`hello from spindle ${['one', 'two', 'three'][i]}\n`);
    }
    await viewer.close();
  });
});
