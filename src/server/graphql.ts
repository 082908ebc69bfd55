/**
 * GraphQL transports around one schema: Apollo Server for HTTP (POST/GET /graphql) and graphql-ws
 * on a ws WebSocketServer sharing the same http.Server and path. Both build the same Context and
 * mask errors the same way (graphql/errors.ts).
 */
import type { Server as HttpServer } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { makeContext, type Context, type GraphQLDeps } from '../graphql/context.js';
import { formatError, formatGraphQLError } from '../graphql/errors.js';

export const GRAPHQL_PATH = '/graphql';

export interface GraphQLTransports {
  middleware: RequestHandler[];
  /** Stops accepting operations, closes every WebSocket (1001) and drains HTTP. */
  stop(): Promise<void>;
}

export async function startGraphQL(schema: GraphQLSchema, deps: GraphQLDeps, httpServer: HttpServer): Promise<GraphQLTransports> {
  const { logger, config } = deps;
  const wss = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: config.maxRequestBytes });
  const ws = useServer(
    {
      schema,
      // Subscriptions live long: their loaders batch but never cache (no stale rows).
      context: (ctx) => makeContext(deps, ctx.connectionParams ?? {}, { live: true }),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => formatGraphQLError(e, logger)) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatGraphQLError(e, logger)),
    },
    wss,
  );

  const apollo = new ApolloServer<Context>({
    schema,
    formatError: (formatted, error) => formatError(formatted, error, logger),
    includeStacktraceInErrorResponses: false,
    // Explicit, so NODE_ENV does not change the API: the schema is public (schema/schema.graphql).
    introspection: true,
    // main.ts owns the signals: Apollo's own handler would stop it early and re-raise the signal.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      // Apollo's stop() drains the WebSocket side first.
      { serverWillStart: async () => ({ drainServer: async () => ws.dispose() }) },
    ],
  });
  await apollo.start();

  return {
    middleware: [
      express.json({ limit: config.maxRequestBytes }),
      expressMiddleware(apollo, { context: async ({ req }) => makeContext(deps, req.headers) }),
    ],
    stop: () => apollo.stop(),
  };
}
