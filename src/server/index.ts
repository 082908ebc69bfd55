/**
 * makeServer: one http.Server for everything — GraphQL over HTTP and WebSocket at /graphql,
 * POST /modules, /healthz, /metrics and the dashboard at "/". ROLE=worker serves only /healthz and
 * /metrics. With METRICS_PORT, /metrics moves to a server of its own on that port (no
 * authentication: a scrape target behind the operator's firewall); on the main port with AUTH on,
 * it answers only a system admin key (the figures span every tenant).
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { hasRole, type Principal } from '../domain/index.js';
import type { Config } from '../config/index.js';
import type { EventBus, Executor } from '../executor/types.js';
import { makeSchema } from '../graphql/schema.js';
import type { Runtime } from '../runtime/types.js';
import type { Services } from '../services/index.js';
import type { Store } from '../store/index.js';
import { dashboardRouter, DEFAULT_DASHBOARD_DIR } from './dashboard.js';
import { explorerHandler } from './explorer.js';
import { badBody, unexpectedError } from './graphql-http.js';
import { authenticate, GRAPHQL_PATH, startGraphQL, type GraphQLTransports } from './graphql.js';
import { healthHandler } from './health.js';
import { requestLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { fail, modulesHandler } from './modules.js';
import { requestLog } from './request-log.js';
import { traceRequests } from './tracing.js';

export interface ServerDeps {
  config: Config;
  /** The use cases the API serves (GraphQL, POST /modules), and the stats /metrics reads. */
  services: Services;
  /** For /healthz. */
  store: Store;
  runtime: Runtime;
  executor: Executor;
  bus: EventBus;
  logger: Logger;
  /** Give the one whose `submitted` the services count with, and that instruments the runtime the executor uses. */
  metrics: Metrics;
  /** Traces on (server/tracing.ts): a span per API request. */
  tracer?: Tracer;
  /** Dashboard directory (default web/dist). */
  dashboardDir?: string;
}

export interface SpindleServer {
  /** metricsUrl: where /metrics is served (on `url` unless METRICS_PORT is set). */
  listen(): Promise<{ url: string; graphqlUrl: string; wsUrl: string; metricsUrl: string }>;
  close(): Promise<void>;
  httpServer: HttpServer;
}

export async function makeServer(deps: ServerDeps): Promise<SpindleServer> {
  const { config, services, store, runtime, executor, bus, logger, metrics, tracer } = deps;

  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(logger), metrics.http);
  // POST /graphql with a plain JSON body skips Express (graphql-http.ts); set once GraphQL is up.
  let fastGraphql: ((req: IncomingMessage, res: ServerResponse) => boolean) | null = null;
  const httpServer = createServer((req, res) => {
    if (!fastGraphql?.(req, res)) app(req, res);
  });

  const scrape: RequestHandler = async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
  let metricsServer: HttpServer | null = null;
  if (config.metricsPort === undefined) {
    app.get('/metrics', ...(config.auth.enabled ? [authenticate(services.auth), systemAdminOnly] : []), scrape);
  } else {
    app.get('/metrics', (_req, res) => fail(res, 404, 'NOT_FOUND', '/metrics is served on METRICS_PORT'));
    const metricsApp = express();
    metricsApp.disable('x-powered-by');
    metricsApp.get('/metrics', scrape);
    metricsServer = createServer(metricsApp);
  }
  app.get('/healthz', healthHandler({ config, store, bus }));

  let graphql: GraphQLTransports | null = null;
  if (config.role !== 'worker') {
    graphql = await startGraphQL(await makeSchema(bus.pubsub), { config, services, pubsub: bus.pubsub, logger }, httpServer, metrics, tracer);
    fastGraphql = graphql.http;
    app.post('/modules', ...(tracer ? [traceRequests(tracer, '/modules')] : []), modulesHandler({ services, logger }));
    app.get(GRAPHQL_PATH, explorerHandler({ dir: deps.dashboardDir ?? DEFAULT_DASHBOARD_DIR, enabled: config.graphql.introspection }));
    app.use(GRAPHQL_PATH, ...(tracer ? [traceRequests(tracer, GRAPHQL_PATH)] : []), ...graphql.middleware);
    app.use(dashboardRouter(deps.dashboardDir));
  }
  app.use((_req, res) => fail(res, 404, 'NOT_FOUND', 'no such route'));
  app.use(errorHandler(logger));
  const detachMetrics = metrics.attach({ bus, executor, runtime, stats: services.stats, webSockets: graphql?.webSockets });

  let closing: Promise<void> | null = null;
  return {
    httpServer,
    async listen() {
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const port = await listenOn(httpServer, config.port, config.host);
      const url = `http://${host}:${port}`;
      const metricsUrl = metricsServer ? `http://${host}:${await listenOn(metricsServer, config.metricsPort!, config.host)}/metrics` : `${url}/metrics`;
      return { url, graphqlUrl: `${url}${GRAPHQL_PATH}`, wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}`, metricsUrl };
    },
    close() {
      return (closing ??= (async () => {
        detachMetrics();
        if (metricsServer) await closeHttp(metricsServer);
        if (graphql) await graphql.stop(); // drains WebSockets, then HTTP
        else await closeHttp(httpServer);
      })());
    },
  };
}

/** Listens and answers the port (the one chosen when asked for 0). */
async function listenOn(server: HttpServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** /metrics on the API's port with AUTH on, after `authenticate`: cluster-wide figures for a system admin key only. */
const systemAdminOnly: RequestHandler = (_req, res, next) => {
  const principal = res.locals.principal as Principal;
  if (principal.system && hasRole(principal, 'admin')) return next();
  fail(res, 403, 'FORBIDDEN', '/metrics needs a system admin key (or set METRICS_PORT to serve it apart)');
};

function closeHttp(server: HttpServer): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5000).unref();
  });
}

/** Body-parser failures answer in GraphQL's error shape; anything else is logged and masked. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (res.headersSent) return void res.end();
    if (status === 413) {
      return void res.status(413).json({ errors: [{ message: `request body exceeds the maximum of ${err.limit} bytes (MAX_REQUEST_BYTES)`, extensions: { code: 'LIMIT_EXCEEDED' } }] });
    }
    if (status >= 400 && status < 500 && err?.type) return void res.status(status).json(badBody(err.message));
    const requestId = res.locals.requestId as string | undefined;
    res.status(500).json(unexpectedError(requestId === undefined ? logger : requestLogger(logger, requestId), err, req.method, req.originalUrl));
  };
}
