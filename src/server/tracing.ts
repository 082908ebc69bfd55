/**
 * OpenTelemetry traces (README "Traces"), off unless the OTEL_* options ask for them (config.traces).
 * On, the node gets a TracerProvider of its own, whose resource names it (service.instance.id =
 * NODE_ID), and hands its tracer down to the executor; the W3C propagator and the async-context
 * manager are registered globally, once per process (they hold no state of a node), so the
 * services see the request's span in `context.active()`. Several nodes may share a process (the
 * tests do), which is why the provider itself is not made the global one.
 *
 * Off, nothing is registered and no tracer is handed down: the hot paths test for its absence and
 * do no tracing work at all.
 *
 * Spans made here: one SERVER span per HTTP request to /graphql and /modules (continuing the
 * caller's `traceparent`), with the GraphQL operation's name and type once Apollo resolved it; one
 * per query or mutation over a WebSocket.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Sampler, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { RequestHandler } from 'express';
import { execute, getOperationAST, type ExecutionArgs } from 'graphql';
import type { Config, TracesConfig } from '../config/index.js';

/** The instrumentation scope of every span Spindle makes. */
const SCOPE = 'spindle';

export interface Tracing {
  tracer: Tracer;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * The node's tracing, or null when traces are off. `processor` (tests) receives the spans instead
 * of the configured exporter, and switches traces on whatever the config says. The SDK is loaded
 * only then: off, it would be ~8 MiB of a node's memory for nothing.
 */
export async function startTracing(config: Config, processor?: SpanProcessor): Promise<Tracing | null> {
  const traces = config.traces;
  if (!processor && traces.exporter === 'none') return null;
  const [sdk, { resourceFromAttributes }] = await Promise.all([import('@opentelemetry/sdk-trace'), import('@opentelemetry/resources')]);
  await registerGlobals();
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ 'service.name': traces.serviceName, 'service.instance.id': config.nodeId }),
    sampler: sampler(sdk, traces),
    spanProcessors: [processor ?? new sdk.BatchSpanProcessor({ exporter: await exporter(sdk, traces) })],
  });
  return { tracer: provider.getTracer(SCOPE), shutdown: () => provider.shutdown() };
}

type Sdk = typeof import('@opentelemetry/sdk-trace');

let registered: Promise<void> | null = null;

/** Process-wide and stateless: registered once, never taken back (another node may still use them). */
function registerGlobals(): Promise<void> {
  return (registered ??= (async () => {
    const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }] = await Promise.all([
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
    ]);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  })());
}

/** The values go in explicitly, from the config table: nothing here reads the environment behind it. */
async function exporter(sdk: Sdk, traces: TracesConfig) {
  if (traces.exporter === 'console') return new sdk.ConsoleSpanExporter();
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter({ url: traces.url, headers: traces.headers });
}

function sampler(sdk: Sdk, { sampler: name, samplerRatio }: TracesConfig): Sampler {
  const root = name.endsWith('always_off')
    ? new sdk.AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new sdk.TraceIdRatioBasedSampler(samplerRatio)
      : new sdk.AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root }) : root;
}

/**
 * A SERVER span per request (HTTP semantic conventions), child of the caller's `traceparent` if
 * any, active while the request is handled: a submit stores it with its tasks.
 */
export function traceRequests(tracer: Tracer, route: string): RequestHandler {
  return (req, res, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'http.route': route, 'url.path': req.originalUrl.split('?')[0], 'url.scheme': 'http' } },
      parent,
    );
    const end = () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    // 'close' alone: the client went away before the answer.
    res.once('close', end);
    context.with(trace.setSpan(parent, span), next);
  };
}

/**
 * graphql-ws's `execute` with a SERVER span per query or mutation over a WebSocket, active while it
 * runs (a submit stores it with its tasks). Subscriptions, open for hours, get none. The root of a
 * trace: a WebSocket message carries no `traceparent`.
 */
export function tracedExecute(tracer: Tracer): (args: ExecutionArgs) => ReturnType<typeof execute> {
  return async (args) => {
    const operation = getOperationAST(args.document, args.operationName);
    const type = operation?.operation ?? 'query';
    const name = operation?.name?.value;
    const span = tracer.startSpan(name ? `${type} ${name}` : type, {
      kind: SpanKind.SERVER,
      attributes: { 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}), 'network.protocol.name': 'websocket' },
    }, ROOT_CONTEXT);
    try {
      return await context.with(trace.setSpan(ROOT_CONTEXT, span), () => execute(args));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  };
}

/** Names the GraphQL operation on the request's span (graphql.operation.* conventions). */
export const tracedOperations: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operationName, operation }) {
        const span = trace.getActiveSpan();
        if (!span || !operation) return;
        span.setAttribute('graphql.operation.type', operation.operation);
        if (operationName) span.setAttribute('graphql.operation.name', operationName);
      },
    };
  },
};
