/**
 * GraphQL transports around one schema: Apollo Server for HTTP (POST/GET /graphql) and graphql-ws
 * on a ws WebSocketServer sharing the same http.Server and path. Both authenticate the same way
 * (HTTP: the Authorization header, before the body is read; WebSocket: the connection_init
 * payload, refused with 4403), apply the same depth, cost and introspection rules, build the same
 * Context and mask errors the same way (graphql/errors.ts).
 */
import type { Server as HttpServer } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import { GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type ExecutionArgs, type GraphQLSchema, type ValidationRule } from 'graphql';
import { CloseCode, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { batchSends } from './ws-batch.js';
import { SpindleError } from '../domain/index.js';
import type { Principal } from '../graphql/auth.js';
import { makeContext, type Context, type GraphQLDeps } from '../graphql/context.js';
import { checkNesting, costError, depthLimitRule, limitError, makeCostCache, maxNestingFor } from '../graphql/cost.js';
import { formatError, formatGraphQLError } from '../graphql/errors.js';

export const GRAPHQL_PATH = '/graphql';
/** Most tokens in one GraphQL document: bounds parsing work and recursion whatever the body size. */
export const MAX_TOKENS = 50_000;
/** Largest WebSocket message: subscriptions are small; uploads go over HTTP. */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

export interface GraphQLTransports {
  /** Authenticates, then parses the body: an unauthenticated caller never makes us read 64 MiB. */
  middleware: RequestHandler[];
  /** Stops accepting operations, closes every WebSocket (1001) and drains HTTP. */
  stop(): Promise<void>;
}

export async function startGraphQL(schema: GraphQLSchema, deps: GraphQLDeps, httpServer: HttpServer): Promise<GraphQLTransports> {
  const { logger, config } = deps;
  const authenticator = deps.authenticator!;
  const maxNesting = maxNestingFor(config.graphql.maxDepth);
  const costs = makeCostCache(config.graphql.maxCost);
  const rules: ValidationRule[] = [depthLimitRule(config.graphql.maxDepth), ...(config.graphql.introspection ? [] : [NoSchemaIntrospectionCustomRule])];

  const wss = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: Math.min(config.maxRequestBytes, MAX_WS_MESSAGE_BYTES) });
  // Registered before useServer's own listener: every socket batches its sends from the start.
  wss.on('connection', (socket, req) => batchSends(socket, req.socket));
  const principals = new WeakMap<object, Principal>();
  const ws = useServer(
    {
      schema,
      isProd: true, // close reasons never carry internal messages
      connectionInitWaitTimeout: config.graphql.wsInitTimeoutMs,
      onConnect: async (ctx) => {
        try {
          principals.set(ctx, await authenticator.authenticate(ctx.connectionParams ?? {}));
          return true;
        } catch (err) {
          if (err instanceof SpindleError) return false; // 4403 Forbidden, as the protocol recommends
          throw err;
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
          ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden');
          return [new GraphQLError(err.message, { extensions: { code: err.code } })];
        }
        return prepare(ctx, id, payload);
      },
      context: (ctx) => makeContext(deps, principals.get(ctx)!, { live: true }),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => formatGraphQLError(e, logger)) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatGraphQLError(e, logger)),
    },
    wss,
  );

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
          } catch {
            // Variables that do not coerce: execution reports them (400 BAD_USER_INPUT) before running anything.
            return;
          }
          // Thrown from a plugin, an error is a 500 unless it says otherwise.
          if (cost > config.graphql.maxCost) throw costError(config.graphql.maxCost, cost, { http: { status: 400 } });
        },
      };
    },
  };

  const apollo = new ApolloServer<Context>({
    schema,
    formatError: (formatted, error) => formatError(formatted, error, logger),
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
      costPlugin,
      // Apollo's stop() drains the WebSocket side first.
      { serverWillStart: async () => ({ drainServer: async () => ws.dispose() }) },
    ],
  });
  await apollo.start();

  return {
    middleware: [
      authenticate(deps),
      express.json({ limit: config.maxRequestBytes }),
      nestingGuard(maxNesting),
      expressMiddleware(apollo, { context: async ({ res }) => makeContext(deps, res.locals.principal as Principal) }),
    ],
    stop: () => apollo.stop(),
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
 * 401 in GraphQL's error shape. Shared by /graphql and POST /modules.
 */
export function authenticate(deps: Pick<GraphQLDeps, 'authenticator'>): RequestHandler {
  return async (req, res, next) => {
    try {
      res.locals.principal = await deps.authenticator!.authenticate(req.headers);
      next();
    } catch (err) {
      if (!(err instanceof SpindleError)) return next(err);
      res.setHeader('WWW-Authenticate', 'Bearer realm="spindle"');
      // Answer without reading a body we will not use.
      res.setHeader('Connection', 'close');
      res.status(401).json({ errors: [{ message: err.message, extensions: { code: err.code } }] });
      req.resume();
    }
  };
}
