// The spans of an attempt (src/executor/traces.ts) on a real tracer with an in-memory exporter:
// statuses per outcome, a failed result write, a run given back.
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { makeAttemptTraces } from '../../src/executor/traces.js';
import type { TaskRow } from '../../src/store/types.js';
import { makeAttemptResult, makeRunOutcome } from '../helpers/attempts.js';

const exporter = new InMemorySpanExporter();
const traces = makeAttemptTraces(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('test'), 'node-1');

let ids = 0;
/** A claimed task without a stored context: its attempt is the root of its trace. */
const task = () => ({ id: `t${++ids}`, tenantId: 'ten', agentId: 'ag', traceContext: null, attempts: 0, queuedAt: new Date(), runAt: new Date() }) as unknown as TaskRow;
const spansOf = (taskId: string) => {
  const attempt = exporter.getFinishedSpans().find((s) => s.name === 'task.attempt' && s.attributes['spindle.task.id'] === taskId);
  return attempt && exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === attempt.spanContext().traceId);
};

/** Claims, runs and writes one attempt ending in `outcome`; the spans of its trace. */
function attempt(outcome: ReturnType<typeof makeRunOutcome>, next: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' = 'FAILED') {
  const t = task();
  const spans = traces.claimed(t, 1);
  traces.started(spans);
  const result = makeAttemptResult({ taskId: t.id, n: 1, node: 'node-1', next: { status: next } });
  traces.ended(spans, outcome, result);
  traces.writing([result]);
  traces.written([result]);
  return spansOf(t.id)!;
}

const status = (spans: ReturnType<typeof attempt>, name: string) => spans.find((s) => s.name === name)!.status;

describe('attempt spans', () => {
  it('leave a success unset, and mark a nonzero exit and a timeout as errors on the attempt and its run', () => {
    const ok = attempt(makeRunOutcome(), 'SUCCEEDED');
    expect(ok.map((s) => s.name).sort()).toEqual(['task.attempt', 'task.result.write', 'task.run']);
    expect(status(ok, 'task.attempt').code).toBe(SpanStatusCode.UNSET);
    expect(ok.find((s) => s.name === 'task.attempt')!.attributes).toMatchObject({ 'spindle.task.outcome': 'exited', 'process.exit.code': 0, 'spindle.task.next_status': 'SUCCEEDED', 'spindle.node': 'node-1' });

    const exit = attempt(makeRunOutcome({ exitCode: 2 }));
    expect(status(exit, 'task.attempt')).toEqual({ code: SpanStatusCode.ERROR, message: 'exit code 2' });

    const timeout = attempt(makeRunOutcome({ kind: 'timeout', exitCode: null }));
    expect(status(timeout, 'task.attempt')).toEqual({ code: SpanStatusCode.ERROR, message: 'timeout' });
    expect(status(timeout, 'task.run')).toEqual({ code: SpanStatusCode.ERROR, message: 'timeout' });
    expect(timeout.find((s) => s.name === 'task.attempt')!.attributes['process.exit.code']).toBeUndefined();
  });

  it('leave a cancel unset: it is what its caller asked for', () => {
    const cancelled = attempt(makeRunOutcome({ kind: 'cancelled', exitCode: null }), 'CANCELLED');
    expect(status(cancelled, 'task.attempt').code).toBe(SpanStatusCode.UNSET);
    expect(cancelled.find((s) => s.name === 'task.attempt')!.attributes['spindle.task.outcome']).toBe('cancelled');
  });

  it('end the attempt only once its result is written: a failed write is an error span, the rewrite ends it', () => {
    const t = task();
    const spans = traces.claimed(t, 1);
    const result = makeAttemptResult({ taskId: t.id, n: 1, node: 'node-1' });
    traces.ended(spans, makeRunOutcome(), result);
    traces.writing([result]);
    traces.written([result], new Error('connection lost'));
    expect(spansOf(t.id)).toBeUndefined();
    const failed = exporter.getFinishedSpans().filter((s) => s.name === 'task.result.write' && s.parentSpanContext?.spanId === spans.attempt.spanContext().spanId);
    expect(failed.map((s) => s.status)).toEqual([{ code: SpanStatusCode.ERROR, message: 'result write failed' }]);
    expect(failed[0]!.events.map((e) => e.name)).toEqual(['exception']);

    traces.writing([result]);
    traces.written([result]);
    expect(spansOf(t.id)!.filter((s) => s.name === 'task.result.write')).toHaveLength(2);
  });

  it('end a run that is not recorded, saying why', () => {
    const t = task();
    traces.dropped(traces.claimed(t, 1), 'released');
    expect(spansOf(t.id)!.find((s) => s.name === 'task.attempt')!.attributes['spindle.task.dropped']).toBe('released');
  });
});
