// OpenTelemetry traces: a task's attempts, on whichever node runs them, join the trace of the
// request that submitted it (its W3C context is stored with the task). Spans go to an in-memory
// exporter (compose.ts spanProcessor). With traces off nothing is stored and no span is made.
//
// The two-node case needs PostgreSQL and Redis (like api-cluster.test.ts): registered only with
// them, and a failure when SPINDLE_REQUIRE_SERVICES=1 lacks them.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { startedNodes, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const haveServices = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';

const exporter = new InMemorySpanExporter();
const start = startedNodes();

/** A caller's trace: a fresh trace id and the span id of its (client) span. */
function callerTrace() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Submits over HTTP with the caller's `traceparent`, as a named operation. */
async function submit(s: TestServer, traceparent: string, input: Record<string, unknown>): Promise<string> {
  const res = await fetch(s.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent },
    body: JSON.stringify({ query: 'mutation Submit($input: SubmitTaskInput!) { submitTask(input: $input) { id } }', variables: { input } }),
  });
  const body = (await res.json()) as { data?: { submitTask: { id: string } }; errors?: unknown };
  if (!body.data) throw new Error(`submit failed: ${JSON.stringify(body.errors)}`);
  return body.data.submitTask.id;
}

const inTrace = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The spans of a task's trace once `attempts` attempts are written (their spans end last). */
function attemptsWritten(traceId: string, attempts: number) {
  return waitFor(`${attempts} attempt(s) traced`, () => {
    const spans = inTrace(traceId);
    return named(spans, 'task.attempt').length === attempts && spans;
  });
}

let s: TestServer;
let off: TestServer;
beforeAll(async () => {
  // Side by side: most of each start is the embedded database's.
  [s, off] = await Promise.all([start({}, { spanProcessor: new SimpleSpanProcessor({ exporter }) }), start()]);
});

