// /metrics by Prometheus conventions: one prefix, waiting work apart from the ends, request and
// WebSocket figures, retries; who may read it (AUTH=on) and where (METRICS_PORT); and the Grafana
// dashboard in docs/ queries only metrics that exist.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const wat = (name: string) => readFile(new URL(`../fixtures/wat/${name}.wat`, import.meta.url), 'utf8');
const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`;
const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;
const STATUS = `query ($id: ID!) { task(id: $id) { status } }`;

/** The samples of one metric: label set (as printed) → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

describe('metrics on the API port (AUTH off)', () => {
  let s: TestServer;
  let text: string;

  beforeAll(async () => {
    s = await startTestServer();
    await s.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
    await s.gqlOk(REGISTER, { input: { name: 'exit-code', wat: await wat('exit_code') } });
    const ok = (await s.gqlOk(SUBMIT, { input: { agent: 'hello' } })).submitTask.id;
    const retried = (await s.gqlOk(SUBMIT, {
      input: { agent: 'exit-code', args: ['3'], retryPolicy: { maxAttempts: 2, initialBackoffMs: 0, maxBackoffMs: 0, retryOn: ['nonzero_exit'] } },
    })).submitTask.id;
    for (const id of [ok, retried]) {
      await waitFor(`task ${id} to end`, async () => ['SUCCEEDED', 'FAILED'].includes((await s.gqlOk(STATUS, { id })).task.status), { timeoutMs: 30_000 });
    }
    // A subscription stays open while /metrics is read.
    const sub = s.subscribe(`subscription { taskEvents { taskId } }`);
    text = await waitFor('the subscription to show in /metrics', async () => {
      const t = await (await fetch(s.metricsUrl)).text();
      return samples(t, 'spindle_websocket_subscriptions').get('') === 1 && t;
    }, { timeoutMs: 10_000 });
    sub.close();
  });
  afterAll(() => s?.close());

  it('prefixes the default process metrics once', () => {
    expect(s.metricsUrl).toBe(`${s.url}/metrics`);
    expect(samples(text, 'spindle_process_cpu_seconds_total').get('')).toBeGreaterThan(0);
    expect(text).toMatch(/^spindle_nodejs_eventloop_lag_p99_seconds /m);
    expect(text).not.toMatch(/spindle_process_process_|^process_/m);
  });

  it('counts waiting work in spindle_queue_depth and every status in spindle_tasks', () => {
    expect([...samples(text, 'spindle_queue_depth').keys()].sort()).toEqual(['{status="QUEUED"}', '{status="RETRYING"}']);
    const tasks = samples(text, 'spindle_tasks');
    expect(tasks.get('{status="SUCCEEDED"}')).toBe(1);
    expect(tasks.get('{status="FAILED"}')).toBe(1);
    expect(tasks.get('{status="RUNNING"}')).toBe(0);
  });

  it('counts retries, HTTP and GraphQL requests by route and root field, and WebSockets', () => {
    expect(samples(text, 'spindle_task_retries_total').get('')).toBe(1);
    // Three attempts started (hello, and exit-code twice), each after a wait since it was due.
    expect(samples(text, 'spindle_queue_wait_seconds_count').get('')).toBe(3);
    expect(samples(text, 'spindle_lease_recoveries_total')).toEqual(new Map([['{kind="requeued"}', 0], ['{kind="lost_attempt"}', 0]]));
    expect(samples(text, 'spindle_http_request_duration_seconds_count').get('{route="/graphql",method="POST",code="200"}')).toBeGreaterThanOrEqual(5);
    const graphql = samples(text, 'spindle_graphql_request_duration_seconds_count');
    expect(graphql.get('{type="mutation",field="submitTask",result="ok"}')).toBe(2);
    expect(graphql.get('{type="mutation",field="registerAgent",result="ok"}')).toBe(2);
    expect(graphql.get('{type="query",field="task",result="ok"}')).toBeGreaterThanOrEqual(2);
    expect(samples(text, 'spindle_websocket_connections').get('')).toBe(1);
  });

  it('labels failed operations and unknown routes without unbounded values', async () => {
    await s.gql(`{ task(id: "not-an-id") { id } }`);
    await s.gql(`{ nope }`);
    await fetch(`${s.url}/no/such/route/${Math.random()}`, { method: 'POST' });
    const t = await (await fetch(s.metricsUrl)).text();
    const graphql = samples(t, 'spindle_graphql_request_duration_seconds_count');
    expect(graphql.get('{type="query",field="task",result="error"}')).toBe(1);
    expect(graphql.get('{type="invalid",field="none",result="error"}')).toBe(1);
    expect(samples(t, 'spindle_http_request_duration_seconds_count').get('{route="other",method="POST",code="404"}')).toBe(1);
  });

  it('the Grafana dashboard queries only metrics that exist', async () => {
    const dashboard = JSON.parse(await readFile(new URL('../../docs/grafana/spindle.json', import.meta.url), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    const names = new Set(exprs.flatMap((e) => e.match(/\bspindle_[a-z0-9_]+/g) ?? []));
    expect(names.size).toBeGreaterThan(15);
    const missing = [...names].filter((n) => samples(text, n).size === 0);
    expect(missing).toEqual([]);
  });
});

describe('who may read /metrics, and where', () => {
  it('with AUTH=on and no METRICS_PORT, /metrics answers a system admin key only', async () => {
    const s = await startTestServer({ AUTH: 'on' });
    try {
      const { createApiKey } = await s.as(s.adminKey).gqlOk(`mutation { createApiKey(input: { name: "m", role: submitter }) { secret } }`);
      const as = (key: string | null) => fetch(s.metricsUrl, key ? { headers: { authorization: `Bearer ${key}` } } : {});
      const none = await as(null);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="spindle"');
      const submitter = await as(createApiKey.secret);
      expect(submitter.status).toBe(403);
      expect(((await submitter.json()) as { error: { message: string } }).error.message).toMatch(/system admin key.*METRICS_PORT/);
      const admin = await as(s.adminKey);
      expect(admin.status).toBe(200);
      expect(await admin.text()).toMatch(/^spindle_pool_workers /m);
    } finally {
      await s.close();
    }
  });

  it('with METRICS_PORT, /metrics is served on that port alone, without a key', async () => {
    const s = await startTestServer({ AUTH: 'on', METRICS_PORT: '0' });
    try {
      expect(new URL(s.metricsUrl).port).not.toBe(new URL(s.url).port);
      const scrape = await fetch(s.metricsUrl);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toMatch(/^spindle_pool_workers /m);
      expect((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.adminKey}` } })).status).toBe(404);
      expect((await fetch(new URL('/graphql', s.metricsUrl), { method: 'POST' })).status).toBe(404);
    } finally {
      await s.close();
    }
  });
});
