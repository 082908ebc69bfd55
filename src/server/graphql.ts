/**
 * GraphQL transports around one schema: Apollo Server for HTTP (POST/GET /graphql) and graphql-ws
 * on a ws WebSocketServer sharing the same http.Server and path. Both authenticate the same way
 * (HTTP: the Authorization header, before the body is read; WebSocket: the connection_init
 * payload, refused with 4403), apply the same depth, cost and introspection rules, build the same
 * Context and mask errors the same way (graphql/errors.ts).
 *
 * While the database is unreachable, answers say so and invite a retry (UNAVAILABLE): over HTTP a
 * 503 with Retry-After, whatever else the response holds; over WebSocket the operation's error
 * carries the code, and a connection that cannot be authenticated is closed with 1013 (Try Again
 * Later, which graphql-ws clients retry) and reason UNAVAILABLE.
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import { createSourceEventStream, execute, GraphQLError, Kind, NoSchemaIntrospectionCustomRule, getOperationAST, parse, specifiedRules, subscribe, validate, type ExecutionArgs, type ExecutionResult, type GraphQLSchema, type ValidationRule } from 'graphql';
import { CloseCode, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Metrics, WebSocketCounts } from './metrics.js';
import { requestLogger, type Logger } from './logger.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-log.js';
import type { Tracer } from '@opentelemetry/api';
import { tracedExecute, tracedOperations } from './tracing.js';
import { authRefusal, graphqlHttp } from './graphql-http.js';
import { batchSends } from './ws-batch.js';
import { makeSharedFeeds, type Wire } from './ws-shared.js';
import { SpindleError, type Principal } from '../domain/index.js';
import { makeContext, type Context, type GraphQLDeps } from '../graphql/context.js';
import { checkNesting, costError, depthLimitRule, limitError, makeCostCache, maxNestingFor } from '../graphql/cost.js';
import { formatGraphQLError, formatRequestError, noteRequestErrors } from '../graphql/errors.js';
import type { Authenticator } from '../services/index.js';
import { RETRY_AFTER_SECONDS } from '../services/failures.js';

export const GRAPHQL_PATH = '/graphql';
/** Most tokens in one GraphQL document: bounds parsing work and recursion whatever the body size. */
export const MAX_TOKENS = 50_000;
/** Largest WebSocket message: subscriptions are small; uploads go over HTTP. */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;
/** WebSocket close code "Try Again Later" (RFC 6455 registry): not fatal to graphql-ws clients. */
const WS_TRY_AGAIN_LATER = 1013;
/**
 * Subscription fields whose events are the same for every subscriber of one tenant and role with the
 * same document and variables (no initial state read per subscriber): their subscriptions share one
 * execution per event (ws-shared.ts).
 */
const SHARED_FIELDS = new Set(['taskEvents']);

export interface GraphQLTransports {
  /** Authenticates, then parses the body: an unauthenticated caller never makes us read 64 MiB. */
  middleware: RequestHandler[];
  /**
   * POST /graphql without Express for plain JSON requests (graphql-http.ts): true when it took the
   * request, false to hand it to Express. Null with traces on (their span comes from Express).
   */
  http: ((req: IncomingMessage, res: ServerResponse) => boolean) | null;
  /** Stops accepting operations, closes every WebSocket (1001) and drains HTTP. */
  stop(): Promise<void>;
  /** Connections past connection_init, and the subscriptions streaming on them (for /metrics). */
  webSockets(): WebSocketCounts;
}

/**
 * `tracer`: traces are on (server/tracing.ts): an HTTP request's span gets the operation's name and
 * type, and a query or mutation over a WebSocket a span of its own.
 */
