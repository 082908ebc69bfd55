/**
 * makeServer: one http.Server for everything — GraphQL over HTTP and WebSocket at /graphql,
 * POST /modules, /healthz, /metrics and the dashboard at "/". ROLE=worker serves only /healthz and
 * /metrics.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import type { Config } from '../config/index.js';
import type { EventBus, Executor } from '../executor/types.js';
import { makeAuthenticator } from '../graphql/auth.js';
import type { GraphQLDeps } from '../graphql/context.js';
import { makeQuotas } from '../graphql/quota.js';
import { makeAgentCache } from '../graphql/agent.cache.js';
import { makeSchema } from '../graphql/schema.js';
import { makeStatsService } from '../graphql/stats.service.js';
import type { Runtime } from '../runtime/types.js';
import type { Store } from '../store/types.js';
import { dashboardRouter } from './dashboard.js';
import { GRAPHQL_PATH, startGraphQL, type GraphQLTransports } from './graphql.js';
import { healthHandler } from './health.js';
import type { Logger } from './logger.js';
import { makeMetrics, type Metrics } from './metrics.js';
import { fail, modulesHandler } from './modules.js';

export interface ServerDeps {
  config: Config;
  store: Store;
  runtime: Runtime;
  executor: Executor;
  bus: EventBus;
  logger: Logger;
  /** Made here when not given; give one to instrument the runtime the executor uses. */
  metrics?: Metrics;
  /** Dashboard directory (default web/dist). */
  dashboardDir?: string;
}

export interface SpindleServer {
  listen(): Promise<{ url: string; graphqlUrl: string; wsUrl: string }>;
  close(): Promise<void>;
  httpServer: HttpServer;
}

export async function makeServer(deps: ServerDeps): Promise<SpindleServer> {
  const { config, store, runtime, executor, bus, logger } = deps;
  const metrics = deps.metrics ?? makeMetrics();
  const stats = makeStatsService({ store, executor, node: config.nodeId });
  const detachMetrics = metrics.attach({ bus, executor, runtime, stats });

  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);

  app.get('/healthz', healthHandler({ config, store, bus }));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  let graphql: GraphQLTransports | null = null;
  if (config.role !== 'worker') {
    const authenticator = makeAuthenticator({ store, enabled: config.auth.enabled, onTouchError: (err) => logger.warn({ err }, 'could not record an API key use') });
    const quotas = makeQuotas({ config, store, stats });
    const gqlDeps: GraphQLDeps = { config, store, runtime, executor, pubsub: bus.pubsub, stats, logger, authenticator, quotas, agentCache: makeAgentCache(store), onSubmitted: metrics.submitted };
    graphql = await startGraphQL(await makeSchema(bus.pubsub), gqlDeps, httpServer);
    app.post('/modules', modulesHandler({ config, store, runtime, logger, authenticator, quotas }));
    app.use(GRAPHQL_PATH, ...graphql.middleware);
    app.use(dashboardRouter(deps.dashboardDir));
  }
  app.use((_req, res) => fail(res, 404, 'NOT_FOUND', 'no such route'));
  app.use(errorHandler(logger));

  let closing: Promise<void> | null = null;
  return {
    httpServer,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const { port } = httpServer.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `http://${host}:${port}`;
      return { url, graphqlUrl: `${url}${GRAPHQL_PATH}`, wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}` };
    },
    close() {
      return (closing ??= (async () => {
        detachMetrics();
        if (graphql) await graphql.stop(); // drains WebSockets, then HTTP
        else await closeHttp(httpServer);
      })());
    },
  };
}

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
    if (status >= 400 && status < 500 && err?.type) {
      return void res.status(status).json({ errors: [{ message: `bad request body: ${err.message}`, extensions: { code: 'BAD_REQUEST' } }] });
    }
    logger.error({ err, method: req.method, url: req.originalUrl }, 'unexpected error in an HTTP handler');
    res.status(500).json({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' } });
  };
}
