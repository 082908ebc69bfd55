/**
 * The per-operation context: who is calling (the domain Principal: tenant, role), this request's
 * services (services/index.ts: its reads go a few at a time), the event bus for subscriptions and
 * per-request loaders. The transports authenticate first (HTTP: a middleware before Apollo;
 * WebSocket: graphql-ws onConnect) and hand the caller in.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FileEntry, Principal } from '../domain/index.js';
import type { Services } from '../services/index.js';
import type { AgentRow, AgentVersionRow, BusPubSub, TaskAttemptRow, TaskRow } from '../services/types.js';
import { makeLoader, type Loader } from './loader.js';

/** What the GraphQL layer needs from the rest of the node. */
export interface GraphQLDeps {
  /** The transports' limits (depth, cost, sizes) and switches. */
  config: Config;
  services: Services;
  pubsub: BusPubSub;
  logger: Logger;
}

export interface Loaders {
  agent: Loader<string, AgentRow | null>;
  version: Loader<string, AgentVersionRow | null>;
  task: Loader<string, TaskRow | null>;
  attempts: Loader<string, TaskAttemptRow[]>;
  files: Loader<string, FileEntry[]>;
}

export interface Context {
  caller: Principal;
  /** The transport's request id (HTTP request or WebSocket connection), for the lines the operation logs. */
  requestId?: string;
  services: Services;
  pubsub: BusPubSub;
  loaders: Loaders;
}

export function makeContext(deps: GraphQLDeps, caller: Principal, options: { live?: boolean; requestId?: string } = {}): Context {
  const services = deps.services.forRequest(options.requestId);
  return { caller, requestId: options.requestId, services, pubsub: deps.pubsub, loaders: makeLoaders(services, caller, options.live ? false : true) };
}

/** Batched reads of the request's services (which are made on first use: not here). */
function makeLoaders(services: Services, caller: Principal, cache: boolean): Loaders {
  return {
    agent: makeLoader((ids) => services.agents.byIds(caller, ids), { cache, missing: null }),
    version: makeLoader((ids) => services.agents.versionsByIds(caller, ids), { cache, missing: null }),
    task: makeLoader((ids) => services.tasks.getMany(caller, ids), { cache, missing: null }),
    attempts: makeLoader(async (ids) => new Map(await Promise.all(ids.map(async (id) => [id, await services.tasks.attempts(caller, id)] as [string, TaskAttemptRow[]]))), {
      cache,
      missing: [],
    }),
    files: makeLoader(async (digests) => new Map(await Promise.all(digests.map(async (d) => [d, await services.tasks.files(d)] as [string, FileEntry[]]))), { cache, missing: [] }),
  };
}
