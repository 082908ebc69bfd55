/**
 * A real Spindle node for tests: the same composition as main.ts (server/compose.ts) on port 0,
 * over an isolated test store (PGlite in a temp dir, or a fresh PostgreSQL schema when
 * DATABASE_URL is set) and Redis when REDIS_URL is set. Talk to it over real HTTP and WebSocket.
 *
 *   const s = await startTestServer({ LEASE_MS: '1000' });
 *   const { data } = await s.gql('{ agents { name } }');
 *   const sub = s.subscribe('subscription ($id: ID!) { taskUpdated(id: $id) { status } }', { id });
 *   await sub.until((e) => e.taskUpdated.status === 'SUCCEEDED');
 *   await s.close();
 *
 * AUTH is off by default (loopback). With AUTH=on, `s.adminKey` is the system admin key created at
 * start-up and `s.as(key)` talks with a key (Authorization header / connectionParams).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/index.js';
import { startSpindle, type Spindle } from '../../src/server/compose.js';
import type { Logger } from '../../src/server/logger.js';
import { makeStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { makeTestStore, type TestStore } from './store.js';


export interface GqlResult<T = any> {
  data?: T;
  errors?: GraphQLFormattedError[];
}

export interface TestSubscription<T = any> {
  /** Every result received so far (data or errors). */
  results: GqlResult<T>[];
  /** The next result's data; rejects on a GraphQL error, on completion, or after timeoutMs. */
  next(timeoutMs?: number): Promise<T>;
  /** Collects data until `done(data)` is true; returns everything collected (the last included). */
  until(done: (data: T) => boolean, timeoutMs?: number): Promise<T[]>;
  /** Resolves when the server completes the subscription (or it errors). */
  ended: Promise<void>;
  close(): void;
}

/** A caller: GraphQL over HTTP and WebSocket with (or without) an API key. */
export interface TestClient {
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  /** Like gql, but throws when the answer has errors. */
  gqlOk<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  subscribe<T = any>(query: string, variables?: Record<string, unknown>): TestSubscription<T>;
  /** Closes this caller's WebSocket. */
  close(): Promise<void>;
}

export interface TestServer {
  /** The system admin key generated at start-up (AUTH=on, no SPINDLE_ADMIN_KEY), else null. */
  adminKey: string | null;
  /** A client that sends this API key (null: none). */
  as(key: string | null): TestClient;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  /** Where /metrics answers (its own port with METRICS_PORT). */
  metricsUrl: string;
  spindle: Spindle;
  /** The store options, to open the same data again (another node, a restart). */
  storeOptions: StoreOptions;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  /** Like gql, but throws when the answer has errors. */
  gqlOk<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  subscribe<T = any>(query: string, variables?: Record<string, unknown>): TestSubscription<T>;
  /** Graceful stop; removes the test data unless another node still owns it. */
  close(): Promise<void>;
  /**
   * Kills this node abruptly (no release, no result writes: leases simply expire) and starts a new
   * node, with a new NODE_ID, on the same data. The returned server owns the data from then on.
   */
  restartOnSameData(overrides?: Record<string, string>): Promise<TestServer>;
}

export interface TestServerOptions {
  /** Open this data (another node of a cluster) instead of a fresh test store. Not cleaned up. */
  storeOptions?: StoreOptions;
  /** Wraps the store the node uses (e.g. to count calls in a test). */
  wrapStore?: (store: Store) => Store;
  /** The node's logger (e.g. one writing into a buffer, to inspect what is logged). */
  logger?: Logger;
  /** Traces on, into this processor (compose.ts spanProcessor). */
  spanProcessor?: SpanProcessor;
}

const TEST_ENV: Record<string, string> = {
  PORT: '0',
  HOST: '127.0.0.1',
  WORKERS: '2',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  AUTH: 'off',
  SHUTDOWN_GRACE_MS: '2000',
};

export async function startTestServer(overrides: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  let testStore: TestStore | null = null;
  let store: Store;
  let storeOptions: StoreOptions;
  if (options.storeOptions) {
    storeOptions = options.storeOptions;
    store = await makeStore(storeOptions);
  } else {
    testStore = await makeTestStore();
    storeOptions = testStore.options;
    store = testStore.store;
  }
  return launch(overrides, store, storeOptions, options.wrapStore, testStore ? () => testStore!.cleanup() : null, options.logger, options.spanProcessor);
}

