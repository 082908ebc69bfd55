/**
 * Spans of a task's attempts (ExecutorOptions.tracer: OpenTelemetry's API only, the SDK is the
 * server's). Each attempt, on whichever node runs it, joins the trace its submit stored
 * (TaskRow.traceContext), or starts one of its own when the task carries none (then without
 * task.queued, which would be a trace of its own):
 *
 *   task.queued          from when it was due (submit, runAt, end of backoff) to its claim here
 *   task.attempt         from its claim to its result written; spindle.* ids, outcome, exit code
 *     task.run           the guest's run on a worker
 *     task.result.write  the statement that records it: a batched finish, or the claim-on-insert INSERT
 *
 * Made only when there is a tracer (NodeState.traces): without one the executor does none of this.
 */
import { propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { RunOutcome } from '../runtime/index.js';
import type { AttemptResult, TaskRow } from '../store/index.js';

/** The spans of one attempt, kept on its Run. */
export interface AttemptSpans {
  attempt: Span;
  /** The attempt's span as a parent. */
  context: Context;
  run?: Span;
  write?: Span;
}

export type AttemptTraces = ReturnType<typeof makeAttemptTraces>;

export function makeAttemptTraces(tracer: Tracer, node: string) {
  /** Results queued for writing or being written, and their spans (ended once written). */
  const writes = new WeakMap<AttemptResult, AttemptSpans>();

  /** The results' write spans begin (those of results with spans; a recovered lost attempt has none). */
  function writing(results: Iterable<AttemptResult>) {
    for (const r of results) {
      const spans = writes.get(r);
      if (spans) spans.write = tracer.startSpan('task.result.write', { attributes: { 'db.operation.name': 'finish' } }, spans.context);
    }
  }

  /** The write ended: the attempt's span too, unless it failed (the finisher writes it again). */
  function written(results: Iterable<AttemptResult>, err?: unknown) {
    for (const r of results) {
      const spans = writes.get(r);
      if (!spans?.write) continue;
      if (err !== undefined) {
        spans.write.recordException(err instanceof Error ? err : String(err));
        spans.write.setStatus({ code: SpanStatusCode.ERROR, message: 'result write failed' });
        spans.write.end();
        continue;
      }
      spans.write.end();
      spans.attempt.end();
      writes.delete(r);
    }
  }

  const attemptAttributes = (task: TaskRow, n: number): Attributes => ({
    'spindle.task.id': task.id,
    'spindle.tenant.id': task.tenantId,
    'spindle.agent.id': task.agentId,
    'spindle.task.attempt': n,
    'spindle.node': node,
  });

  return {
    /** A run of `task` (attempt `n`) was claimed here: its wait ends, its attempt begins. */
    claimed(task: TaskRow, n: number): AttemptSpans {
      const now = Date.now();
      if (!task.traceContext) {
        // No submit to join (it was not traced: traces were off on its node): the attempt is the root.
        const attempt = tracer.startSpan('task.attempt', { startTime: now, attributes: attemptAttributes(task, n) }, ROOT_CONTEXT);
        return { attempt, context: trace.setSpan(ROOT_CONTEXT, attempt) };
      }
      const parent = propagation.extract(ROOT_CONTEXT, task.traceContext);
      const attributes = attemptAttributes(task, n);
      const due = Math.max(task.queuedAt.getTime(), task.runAt.getTime());
      tracer.startSpan('task.queued', { startTime: Math.min(due, now), attributes }, parent).end(now);
      const attempt = tracer.startSpan('task.attempt', { startTime: now, attributes }, parent);
      return { attempt, context: trace.setSpan(parent, attempt) };
    },

    /** A worker took the run up. */
    started(spans: AttemptSpans) {
      spans.run = tracer.startSpan('task.run', {}, spans.context);
    },

    /** The run ended with `outcome`, whose `result` is to be written. */
    ended(spans: AttemptSpans, outcome: RunOutcome, result: AttemptResult) {
      const attributes: Attributes = { 'spindle.task.outcome': outcome.kind, 'spindle.task.next_status': result.next.status };
      if (outcome.exitCode !== null) attributes['process.exit.code'] = outcome.exitCode;
      spans.attempt.setAttributes(attributes);
      // A failure is an error; a cancel is what its caller asked for.
      if (outcome.kind !== 'cancelled' && (outcome.kind !== 'exited' || outcome.exitCode !== 0)) {
        const message = outcome.kind === 'exited' ? `exit code ${outcome.exitCode}` : outcome.kind;
        spans.attempt.setStatus({ code: SpanStatusCode.ERROR, message });
        spans.run?.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      spans.run?.end();
      writes.set(result, spans);
    },

    /** The run is not recorded (given back to the queue, or stopped before a worker took it up). */
    dropped(spans: AttemptSpans, why: string) {
      spans.attempt.setAttribute('spindle.task.dropped', why);
      spans.run?.end();
      spans.attempt.end();
    },

    writing,
    written,
  };
}