export async function startGraphQL(schema: GraphQLSchema, deps: GraphQLDeps, httpServer: HttpServer, metrics: Pick<Metrics, 'graphql' | 'observeHttp'>, tracer?: Tracer): Promise<GraphQLTransports> {
  const { logger, config } = deps;
  const authenticator = deps.services.auth;
  const maxNesting = maxNestingFor(config.graphql.maxDepth);
  const costs = makeCostCache(config.graphql.maxCost, undefined, { bulkMax: config.bulkMax });
  const rules: ValidationRule[] = [depthLimitRule(config.graphql.maxDepth), ...(config.graphql.introspection ? [] : [NoSchemaIntrospectionCustomRule])];

  const wss = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: Math.min(config.maxRequestBytes, MAX_WS_MESSAGE_BYTES) });
  // A connection's request id (from its upgrade request) tags every line its operations cause.
  const upgradeIds = new WeakMap<object, string>();
  const socketIds = new WeakMap<object, { requestId: string }>();
  wss.on('headers', (headers, req) => {
    const requestId = requestIdOf(req);
    upgradeIds.set(req, requestId);
    headers.push(`${REQUEST_ID_HEADER}: ${requestId}`);
  });
  // Registered before useServer's own listener: every socket batches its sends from the start.
  wss.on('connection', (socket, req) => {
    socketIds.set(socket, { requestId: upgradeIds.get(req) ?? requestIdOf(req) });
    batchSends(socket, req.socket);
  });
  /** The logger of a connection: its lines carry the upgrade request's id. */
  const socketLoggers = new WeakMap<object, Logger>();
  const loggerOf = (ctx: WsContext<Record<string, unknown> | undefined, { socket: object }>): Logger => {
    const socket = ctx.extra.socket;
    let found = socketLoggers.get(socket);
    if (!found) {
      const scope = socketIds.get(socket);
      found = scope ? requestLogger(logger, scope.requestId) : logger;
      socketLoggers.set(socket, found);
    }
    return found;
  };
  const principals = new WeakMap<object, Principal>();
  const connections = new Set<WsContext>();
  /** `log` is asked for only when there are errors: most results have none. */
  const formatResult = (result: ExecutionResult, log: () => Logger) => {
    if (!result.errors) return undefined;
    const errorLogger = log();
    return { ...result, errors: result.errors.map((e) => formatGraphQLError(e, errorLogger)) };
  };
  // A shared feed serves many connections: its errors are the node's.
  const feeds = makeSharedFeeds({ source: createSourceEventStream, execute, format: (result) => formatResult(result, () => logger) ?? result });
  /** The shared subscriptions' contexts, with where their messages go and the feed they join. */
  const sharing = new WeakMap<object, Wire & { key: string }>();
  const ws = useServer(
    {
      schema,
      ...(tracer ? { execute: tracedExecute(tracer) } : {}),
      isProd: true, // close reasons never carry internal messages
      connectionInitWaitTimeout: config.graphql.wsInitTimeoutMs,
      onConnect: async (ctx) => {
        try {
          principals.set(ctx, await authenticator.authenticate(ctx.connectionParams ?? {}));
          connections.add(ctx);
          loggerOf(ctx).info({}, 'websocket connected');
          return true;
        } catch (err) {
          if (!(err instanceof SpindleError)) throw err;
          // The key could not be looked up: closed here first (graphql-ws's own 4403 then finds the socket closing).
          if (err.code !== 'UNAUTHENTICATED') ctx.extra.socket.close(WS_TRY_AGAIN_LATER, err.code);
          return false; // 4403 Forbidden, as the protocol recommends
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        // Counted before any await: a flood of subscribe messages is checked one by one, in order.
        const open = Object.keys(ctx.subscriptions).length;
        const max = config.graphql.maxSubscriptionsPerConnection;
        if (open > max) {
          return [limitError(`more than ${max} operations open on this connection (MAX_SUBSCRIPTIONS_PER_CONNECTION)`, { quota: 'MAX_SUBSCRIPTIONS_PER_CONNECTION', limit: String(max) })];
        }
        // Re-checked per operation (cached ≤ 5 s): a revoked key starts nothing new.
        try {
          principals.set(ctx, await authenticator.authenticate(ctx.connectionParams ?? {}));
        } catch (err) {
          if (!(err instanceof SpindleError)) throw err;
          // A key that could not be looked up keeps the connection: this operation failed to start, the client retries it.
          if (err.code === 'UNAUTHENTICATED') ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden');
          return [new GraphQLError(err.message, { originalError: err })];
        }
        return prepare(ctx, id, payload);
      },
      onClose: (ctx, code) => {
        if (!connections.delete(ctx)) return;
        loggerOf(ctx).info({ code }, 'websocket closed');
      },
      context: (ctx, id, payload, args) => {
        const caller = principals.get(ctx)!;
        const context = makeContext(deps, caller, { live: true, requestId: socketIds.get(ctx.extra.socket)?.requestId });
        if (isShared(args)) {
          // What decides the events and how they resolve: who (tenant, role), and the operation.
          const key = JSON.stringify([caller.tenantId, caller.role, caller.system, payload.query, payload.operationName ?? null, payload.variables ?? null]);
          sharing.set(context, { socket: ctx.extra.socket, raw: ctx.extra.request.socket, id, key });
        }
        return context;
      },
      subscribe: (args) => {
        const shared = sharing.get(args.contextValue as object);
        return shared ? feeds.join(shared.key, args, shared) : subscribe(args);
      },
      onNext: (ctx, _id, _payload, _args, result) => formatResult(result, () => loggerOf(ctx)),
      onError: (ctx, _id, _payload, errors) => errors.map((e) => formatGraphQLError(e, loggerOf(ctx))),
    },
    wss,
  );

  /** A subscription of one field, of SHARED_FIELDS. */
  function isShared(args: ExecutionArgs): boolean {
    const op = getOperationAST(args.document, args.operationName);
    const only = op?.operation === 'subscription' && op.selectionSet.selections.length === 1 ? op.selectionSet.selections[0] : undefined;
    return only?.kind === Kind.FIELD && SHARED_FIELDS.has(only.name.value);
  }

  /** Parse and validate as graphql-ws would, plus our rules and the cost limit. */
  function prepare(_ctx: WsContext, _id: string, payload: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null }): ExecutionArgs | GraphQLError[] {
    let document;
    try {
      checkNesting(payload.query, maxNesting, MAX_TOKENS);
      document = parse(payload.query, { maxTokens: MAX_TOKENS });
    } catch (err) {
      if (err instanceof GraphQLError) return [err];
      throw err;
    }
    const errors = validate(schema, document, [...specifiedRules, ...rules]);
    if (errors.length) return [...errors];
    try {
      const cost = costs.cost(schema, document, payload.query, payload.variables ?? undefined, payload.operationName);
      if (cost > config.graphql.maxCost) throw costError(config.graphql.maxCost, cost);
    } catch (err) {
      if (err instanceof GraphQLError) return [err];
      throw err;
    }
    return { schema, document, variableValues: payload.variables, operationName: payload.operationName };
  }

  const costPlugin: ApolloServerPlugin<Context> = {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, queryHash, schema: s }) {
          let cost: number;
          try {
            // queryHash: Apollo's sha256 of the document text, already computed for its document cache.
            cost = costs.cost(s, document, queryHash, request.variables, request.operationName);
          } catch (err) {
            // Too many selections to cost: refused like an operation past the limit, never run uncosted.
            if (err instanceof GraphQLError && err.extensions.code === 'LIMIT_EXCEEDED') {
              throw new GraphQLError(err.message, { extensions: { ...err.extensions, http: { status: 400 } } });
            }
            // Variables that do not coerce: execution reports them (400 BAD_USER_INPUT) before running anything.
            return;
          }
          // Thrown from a plugin, an error is a 500 unless it says otherwise.
          if (cost > config.graphql.maxCost) throw costError(config.graphql.maxCost, cost, { http: { status: 400 } });
        },
      };
    },
  };

  /**
   * The answer's status and headers, set last (willSendResponse). Every answer is its caller's own:
   * `cache-control: no-store` (what Apollo's cache-control plugin, disabled below, sent). A
   * response with any UNAVAILABLE error is a 503 with Retry-After, partial data or not: Apollo
   * merges the `extensions.http` of several errors in order, the last status winning, so a
   * per-error status could be overridden by another error's 400.
   */
  const answerHeaders: ApolloServerPlugin<Context> = {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (!response.http.headers.has('cache-control')) response.http.headers.set('cache-control', 'no-store');
          if (response.body.kind !== 'single') return;
          if (!response.body.singleResult.errors?.some((e) => e.extensions?.code === 'UNAVAILABLE')) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };

  /** Ties each error of a request to the request's logger, for formatError (see graphql/errors.ts). */
  const errorLines: ApolloServerPlugin<Context> = {
    async requestDidStart() {
      return {
        async didEncounterErrors({ contextValue, errors }) {
          if (contextValue.requestId !== undefined) noteRequestErrors(errors, requestLogger(logger, contextValue.requestId));
        },
      };
    },
  };

  const apollo = new ApolloServer<Context>({
    schema,
    formatError: formatRequestError(logger),
    includeStacktraceInErrorResponses: false,
    // Explicit, so NODE_ENV does not change the API (INTROSPECTION, default on: the schema is public).
    introspection: config.graphql.introspection,
    validationRules: [depthLimitRule(config.graphql.maxDepth)],
    parseOptions: { maxTokens: MAX_TOKENS },
    // main.ts owns the signals: Apollo's own handler would stop it early and re-raise the signal.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      // Apollo's default cache-control plugin (no @cacheControl hints here; answerHeaders says
      // no-store) listens to every resolved field, and any such listener makes Apollo wrap every
      // resolver of the schema, which the subscriptions' executions (same schema) then pay too:
      // 4 % of what the queue's throughput allocates per task (bench/e2e.ts, heap sampling).
      ApolloServerPluginCacheControlDisabled(),
      metrics.graphql,
      costPlugin,
      answerHeaders,
      errorLines,
      ...(tracer ? [tracedOperations] : []),
      // Apollo's stop() drains the WebSocket side first.
      { serverWillStart: async () => ({ drainServer: async () => ws.dispose() }) },
    ],
  });
  await apollo.start();

  return {
    http: tracer
      ? null
      : graphqlHttp({
          apollo,
          authenticator,
          context: async (principal, requestId) => makeContext(deps, principal, { requestId }),
          path: GRAPHQL_PATH,
          maxRequestBytes: config.maxRequestBytes,
          maxNesting,
          maxTokens: MAX_TOKENS,
          logger,
          observeHttp: metrics.observeHttp,
        }),
    middleware: [
      authenticate(authenticator),
      express.json({ limit: config.maxRequestBytes }),
      nestingGuard(maxNesting),
      expressMiddleware(apollo, { context: async ({ res }) => makeContext(deps, res.locals.principal as Principal, { requestId: res.locals.requestId as string | undefined }) }),
    ],
    stop: () => apollo.stop(),
    webSockets() {
      let subscriptions = 0;
      for (const ctx of connections) for (const sub of Object.values(ctx.subscriptions)) if (sub) subscriptions++;
      return { connections: connections.size, subscriptions };
    },
  };
}

/**
 * The nesting check (graphql/cost.ts checkNesting) before Apollo parses: Apollo treats any error
 * thrown by a plugin before parsing as unexpected (a 500), so it runs here, on the request's query.
 */
function nestingGuard(maxNesting: number): RequestHandler {
  return (req, res, next) => {
    const query = (req.method === 'GET' ? req.query?.query : (req.body as { query?: unknown } | undefined)?.query) as unknown;
    if (typeof query !== 'string') return next();
    try {
      checkNesting(query, maxNesting, MAX_TOKENS);
      next();
    } catch (err) {
      if (!(err instanceof GraphQLError)) return next(err);
      res.status(400).json({ errors: [{ message: err.message, extensions: err.extensions }] });
    }
  };
}

/**
 * Resolves the caller from `Authorization: Bearer spd_…` into res.locals.principal, or answers
 * 401 in GraphQL's error shape (503 with Retry-After when the key could not be looked up).
 */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req, res, next) => {
    try {
      res.locals.principal = await authenticator.authenticate(req.headers);
      next();
    } catch (err) {
      if (!(err instanceof SpindleError)) return next(err);
      const { status, headers, body } = authRefusal(err);
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.status(status).json(body);
      req.resume();
    }
  };
}