describe('traces on', () => {
  beforeAll(async () => {
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "exit-code", wat: $w}) { id } }`, { w: await readFile(new URL('../fixtures/wat/exit_code.wat', import.meta.url), 'utf8') });
  });

  it('follows a task from the submit request through its attempt to its result write, in the caller\'s trace', async () => {
    const caller = callerTrace();
    const id = await submit(s, caller.traceparent, { agent: 'hello' });
    const spans = await attemptsWritten(caller.traceId, 1);

    const [request] = named(spans, 'POST /graphql');
    expect(request).toBeDefined();
    expect(request!.kind).toBe(SpanKind.SERVER);
    expect(parentOf(request!)).toBe(caller.spanId);
    expect(request!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.path': '/graphql',
      'http.response.status_code': 200,
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Submit',
    });
    const [attempt] = named(spans, 'task.attempt');
    expect(parentOf(attempt!)).toBe(request!.spanContext().spanId);
    expect(attempt!.attributes).toMatchObject({
      'spindle.task.id': id,
      'spindle.task.attempt': 1,
      'spindle.node': s.spindle.config.nodeId,
      'spindle.task.outcome': 'exited',
      'process.exit.code': 0,
      'spindle.task.next_status': 'SUCCEEDED',
    });
    expect(attempt!.status.code).toBe(SpanStatusCode.UNSET);
    const [queued] = named(spans, 'task.queued');
    expect(parentOf(queued!)).toBe(request!.spanContext().spanId);
    for (const child of ['task.run', 'task.result.write']) {
      expect(named(spans, child).map(parentOf), child).toEqual([attempt!.spanContext().spanId]);
    }
    expect(attempt!.resource.attributes).toMatchObject({ 'service.name': 'spindle', 'service.instance.id': s.spindle.config.nodeId });

    const [row] = await s.spindle.store.tasks.getMany([id]);
    expect(row!.traceContext).toEqual({ traceparent: expect.stringContaining(caller.traceId) });
  });

  it('gives each attempt of a retried task its own span in the same trace, failures marked as errors', async () => {
    const caller = callerTrace();
    const id = await submit(s, caller.traceparent, {
      agent: 'exit-code',
      args: ['3'],
      retryPolicy: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 10, retryOn: ['nonzero_exit'] },
    });
    const spans = await attemptsWritten(caller.traceId, 2);
    const attempts = named(spans, 'task.attempt').sort((a, b) => Number(a.attributes['spindle.task.attempt']) - Number(b.attributes['spindle.task.attempt']));
    expect(attempts.map((a) => [a.attributes['spindle.task.id'], a.attributes['spindle.task.attempt'], a.attributes['spindle.task.next_status']])).toEqual([
      [id, 1, 'RETRYING'],
      [id, 2, 'FAILED'],
    ]);
    for (const a of attempts) expect(a.status).toEqual({ code: SpanStatusCode.ERROR, message: 'exit code 3' });
    const [request] = named(spans, 'POST /graphql');
    expect(new Set(attempts.map(parentOf))).toEqual(new Set([request!.spanContext().spanId]));
    expect(named(spans, 'task.result.write')).toHaveLength(2);
  });
  it('gives a mutation over WebSocket a span of its own, which its task joins', async () => {
    const sub = s.subscribe<{ submitTask: { id: string } }>('mutation SubmitOverWs { submitTask(input: {agent: "hello"}) { id } }');
    const { id } = (await sub.next()).submitTask;
    const attempt = await waitFor('its attempt traced', () => exporter.getFinishedSpans().find((sp) => sp.name === 'task.attempt' && sp.attributes['spindle.task.id'] === id));
    const [operation] = named(inTrace(attempt.spanContext().traceId), 'mutation SubmitOverWs');
    expect(operation!.parentSpanContext).toBeUndefined();
    expect(operation!.kind).toBe(SpanKind.SERVER);
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'SubmitOverWs' });
    expect(parentOf(attempt)).toBe(operation!.spanContext().spanId);
  });
});

describe('traces off', () => {
  it('stores no trace context and makes no span', async () => {
    await off.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
    const caller = callerTrace();
    const id = await submit(off, caller.traceparent, { agent: 'hello' });
    await waitFor('the task to succeed', async () => (await off.spindle.store.tasks.getMany([id]))[0]?.status === 'SUCCEEDED');
    const [row] = await off.spindle.store.tasks.getMany([id]);
    expect(row!.traceContext).toBeNull();
    expect(inTrace(caller.traceId)).toEqual([]);
  });
});

if (haveServices) {
  describe('two nodes on PostgreSQL + Redis', () => {
    it('a task submitted on node A (api) and run on node B (worker) is in the submit\'s trace', async () => {
      const b = await start({ ROLE: 'worker' }, { spanProcessor: new SimpleSpanProcessor({ exporter }) });
      const a = await start({ ROLE: 'api' }, { storeOptions: b.storeOptions, spanProcessor: new SimpleSpanProcessor({ exporter }) });
      await a.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
      const caller = callerTrace();
      const id = await submit(a, caller.traceparent, { agent: 'hello' });
      const spans = await attemptsWritten(caller.traceId, 1);
      const [request] = named(spans, 'POST /graphql');
      const [attempt] = named(spans, 'task.attempt');
      expect(request!.resource.attributes['service.instance.id']).toBe(a.spindle.config.nodeId);
      expect(parentOf(attempt!)).toBe(request!.spanContext().spanId);
      expect(attempt!.attributes).toMatchObject({ 'spindle.task.id': id, 'spindle.node': b.spindle.config.nodeId });
      expect(attempt!.resource.attributes['service.instance.id']).toBe(b.spindle.config.nodeId);
      expect(named(spans, 'task.result.write').map(parentOf)).toEqual([attempt!.spanContext().spanId]);
    });
  });
} else if (servicesRequired) {
  describe('two nodes on PostgreSQL + Redis', () => {
    it('needs DATABASE_URL and REDIS_URL (SPINDLE_REQUIRE_SERVICES=1)', () => {
      expect.fail('SPINDLE_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set');
    });
  });
}
