/**
 * The per-operation context: who is calling (the Principal from auth.ts: tenant, role), the
 * services, and per-request loaders. The transports authenticate first (HTTP: a middleware before
 * Apollo; WebSocket: graphql-ws onConnect) and hand the principal in; every resolver scopes its
 * reads and writes to `tenantId`.
 */
import type { PubSub } from '@graphql-yoga/subscription';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FileEntry } from '../domain/index.js';
import { decodeFiles } from '../executor/files.js';
import type { Executor, Topics } from '../executor/types.js';
import type { Runtime } from '../runtime/types.js';
import { type AgentRow, type AgentVersionRow, type Store, type TaskAttemptRow, type TaskRow } from '../store/types.js';
import type { AgentCache } from './agent.cache.js';
import type { Authenticator, Principal } from './auth.js';
import { makeLoader, type Loader } from './loader.js';
import type { Quotas } from './quota.js';
import type { StatsService } from './stats.service.js';

/** What the GraphQL layer needs from the rest of the service. */
export interface GraphQLDeps {
  config: Config;
  store: Store;
  runtime: Runtime;
  executor: Executor;
  pubsub: PubSub<Topics>;
  stats: StatsService;
  logger: Logger;
  /** Absent when the schema runs without a server (tests of the schema alone): every caller is anonymous. */
  authenticator?: Authenticator;
  /** Per-tenant quotas; absent = unlimited (the schema alone). */
  quotas?: Quotas;
  /** Agent lookups on the submit path (graphql/agent.cache.ts); absent = straight to the store. */
  agentCache?: AgentCache;
  /** Counts accepted submissions (metrics); optional so the schema works without a server. */
  onSubmitted?: (created: number) => void;
}


export interface Loaders {
  agent: Loader<string, AgentRow | null>;
  version: Loader<string, AgentVersionRow | null>;
  task: Loader<string, TaskRow | null>;
  attempts: Loader<string, TaskAttemptRow[]>;
  files: Loader<string, FileEntry[]>;
}

export interface Context {
  tenantId: string;
  principal: Principal;
  deps: GraphQLDeps;
  loaders: Loaders;
}

export function makeContext(deps: GraphQLDeps, principal: Principal, options: { live?: boolean } = {}): Context {
  const { tenantId } = principal;
  return { tenantId, principal, deps, loaders: makeLoaders(deps.store, tenantId, options.live ? false : true) };
}

const byKey = <K, V>(entries: [K, V][]) => new Map(entries);

function makeLoaders(store: Store, tenantId: string, cache: boolean): Loaders {
  return {
    agent: makeLoader(
      async (ids) => {
        // A page of tasks names few agents; with more than one, one list() beats a get() per agent.
        const listed = ids.length > 1 ? await store.agents.list(tenantId) : [];
        const found = new Map(listed.filter((a) => ids.includes(a.id)).map((a) => [a.id, a] as [string, AgentRow]));
        const rest = ids.filter((id) => !found.has(id));
        for (const a of await Promise.all(rest.map((id) => store.agents.get(tenantId, id)))) if (a) found.set(a.id, a);
        return found;
      },
      { cache, missing: null },
    ),
    version: makeLoader(
      async (ids) => byKey((await Promise.all(ids.map((id) => store.agents.getVersion(id)))).filter((v) => v !== null && v.tenantId === tenantId).map((v) => [v!.id, v!])),
      { cache, missing: null },
    ),
    task: makeLoader(
      async (ids) => byKey((await store.tasks.getMany(ids)).filter((t) => t.tenantId === tenantId).map((t) => [t.id, t])),
      { cache, missing: null },
    ),
    attempts: makeLoader(async (ids) => byKey(await Promise.all(ids.map(async (id) => [id, await store.tasks.attempts(id)] as [string, TaskAttemptRow[]]))), {
      cache,
      missing: [],
    }),
    files: makeLoader(
      async (digests) =>
        byKey(
          await Promise.all(
            digests.map(async (d) => {
              const bundle = await store.blobs.get(d);
              return [d, bundle ? decodeFiles(bundle) : []] as [string, FileEntry[]];
            }),
          ),
        ),
      { cache, missing: [] },
    ),
  };
}
