// Roles and clusters. ROLE=worker serves only /healthz and /metrics; ROLE=api serves the API but
// executes nothing. With PostgreSQL and Redis (DATABASE_URL, REDIS_URL), two nodes share the work:
// a subscriber on node A (api) sees the tasks node B (worker) executes.
//
// The two-node test needs both services. Without them it is not registered — unless
// SPINDLE_REQUIRE_SERVICES=1 (set by CI's services pass), where their absence FAILS the suite:
// CI can never go green by silently skipping it.
import { describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { startedNodes, type TestServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

const haveServices = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';

const start = startedNodes();

describe('roles', () => {
  it('ROLE=worker serves only /healthz and /metrics', async () => {
    const w = await start({ ROLE: 'worker' });
    expect((await fetch(`${w.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${w.url}/metrics`)).text()).toMatch(/spindle_pool_workers 2/);
    const gql = await fetch(w.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ agents { id } }"}' });
    expect(gql.status).toBe(404);
    expect((await fetch(`${w.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(8) })).status).toBe(404);
    expect((await fetch(`${w.url}/`)).status).toBe(404);
  });

  it('ROLE=api accepts tasks but runs none', async () => {
    const a = await start({ ROLE: 'api' });
    await a.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
    const { submitTask } = await a.gqlOk(`mutation { submitTask(input: {agent: "hello"}) { id status } }`);
    await sleep(1500); // no node runs it meanwhile
    const { task } = await a.gqlOk(`query ($id: ID!) { task(id: $id) { status attempts } }`, { id: submitTask.id });
    expect(task).toEqual({ status: 'QUEUED', attempts: 0 });
  });
});

if (haveServices) {
  describe('two nodes on PostgreSQL + Redis', () => {
    it('a subscriber on node A (api) sees tasks executed on node B (worker)', { timeout: 120_000 }, async () => {
      const b = await start({ ROLE: 'worker' });
      const a = await start({ ROLE: 'api' }, { storeOptions: b.storeOptions });
      expect(a.spindle.bus.kind).toBe('redis');
      await a.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });

      const events = a.subscribe<{ taskEvents: { taskId: string; status: string } }>(`subscription { taskEvents(filter: { agent: "hello" }) { taskId status } }`);
      await sleep(500); // let the subscription reach node A (nothing to observe it by)
      const { submitTask } = await a.gqlOk(`mutation { submitTask(input: {agent: "hello", args: ["from", "A"], runAt: "${new Date(Date.now() + 1500).toISOString()}"}) { id } }`);
      const updated = a.subscribe<{ taskUpdated: { status: string } }>(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: submitTask.id });
      const output = a.subscribe<{ taskOutput: { data: string } }>(`subscription ($id: ID!) { taskOutput(id: $id) { data } }`, { id: submitTask.id });

      const statuses = (await updated.until((e) => e.taskUpdated.status === 'SUCCEEDED', 60_000)).map((e) => e.taskUpdated.status);
      expect(statuses).toContain('RUNNING');
      const seen = await events.until((e) => e.taskEvents.taskId === submitTask.id && e.taskEvents.status === 'SUCCEEDED', 30_000);
      // RUNNING and SUCCEEDED come from node B through Redis (QUEUED, from A itself, may precede them).
      expect(seen.filter((e) => e.taskEvents.taskId === submitTask.id && e.taskEvents.status !== 'QUEUED').map((e) => e.taskEvents.status)).toEqual([
        'RUNNING',
        'SUCCEEDED',
      ]);
      await output.ended;
      expect(output.results.map((r) => r.data!.taskOutput.data).join('')).toBe('hello from spindle from A\n');

      const { task } = await a.gqlOk(`query ($id: ID!) { task(id: $id) { stdout attemptList { node } } }`, { id: submitTask.id });
      expect(task.stdout).toBe('hello from spindle from A\n');
      expect(task.attemptList.map((x: { node: string }) => x.node)).toEqual([b.spindle.config.nodeId]);
    });
  });
} else if (servicesRequired) {
  describe('two nodes on PostgreSQL + Redis', () => {
    it('runs (SPINDLE_REQUIRE_SERVICES=1)', () => {
      throw new Error(
        `SPINDLE_REQUIRE_SERVICES=1 but ${[!process.env.DATABASE_URL && 'DATABASE_URL', !process.env.REDIS_URL && 'REDIS_URL'].filter(Boolean).join(' and ')} ` +
          'is not set: the cross-node test (node A api, node B worker) cannot run.',
      );
    });
  });
} else {
  console.warn('api-cluster: DATABASE_URL and REDIS_URL are not both set; the two-node test is not registered (CI sets SPINDLE_REQUIRE_SERVICES=1 to require it).');
}
