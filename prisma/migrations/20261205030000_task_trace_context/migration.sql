-- OpenTelemetry traces: the W3C trace context of the request that submitted a task
-- ({"traceparent": …, "tracestate": …}), so each attempt, on whichever node claims it, joins the
-- submit's trace. Written in the task's INSERT; NULL when traces are off.
-- AlterTable
ALTER TABLE "task" ADD COLUMN     "trace_context" JSONB;