async function launch(
  overrides: Record<string, string>,
  store: Store,
  storeOptions: StoreOptions,
  wrapStore: TestServerOptions['wrapStore'],
  cleanup: (() => Promise<void>) | null,
  logger?: Logger,
  spanProcessor?: SpanProcessor,
): Promise<TestServer> {
  const env: Record<string, string | undefined> = {
    ...TEST_ENV,
    DATA_DIR: storeOptions.dataDir,
    DATABASE_URL: storeOptions.databaseUrl,
    REDIS_URL: process.env.REDIS_URL || undefined,
    // Test files run in parallel on one Redis: the nodes of one store (one cluster) share channels,
    // and hear no other file's events (their tenants share the default tenant's id).
    REDIS_PREFIX: `spindle-test-${createHash('sha256').update(storeOptions.pgSchema ?? storeOptions.dataDir).digest('hex').slice(0, 12)}:`,
    NODE_ID: `test-${randomBytes(3).toString('hex')}`,
    ...overrides,
  };
  const config = loadConfig(env);
  const spindle = await startSpindle(config, { store: wrapStore ? wrapStore(store) : store, ...(logger ? { logger } : {}), spanProcessor });
  const { url, graphqlUrl, wsUrl, metricsUrl } = spindle.urls;
  const clients = new Set<TestClient>();
  const client = (key: string | null): TestClient => {
    const c = makeClient(graphqlUrl, wsUrl, key);
    clients.add(c);
    return c;
  };
  const anonymous = client(null);

  let closed = false;
  const shutdownClients = async () => {
    await Promise.all([...clients].map((c) => c.close()));
  };

  const server: TestServer = {
    url,
    metricsUrl,
    graphqlUrl,
    wsUrl,
    spindle,
    storeOptions,
    adminKey: spindle.generatedAdminKey,
    as: client,
    gql: anonymous.gql,
    gqlOk: anonymous.gqlOk,
    subscribe: anonymous.subscribe,
    async close() {
      if (closed) return;
      closed = true;
      await shutdownClients();
      await spindle.stop();
      await cleanup?.();
    },
    async restartOnSameData(more: Record<string, string> = {}) {
      closed = true;
      await shutdownClients();
      await spindle.stop({ graceful: false });
      const next = await makeStore(storeOptions);
      return launch({ ...overrides, ...more, NODE_ID: `test-${randomBytes(3).toString('hex')}` }, next, storeOptions, wrapStore, cleanup, logger, spanProcessor);
    },
  };
  return server;
}

function makeClient(graphqlUrl: string, wsUrl: string, key: string | null): TestClient {
  let client: Client | null = null;
  const subscriptions = new Set<TestSubscription>();
  const ws = () =>
    (client ??= createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    }));
  const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>> => {
    const res = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    try {
      return JSON.parse(text) as GqlResult<T>;
    } catch {
      throw new Error(`HTTP ${res.status} from ${graphqlUrl}: ${text.slice(0, 500)}`);
    }
  };
  return {
    gql,
    async gqlOk<T>(query: string, variables?: Record<string, unknown>) {
      const r = await gql<T>(query, variables);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
      return r.data as T;
    },
    subscribe<T>(query: string, variables?: Record<string, unknown>) {
      const sub = makeSubscription<T>(ws(), query, variables);
      subscriptions.add(sub);
      return sub;
    },
    async close() {
      for (const s of subscriptions) s.close();
      subscriptions.clear();
      await client?.dispose();
      client = null;
    },
  };
}

function makeSubscription<T>(client: Client, query: string, variables?: Record<string, unknown>): TestSubscription<T> {
  const results: GqlResult<T>[] = [];
  let waiter: (() => void) | null = null;
  let finished: { error?: unknown } | null = null;
  let endResolve!: () => void;
  const ended = new Promise<void>((r) => (endResolve = r));
  let read = 0;
  const wake = () => {
    waiter?.();
    waiter = null;
  };
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (r) => {
        results.push(r as GqlResult<T>);
        wake();
      },
      error: (error) => {
        finished = { error };
        endResolve();
        wake();
      },
      complete: () => {
        finished ??= {};
        endResolve();
        wake();
      },
    },
  );

  const next = async (timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    while (read >= results.length) {
      if (finished) throw new Error(`subscription ended${finished.error ? `: ${JSON.stringify(finished.error)}` : ''} (${query.slice(0, 80)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no subscription result within ${timeoutMs} ms (${query.slice(0, 80)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const r = results[read++]!;
    if (r.errors?.length) throw Object.assign(new Error(`subscription error: ${JSON.stringify(r.errors)}`), { errors: r.errors });
    return r.data as T;
  };

  return {
    results,
    next,
    async until(done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const seen: T[] = [];
      for (;;) {
        const data = await next(Math.max(1, deadline - Date.now()));
        seen.push(data);
        if (done(data)) return seen;
      }
    },
    ended,
    close: () => dispose(),
  };
}

export const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/**
 * `startTestServer` for a file that starts several nodes: every one started is closed after the
 * file's tests, later nodes first (the first one owns the test data). Call at the file's top level.
 */
export function startedNodes(): (...args: Parameters<typeof startTestServer>) => Promise<TestServer> {
  const started: TestServer[] = [];
  afterAll(async () => {
    for (const s of started.reverse()) await s.close();
  });
  return async (...args) => {
    const s = await startTestServer(...args);
    started.push(s);
    return s;
  };
}
